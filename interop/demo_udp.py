"""``make demo`` without kernel SCTP: the same demo over SCTP over UDP on this machine's loopback.

    python -m interop.demo --udp      # what `make demo` runs where the kernel lacks SCTP

The roles run on the project's own SCTP over UDP (RFC 6951, ``--transport udp``): no kernel
module, no root, no guest. With ``udp`` and no address given, the whole system stays on
loopback, each 127.0.0.x an address of its own (``rserpool/cli/transport.py``): the registrar
on 127.0.0.1, each pool element on the first free 127.0.0.2, .3, ... and the pool user on
127.0.0.1 with any UDP port; everyone else is on UDP port 9899. So the demo starts exactly
what a person would type, with nothing but ``--transport udp``:

    rserpool registrar --transport udp
    rserpool server --echo --transport udp --identifier 0x2001     (and 0x2002, 0x2003)
    rserpool terminal --transport udp

tshark captures on ``lo`` (UDP port 9899: every SCTP packet of the system is in one such
datagram) when it may: capturing needs root or dumpcap's capabilities. Then it explains the
trace and draws it as a sequence diagram next to the capture (``build/demo/demo.svg``, and
``demo.mmd`` in Mermaid). Without it the demo says so in one line and leaves both out.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from interop.capture import SCTP_UDP_FILTER, Capture, CaptureError
from interop.demo import OUT, PE_IDS, Terminal, say, show_trace, step
from interop.guest import REPO
from interop.processes import Process, ProcessError, rserpool
from interop.topology import Host
from rserpool.wire.text import ident

START = 30.0  # s: a program prints its first lines within a second or two here
LINES = 4  # lines the pool user sends before the kill, and after it


class ThisMachine(Host):
    """The machine the demo runs on, as an :class:`interop.topology.Host` without a network
    namespace: its programs run as they are, no ``ip netns exec`` (and no root)."""

    def __init__(self) -> None:
        super().__init__(name="local", netns="")

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return list(argv)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def tell(text: str) -> None:
    """A paragraph of explanation, wrapped."""
    say(textwrap.fill(text, width=100))


# Every packet of the demo has 127.0.0.1 at one end (the registrar's and the pool user's
# address); other SCTP over UDP on this loopback (another test, another system) stays out.
CAPTURE_FILTER = f"{SCTP_UDP_FILTER} and host 127.0.0.1"


def start_capture(machine: ThisMachine, path: Path) -> Capture | None:
    """tshark on ``lo`` if it can capture here; None (and one line saying why) if not."""
    if shutil.which("tshark") is None:
        say("(no capture: tshark is not installed; the trace and the sequence diagram are left "
            "out)")  # fmt: skip
        return None
    capture = Capture(machine, path, CAPTURE_FILTER, interface="lo")
    try:
        return capture.start(timeout=START)
    except ProcessError:
        said = [line[8:].strip() for line in capture.process.output().splitlines()
                if line.startswith("tshark: ") and line[8:].strip()]  # fmt: skip
        why = next((line for line in said if "permission" in line), said[-1] if said else "")
        say(f"(no capture: tshark cannot capture on lo: {why.rstrip('.')}. Capturing needs root "
            "or dumpcap's capabilities; the trace and the sequence diagram are left "
            "out.)")  # fmt: skip
        return None


def run_udp_demo() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    # Every program the demo starts runs this tree's rserpool, wherever it is installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    machine = ThisMachine()
    try:
        return _play(machine)
    finally:
        machine.stop_all()


def _play(machine: ThisMachine) -> int:
    udp = "--transport=udp"
    step("1. One machine, its loopback the network: the registrar on 127.0.0.1, each pool element"
         "\n   on its own 127.0.0.x, all on UDP port 9899 (SCTP over UDP, RFC 6951)")  # fmt: skip
    capture = start_capture(machine, OUT / "demo.pcapng")
    if capture is not None:
        say(f"tshark captures on lo: {CAPTURE_FILTER}")
    registrar = rserpool(machine, OUT, "registrar", "registrar", udp, "--identifier=0x101")
    registrar.wait_for(r"Registrar \$[0-9a-f]{8} running", timeout=START)
    say("$ rserpool registrar --transport udp --identifier 0x101")
    say("registrar $00000101 is listening for ASAP at 127.0.0.1:3863 (UDP port 9899)")

    step("2. Three echo servers register in EchoPool (rserpool server --echo --transport udp)")
    say("$ rserpool server --echo --transport udp --identifier 0x2001   (and 0x2002, 0x2003)")
    servers: dict[int, Process] = {}
    for pe_id in PE_IDS:
        argv = ["server", "--echo", "--pool-handle=EchoPool", udp, f"--identifier={pe_id:#x}"]
        servers[pe_id] = rserpool(machine, OUT, f"pe-{pe_id:x}", *argv)
    names: dict[tuple[str, int], str] = {("127.0.0.1", 3863): "registrar"}
    for pe_id, server in servers.items():
        server.wait_for(r"Registration: PE .* accepted", timeout=START)
        match = server.wait_for(r"user transport .* (?P<addr>[0-9.]+):(?P<port>\d+)", 1)
        names[(match["addr"], int(match["port"]))] = f"PE {ident(pe_id)}"
        say(f"PE {ident(pe_id)} registered; pool users reach it at {match['addr']}, "
            f"SCTP port {match['port']}, UDP port 9899")  # fmt: skip

    step("3. A pool user (rserpool terminal --transport udp) sends a line every half second")
    terminal = Terminal(rserpool(machine, OUT, "terminal", "terminal", "--pool-handle=EchoPool",
                                 udp, stdin=True))  # fmt: skip
    terminal.process.wait_for("Pool Handle", timeout=START)
    serving = terminal.exchange(1, LINES, START)

    step(f"4. PE {ident(serving)} is killed (SIGKILL): no kernel SCTP aborts its associations,"
         "\n   its UDP port is simply closed")  # fmt: skip
    servers[serving].kill()
    killed_at = time.monotonic()
    terminal.process.send_line(f"hello #{LINES + 1}")
    terminal.process.wait_for(r"FAILOVER complete", timeout=START)
    failover = time.monotonic() - killed_at
    terminal.exchange(LINES + 2, 2 * LINES, START)
    tell(f"The session went on at another PE of the pool {failover:.1f} s after the kill: that is "
        f"RSerPool's failover. hello #{LINES + 1} went to the dead PE: the ICMP port unreachable "
        "that answered it told the pool user's SCTP over UDP that nobody is there any more "
        "(RFC 6951 §5.5), which ended the association and started the failover. The terminal "
        "does not send a line again (an application that must lose nothing resends what the "
        "failed PE never answered, as `rserpool pingpong` does).")  # fmt: skip
    removed = registrar.wait_for(rf"PE \${serving:08x} .*removed: [^\n]*", timeout=START)
    say(f"  registrar| {removed.group()}")
    say("(it finds out when it next sends that PE something: an Endpoint Keep Alive, every 5 s)")

    terminal.end(START)
    for server in servers.values():
        server.stop()
    registrar.stop()
    if capture is None:
        say(f"\nlogs in {OUT} (no capture, so no sequence diagram)")
        return 0
    try:
        decoded = capture.stop(settle=0.5)  # tshark's reading, checked against ours
    except CaptureError as exc:
        say(f"\nthe capture could not be read: {exc}")
        return 1

    show_trace(capture, decoded.malformed, names)
    return 0 if decoded.malformed == 0 else 1
