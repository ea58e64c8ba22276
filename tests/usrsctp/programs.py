"""Running usrsctp's example programs beside our stack, on this machine's loopback.

usrsctp is the FreeBSD SCTP stack compiled as a userland library; Debian's
``libusrsctp-examples`` ships its demo programs in ``/usr/lib/usrsctp``. Each program opens
its own UDP socket for SCTP over UDP (RFC 6951), so it needs no kernel SCTP and no guest.
What the tests use of them (from their ``main()``; the numbers are argv positions):

==================  =============================================================  ===========
program             arguments                                                      SCTP port
==================  =============================================================  ===========
``echo_server``     1 local UDP port, 2 remote UDP port (optional)                 7
``discard_server``  1 local UDP port, 2 remote UDP port (optional)                 9
``client``          1 address, 2 port, 3 local port, 4 local UDP, 5 remote UDP     (argument)
``tsctp``           ``-E`` local UDP, ``-U`` remote UDP, ``-p`` port, ``-l`` size,  5001
                    ``-n`` count, ``-D`` Nagle off, ``-T`` seconds; an address
                    makes it the sender, none the receiver
==================  =============================================================  ===========

The servers learn a peer's UDP port from its INIT, so they need no remote UDP port; ``client``
and a sending ``tsctp`` do. What they print:

* ``echo_server`` / ``discard_server``: ``Msg of length N received from ::ffff:A:P on stream
  S with SSN .. and TSN .., PPID X, context 47, complete C.`` for each read of at most 10240
  bytes (a 64 KiB message arrives as several reads, ``complete 1`` on the last), and
  ``Notification of length N received.`` for each notification. echo_server sends back each
  read that ends a message, so it echoes whole messages only up to 10240 bytes.
  discard_server (like tsctp) also turns on usrsctp's debug output, lines starting ``[S]``.
* ``client``: notifications as ``Association change SCTP_COMM_UP, streams (in/out) = ...``,
  ``Shutdown event.``, ``Association change SCTP_SHUTDOWN_COMP`` or ``SCTP_COMM_LOST ...``;
  then every message it receives, raw; it sends each line of its stdin as one message (stream
  0, PPID 0) and shuts the association down at end of input.
* ``tsctp`` receiving: ``Connection accepted from A:P`` (with ``-v``), then at the end of the
  association one line ``length, messages, reads, bytes, seconds, bytes/s, notifications``.
  Sending: ``Sending of N messages of length L took S seconds.``

Nothing prints when a server is ready, so :meth:`Program.wait_listening` looks in ``/proc``:
the UDP socket bound to its port, and its main thread asleep in the kernel (a futex: it
waits in ``usrsctp_recvv`` or ``usrsctp_accept``, after ``listen``).

usrsctp announces every address of the machine in its INIT and INIT ACK; the tests talk to it
on 127.0.0.1 (or ::1) only, and check (with tshark) that we send to nothing else.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import trio

from interop.preflight import usrsctp_program

LOCALHOST = "127.0.0.1"
#: How long to wait for a line or for a server to listen before failing with its output;
#: a test's own ``trio.fail_after`` may cut that shorter.
PATIENCE = 10.0


class ProgramError(AssertionError):
    """A usrsctp program did not print or do what the test waited for."""


def free_udp_port() -> int:
    """A UDP port free on both 0.0.0.0 and [::] (usrsctp binds both) at the time of asking."""
    for _ in range(20):
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            probe.bind(("::", 0))
            port: int = probe.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as v4:
                v4.bind(("0.0.0.0", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                continue
            raise
        return port
    raise OSError("no free UDP port found")


def _udp_inodes(port: int) -> set[str]:
    """Socket inodes bound to UDP ``port`` (IPv4 or IPv6), from /proc/net/udp{,6}."""
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[len("socket:[") : -1])
    return found


def is_listening(pid: int, udp_port: int) -> bool:
    """Whether usrsctp program ``pid`` holds a socket bound to ``udp_port`` and its main
    thread sleeps on a futex (in usrsctp_recvv or usrsctp_accept, so after listen)."""
    try:
        bound = _udp_inodes(udp_port) & _socket_inodes(pid)
        return bool(bound) and "futex" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:  # it exited
        return False


class Program:
    """One running usrsctp program: its output collected line by line as it comes (so the
    pipe never fills), waited on by pattern, and killed by :meth:`stop`."""

    def __init__(self, process: trio.Process, argv: Sequence[str]) -> None:
        self.process = process
        self.argv = list(argv)
        self.lines: list[str] = []
        self._changed = trio.Event()
        self._ended = False

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        pending = b""
        try:
            while chunk := await self.process.stdout.receive_some(65536):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                if complete:
                    self.lines.extend(x.decode(errors="replace") for x in complete)
                    self._wake()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        if pending:
            self.lines.append(pending.decode(errors="replace"))
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def matches(self, pattern: str) -> list[re.Match[str]]:
        """Every output line matching ``pattern`` (a regular expression, searched)."""
        compiled = re.compile(pattern)
        return [m for line in self.lines if (m := compiled.search(line))]

    async def wait_for(self, pattern: str, count: int = 1) -> list[str]:
        """Wait until ``count`` output lines match ``pattern``; returns the matching lines."""
        compiled = re.compile(pattern)
        with trio.move_on_after(PATIENCE):
            while True:
                found = [line for line in self.lines if compiled.search(line)]
                if len(found) >= count:
                    return found
                if self._ended:
                    break
                await self._changed.wait()
        raise ProgramError(
            f"{self.argv[0]}: {count} line(s) matching {pattern!r} not seen"
            f"{' (it exited)' if self._ended else f' within {PATIENCE} s'}; "
            f"its output ends with:\n{self.tail()}"
        )

    def tail(self, lines: int = 15) -> str:
        useful = [line for line in self.lines if not line.startswith("[S]")]
        return "\n".join(useful[-lines:])

    async def wait_listening(self, udp_port: int) -> None:
        """Wait until the program is bound to ``udp_port`` and blocked after listen()."""
        pid = self.process.pid
        with trio.move_on_after(PATIENCE):
            while self.process.poll() is None:
                if is_listening(pid, udp_port):
                    return
                await trio.sleep(0.005)  # polling /proc, not waiting for time to pass
        raise ProgramError(
            f"{self.argv[0]} is not listening on UDP port {udp_port} "
            f"(exit status {self.process.poll()}); output:\n{self.tail()}"
        )

    async def close_stdin(self) -> None:
        if self.process.stdin is not None:
            await self.process.stdin.aclose()

    async def send_line(self, text: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(text.encode() + b"\n")

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with trio.CancelScope(shield=True):
            await self.process.wait()


async def start(nursery: trio.Nursery, name: str, *args: str | int) -> Program:
    """Start usrsctp's ``name`` with ``args``, stdout line-buffered (``stdbuf -oL``: the
    programs print with printf to a pipe) and stderr merged into it."""
    path = usrsctp_program(name)
    if path is None:
        raise ProgramError(f"{name}: usrsctp's programs are missing (install libusrsctp-examples)")
    argv = ["stdbuf", "-oL", str(path), *map(str, args)]
    process = await trio.lowlevel.open_process(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    program = Program(process, [name, *map(str, args)])
    nursery.start_soon(program._read)
    return program
