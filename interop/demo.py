"""``make demo``: a registrar, three echo pool elements and a pool user; one PE dies; watch the
failover; then read the messages they exchanged, decoded and explained.

    python -m interop.demo            # kernel SCTP if this kernel has it, else SCTP over UDP
    python -m interop.demo --udp      # SCTP over UDP on loopback: no root, no guest (demo_udp)
    python -m interop.demo --kernel   # kernel SCTP: natively if this machine has it and we are
                                      # root, otherwise inside the test guest (one QEMU boot)
    python -m interop.demo --inside   # the kernel demo itself (needs root and kernel SCTP)

Everything is ours: ``rserpool registrar``, ``rserpool server --echo`` (×3) and
``rserpool terminal``. Over kernel SCTP, two network namespaces joined by a veth link: ``pr``
runs the registrar, ``cl`` the pool elements and the pool user; tshark captures in ``cl``.
Over UDP, :mod:`interop.demo_udp`: every role on this machine's loopback.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
import time
from pathlib import Path

from interop.capabilities import Capabilities
from interop.capture import Capture
from interop.guest import REPO, Guest, GuestConfig
from interop.processes import Process, rserpool
from interop.topology import Topology
from rserpool.capture import DecodedCapture, Record
from rserpool.presentation.sequence import sequence_diagram
from rserpool.presentation.sequence_mermaid import render_mermaid
from rserpool.presentation.sequence_svg import render_svg
from rserpool.wire import (
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    HandleResolution,
    Registration,
    ServerAnnounce,
)
from rserpool.wire.explain import explain
from rserpool.wire.text import ident

OUT = Path(os.environ.get("RSERPOOL_DEMO_OUT", REPO / "build" / "demo"))
PE_IDS = (0x2001, 0x2002, 0x2003)
SLOW = 180.0  # s: Python starts slowly under QEMU TCG


def say(text: str = "") -> None:
    print(text, flush=True)


def step(title: str) -> None:
    say()
    say(f"== {title}")


# ------------------------------------------------------------------------------- the trace


def trace_lines(
    records: list[Record], names: dict[tuple[str, int], str]
) -> tuple[list[str], dict[str, int]]:
    """Explained lines for the messages :func:`rserpool.capture.read_capture` found (the
    sentences are :func:`rserpool.wire.explain.explain`'s, as ``rserpool decode`` prints them);
    announces, ENRP Presences and Keep Alives (per PE) are only counted after the first."""
    lines: list[str] = []
    counted: dict[str, int] = {}
    seen: set[tuple[tuple[str, int], tuple[str, int], bytes]] = set()
    asked: dict[tuple[str, int], int] = {}
    registered: set[int] = set()
    for m in records:
        key = (m.src, m.dst, m.data)
        if key in seen and m.name in ("ASAP Server Announce", "ENRP Presence"):
            counted[m.name] = counted.get(m.name, 0) + 1
            continue
        seen.add(key)
        message = m.message
        if message is None:
            lines.append(f"  #{m.frame}: undecodable {m.name}: {m.error}")
            continue
        if isinstance(message, EndpointKeepAlive | EndpointKeepAliveAck):
            kind = f"{m.name} for PE {ident(message.pe_id or 0)}"
        else:
            kind = m.name
        if isinstance(message, ServerAnnounce | EndpointKeepAlive | EndpointKeepAliveAck) or (
            m.name == "ENRP Presence"
        ):
            if kind in counted:
                counted[kind] += 1
                continue
            counted[kind] = 1
        note = ""
        if isinstance(message, Registration):
            pe_id = message.pool_element.pe_id
            if pe_id in registered:
                note = " -- again: a re-registration refreshes the entry before its life ends"
            registered.add(pe_id)
        if isinstance(message, HandleResolution):
            asked[m.src] = asked.get(m.src, 0) + 1
            if asked[m.src] > 1:
                note = " -- again: its PE failed, so it needs another one (failover)"
        if isinstance(message, Registration):
            names.setdefault(m.src, f"PE {ident(message.pool_element.pe_id)}")
        elif isinstance(message, HandleResolution):
            names.setdefault(m.src, "pool user")
        src = names.get(m.src, f"{m.src[0]}:{m.src[1]}")
        dst = names.get(m.dst, f"{m.dst[0]}:{m.dst[1]}")
        lines.append(f"  {src:>16} -> {dst:<16} {message.summary()}")
        lines.append(f"  {'':>16}    {'':<16} = {explain(message)}{note}")
    return lines, counted


# ------------------------------------------------------------------------------- the demo


class Terminal:
    """The demo's pool user, ``rserpool terminal``: lines in, its output shown as it comes."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.shown = 0

    def show_new(self) -> None:
        lines = self.process.output().splitlines()[1:]
        for line in lines[self.shown :]:
            say(f"  terminal| {line}")
        self.shown = len(lines)

    def exchange(self, first: int, last: int, timeout: float) -> int:
        """Send lines ``hello #first`` .. ``#last``, each once the one before was echoed;
        the PE that echoed the last one."""
        serving = 0
        for n in range(first, last + 1):
            self.process.send_line(f"hello #{n}")
            reply = self.process.wait_for(rf"from PE \$(?P<pe>[0-9a-f]{{8}})> hello #{n}", timeout)
            serving = int(reply["pe"], 16)
            time.sleep(0.5)
        self.show_new()
        return serving

    def end(self, timeout: float) -> None:
        """Ctrl-D: the terminal ends its session and its association cleanly."""
        assert self.process.popen.stdin is not None
        self.process.popen.stdin.close()
        self.process.popen.wait(timeout=timeout)
        self.process.stop()


def show_trace(capture: Capture, malformed: int, names: dict[tuple[str, int], str]) -> None:
    """Step 5: the capture as :mod:`rserpool.capture` read it, explained."""
    step("5. What went over the wire (the capture, read by rserpool.capture as `rserpool decode`)")
    assert capture.read is not None  # Capture.stop() read it
    lines, counted = trace_lines(capture.read.messages, names)
    for line in lines:
        say(line)
    for name, count in counted.items():
        if count > 1:
            say(f"  ({name}: {count} in all; only the first is shown)")
    say(f"\nmalformed: {malformed}; pcap {capture.path}, logs in {OUT}")
    say(write_diagram(capture.read, capture.path))


def write_diagram(decoded: DecodedCapture, capture_path: Path) -> str:
    """The capture as a sequence diagram next to it (``demo.svg``, and ``demo.mmd`` in
    Mermaid), as ``rserpool decode demo.pcapng --svg demo.svg`` draws it; the line saying
    where."""
    diagram = sequence_diagram(decoded.records, capture_path.name)
    svg, mermaid = capture_path.with_suffix(".svg"), capture_path.with_suffix(".mmd")
    svg.write_text(render_svg(diagram), encoding="utf-8")
    mermaid.write_text(render_mermaid(diagram), encoding="utf-8")
    return (f"sequence diagram: {svg} (Mermaid text: {mermaid.name}), "
            f"{len(diagram.participants)} lifelines, {len(diagram.arrows)} arrows")  # fmt: skip


def run_demo() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with Topology() as topology:
        pr, cl = topology.add_host("pr"), topology.add_host("cl")
        link = topology.link(pr, cl)
        registrar_at = f"{link.a.address}:3863"
        step("1. A network: host pr (198.51.100.1) runs the registrar; host cl "
             "(198.51.100.2) runs three pool elements and a pool user")  # fmt: skip
        capture = Capture(cl, OUT / "demo.pcapng").start()
        registrar = rserpool(pr, OUT, "registrar", "registrar", f"--asap={registrar_at}",
                             f"--enrp={link.a.address}:9901", "--identifier=0x101")  # fmt: skip
        registrar.wait_for(r"Registrar \$[0-9a-f]{8} running", timeout=SLOW)
        say(f"registrar $00000101 is listening for ASAP at {registrar_at}")

        step("2. Three echo servers register in EchoPool (rserpool server --echo)")
        servers = {}
        for pe_id in PE_IDS:
            argv = ["server", "--echo", "--pool-handle=EchoPool", f"--registrar={registrar_at}"]
            servers[pe_id] = rserpool(cl, OUT, f"pe-{pe_id:x}", *argv, f"--identifier={pe_id:#x}")
        ports: dict[tuple[str, int], str] = {(link.a.address, 3863): "registrar"}
        for pe_id, server in servers.items():
            server.wait_for(r"Registration: PE", timeout=SLOW)
            match = server.wait_for(r"user transport .*:(?P<port>\d+)", timeout=10)
            ports[(link.b.address, int(match["port"]))] = f"PE {ident(pe_id)}"
            say(f"PE {ident(pe_id)} registered; pool users reach it on port {match['port']}")

        step("3. A pool user (rserpool terminal) sends a line every half second")
        terminal = Terminal(rserpool(cl, OUT, "terminal", "terminal", "--pool-handle=EchoPool",
                                     f"--registrar={registrar_at}", stdin=True))  # fmt: skip
        terminal.process.wait_for("Pool Handle", timeout=SLOW)
        serving = terminal.exchange(1, 4, SLOW)

        step(f"4. PE {ident(serving)} is killed (SIGKILL): its kernel aborts the association")
        servers[serving].kill()
        for n in range(5, 9):
            terminal.process.send_line(f"hello #{n}")
            time.sleep(0.7)
        terminal.process.wait_for(r"FAILOVER complete", timeout=SLOW)
        terminal.process.wait_for(r"hello #8", timeout=SLOW)
        terminal.show_new()
        say("The session went on at another PE of the pool: that is RSerPool's failover.")
        time.sleep(6)  # a Keep Alive round for the trace

        terminal.end(SLOW)
        for server in servers.values():
            server.stop()
        registrar.stop()
        decoded = capture.stop(settle=0.5)  # tshark's reading, checked against ours

    show_trace(capture, decoded.malformed, ports)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m interop.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--udp", action="store_true",
                       help="SCTP over UDP on loopback (default without kernel SCTP)")  # fmt: skip
    which.add_argument("--kernel", "--guest", action="store_true",
                       help="kernel SCTP: right here if we may, else in the guest")  # fmt: skip
    which.add_argument("--inside", action="store_true", help="the kernel demo, right here")
    args = parser.parse_args(argv)
    if args.inside:
        return run_demo()
    caps = Capabilities.probe()
    if args.udp or (not args.kernel and not caps.kernel_sctp):
        from interop.demo_udp import run_udp_demo

        why = "as asked" if args.udp else "this kernel has no SCTP"
        say(f"The demo runs over UDP ({why}): our own SCTP over UDP on this machine's loopback,\n"
            "no root, no guest (--kernel: the kernel SCTP demo).")  # fmt: skip
        return run_udp_demo()
    if caps.kernel_sctp and caps.root and caps.tshark:
        say("The demo runs over kernel SCTP: this machine has it and we are root (--udp: over "
            "UDP instead).")  # fmt: skip
        return run_demo()
    say(f"No kernel SCTP here ({caps}): the demo runs in the test guest (QEMU, ~20 s boot).")
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT.parent / "demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        guest = Guest(OUT, GuestConfig(timeout=900, name="rserpool-demo"))
        env = {"RSERPOOL_DEMO_OUT": str(OUT)}
        run = guest.run(f"{sys.executable} -m interop.demo --inside", env, prefix="")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
