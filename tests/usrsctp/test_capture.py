"""What we put on the wire, as tshark reads it: every datagram SCTP over UDP, none malformed.

tshark captures on the loopback interface while our host talks to usrsctp's echo_server:
handshake, messages on several streams, one fragmented over several packets, a graceful
shutdown. Wireshark knows SCTP over UDP only on port 9899, so ``-d udp.port==P,sctp`` names
our port. The PPIDs are ones no Wireshark dissector claims: a claimed one (M2AP is 43) would
have tshark parse our test bytes as that protocol and call them malformed.

Every datagram from our UDP port must decode as SCTP with at least one chunk, a good CRC32c
(``-o sctp.checksum:CRC-32C`` makes tshark check it) and go to 127.0.0.1: usrsctp announces
every address of the machine, and we may send to none of the others.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import trio

from rserpool.transport import ShutdownComplete
from rserpool.transport.userland import UserlandHost
from tests.transport.helpers import messages, wait_for
from tests.usrsctp.conftest import ECHO_PORT, Usrsctp
from tests.usrsctp.programs import LOCALHOST

#: SCTP chunk types (RFC 9260 §3.2) we expect to see from us in this exchange.
INIT, COOKIE_ECHO, DATA, SACK, SHUTDOWN, SHUTDOWN_COMPLETE = 1, 10, 0, 3, 7, 14


class LiveCapture:
    """tshark writing the loopback traffic of one UDP port to a file.

    dumpcap hands packets over in batches (up to a second late), so :meth:`stop` first sends
    a sentinel datagram between two sockets of the test's own, on a second captured port, and
    stops tshark once tshark has printed that one: everything before it is in the file."""

    def __init__(self, path: Path, udp_port: int) -> None:
        self.path = path
        self.udp_port = udp_port
        self.sentinel = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sentinel.bind((LOCALHOST, 0))
        self.stderr = b""
        self.stdout = b""
        self._changed = trio.Event()

    async def start(self, nursery: trio.Nursery) -> None:
        """Start tshark and wait until dumpcap says "Capture started" ("Capturing on" is
        printed before it is ready)."""
        port = self.sentinel.getsockname()[1]
        self.process = await trio.lowlevel.open_process(
            ["tshark", "-i", "lo", "-f", f"udp port {self.udp_port} or udp port {port}",
             "-w", str(self.path), "-P", "-l", "-T", "fields", "-e", "udp.srcport"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        nursery.start_soon(self._read, "stdout")
        nursery.start_soon(self._read, "stderr")
        with trio.fail_after(20):
            while b"Capture started" not in self.stderr:
                await self._changed.wait()

    async def _read(self, name: str) -> None:
        stream = getattr(self.process, name)
        async for chunk in stream:
            setattr(self, name, getattr(self, name) + chunk)
            self._changed.set()
            self._changed = trio.Event()

    async def stop(self) -> None:
        port = str(self.sentinel.getsockname()[1]).encode()
        with trio.fail_after(20):
            while port not in self.stdout.split():
                self.sentinel.sendto(b"sentinel", self.sentinel.getsockname())
                with trio.move_on_after(0.5):
                    await self._changed.wait()
            self.process.send_signal(signal.SIGINT)
            await self.process.wait()
        self.sentinel.close()
        assert self.process.returncode == 0, self.stderr.decode(errors="replace")


def frames(path: Path, udp_port: int) -> list[list[str]]:
    """One row per frame: number, source port, destination IP, chunk types, CRC status."""
    fields = ["frame.number", "udp.srcport", "ip.dst", "ipv6.dst", "sctp.chunk_type",
              "sctp.checksum.status"]  # fmt: skip
    out = subprocess.run(
        ["tshark", "-r", str(path), "-d", f"udp.port=={udp_port},sctp",
         "-o", "sctp.checksum:CRC-32C", "-T", "fields", *(f for x in fields for f in ("-e", x))],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return [line.split("\t") for line in out.splitlines()]


def malformed(path: Path, udp_port: int) -> list[str]:
    out = subprocess.run(
        ["tshark", "-r", str(path), "-d", f"udp.port=={udp_port},sctp", "-Y", "_ws.malformed"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return out.splitlines()


async def test_tshark_decodes_all_we_send_as_sctp_over_udp(
    usrsctp: Usrsctp,
    ours: Callable[..., UserlandHost],
    nursery: trio.Nursery,
    artifacts: Path,
) -> None:
    server, their_udp_port = await usrsctp.server("echo_server")
    host = ours(their_udp_port)
    path = artifacts / "usrsctp-echo.pcapng"
    capture = LiveCapture(path, host.udp_port)
    await capture.start(nursery)
    with trio.fail_after(10):
        assoc = await host.sctp_connect([(LOCALHOST, ECHO_PORT)])
        sent = [(b"rserpool" * (1 + s), 4200 + s, s) for s in range(4)]
        sent.append((bytes(range(256)) * 30, 4242, 2))  # 7680 bytes: seven DATA chunks
        for data, ppid, stream in sent:
            await assoc.send(data, ppid, stream)
        got = await messages(assoc.receive, len(sent))
        assert [(m.data, m.ppid, m.stream) for m in got] == sent
        await assoc.shutdown()
        await wait_for(assoc.receive, ShutdownComplete)
    await capture.stop()

    rows = await trio.to_thread.run_sync(frames, path, host.udp_port)
    ours_sent = [r for r in rows if r[1] == str(host.udp_port)]
    assert len(ours_sent) >= 8, rows  # INIT, COOKIE ECHO, DATA..., SHUTDOWN, ...
    for number, _, ip4, ip6, chunks, crc in ours_sent:
        assert (ip4 or ip6) == LOCALHOST, f"frame {number} went to {ip4 or ip6}"
        assert chunks, f"frame {number}: no SCTP chunk decoded"
        assert crc == "1", f"frame {number}: CRC32c status {crc!r} (1 is good)"
    types = {int(t) for r in ours_sent for t in r[4].split(",")}
    assert {INIT, COOKIE_ECHO, DATA, SACK, SHUTDOWN, SHUTDOWN_COMPLETE} <= types, types
    assert await trio.to_thread.run_sync(malformed, path, host.udp_port) == []
    await server.wait_for(r"PPID 4242")
