"""Capture golden ASAP/ENRP vectors from real RSPLIB 3.4.4 traffic.

    python -m interop.golden OUTDIR          # boots the test guest unless this machine can
                                             # run kernel tests natively

Scenario, in namespaces: registrars PR1 (id 0x101) and PR2 (id 0x102) peer with each other
over ENRP; three rspserver -echo PEs register at PR1 in EchoPool and one in "OddPool" (a pool
handle whose length is not a multiple of 4, to pin down padding); rspterminal resolves EchoPool;
a Handle Resolution with the 0x803f option asking for all PEs (sent by us, answered by RSPLIB)
fetches a response with several PEs; hsdump reads PR1's handle table. A capture in PR1's host
gives every message, from which the first of each kind is written as ``OUTDIR/*.hex`` in the
format of tests/wire/golden, with its provenance. Only messages sent by RSPLIB programs are
kept.
"""

from __future__ import annotations

import datetime
import socket
import subprocess
import sys
import time
from pathlib import Path

from interop import rsplib
from interop.capture import Capture, CapturedMessage
from interop.topology import Topology
from rserpool.wire import HandleResolution, HandleResolutionResponse, decode_message_untrusted
from rserpool.wire.constants import HR_ITEMS_ALL

WANTED = {  # (protocol, type) -> file stem
    ("asap", 1): "asap-registration",
    ("asap", 3): "asap-registration-response",
    ("asap", 5): "asap-handle-resolution",
    ("asap", 6): "asap-handle-resolution-response",
    ("asap", 7): "asap-endpoint-keep-alive",
    ("asap", 8): "asap-endpoint-keep-alive-ack",
    ("asap", 10): "asap-server-announce",
    ("enrp", 1): "enrp-presence",
    ("enrp", 2): "enrp-handle-table-request",
    ("enrp", 3): "enrp-handle-table-response",
    ("enrp", 4): "enrp-handle-update",
    ("enrp", 5): "enrp-list-request",
    ("enrp", 6): "enrp-list-response",
}


def rsplib_version() -> str:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "rsplib-registrar"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout or "unknown"


def resolve_all(registrar: tuple[str, int], pool_handle: bytes) -> None:
    """Send a Handle Resolution asking for all PEs (0x803f = 0xffffffff); wait for the answer."""
    import sctp

    from rserpool.wire import encode_message

    sk = sctp.sctpsocket_tcp(socket.AF_INET)
    sk.settimeout(10)
    sk.connect(registrar)
    sk.sctp_send(
        encode_message(HandleResolution(pool_handle=pool_handle, items=HR_ITEMS_ALL)), ppid=11
    )
    sk.sctp_recv(65536)
    sk.close()


def capture_scenario(outdir: Path) -> list[CapturedMessage]:
    with Topology() as topo:
        pr1, pr2, cl = topo.add_host("pr1"), topo.add_host("pr2"), topo.add_host("cl")
        enrp_link, asap_link = topo.link(pr1, pr2), topo.link(pr1, cl)
        for host, iface in ((pr1, enrp_link.a), (pr2, enrp_link.b), (cl, asap_link.b)):
            host.route_multicast(iface)
        capture = Capture(pr1, outdir / "golden.pcapng").start()
        registrars = [
            rsplib.registrar(pr1, outdir, identifier=0x101,
                             peers=[f"{enrp_link.b.address}:{rsplib.ENRP_PORT}"]),
            rsplib.registrar(pr2, outdir, identifier=0x102,
                             peers=[f"{enrp_link.a.address}:{rsplib.ENRP_PORT}"]),
        ]  # fmt: skip
        time.sleep(6)  # let the registrars find each other (mentor discovery: 5 s)
        at = f"{asap_link.a.address}:{rsplib.ASAP_PORT}"
        programs = [
            rsplib.server(cl, outdir, at, identifier=0x2000 + i, name=f"pe{i}") for i in (1, 2, 3)
        ]  # fmt: skip
        programs.append(rsplib.server(cl, outdir, at, pool_handle="OddPool", identifier=0x3001,
                                      name="pe-odd"))  # fmt: skip
        for program in programs:
            program.wait_for(rsplib.PE_REGISTERED, timeout=60)
        terminal = rsplib.terminal(cl, outdir, at)
        terminal.send_line("golden")
        terminal.wait_for(rsplib.TERMINAL_REPLY, timeout=60)
        with cl.entered():
            resolve_all((asap_link.a.address, rsplib.ASAP_PORT), b"EchoPool")
        dump = rsplib.hsdump(cl, outdir, f"{asap_link.a.address}:{rsplib.ENRP_PORT}")
        dump.wait_for("EchoPool", timeout=60)
        time.sleep(6)  # keep-alives (every 5 s) and a few presences
        for program in [dump, terminal, *programs, *registrars]:
            program.stop()
        return capture.stop().messages


def write_vectors(messages: list[CapturedMessage], outdir: Path) -> list[Path]:
    when = datetime.date.today().isoformat()
    version = rsplib_version()
    written = []
    seen: set[str] = set()
    # PR1's last Presence carries the ownership checksum of all its PEs (tests compare it
    # with ours): put it first so that it is kept under its own name.
    owning = [
        m
        for m in messages
        if (m.protocol, m.type) == ("enrp", 1)
        and m.raw[4:8] == (0x101).to_bytes(4, "big")
        and b"\x00\x0f\x00\x06\xff\xff" not in m.raw
    ]
    for message in [*owning[-1:], *messages]:
        stem = WANTED.get((message.protocol, message.type))
        if stem is None:
            continue
        decoded = decode_message_untrusted(message.ppid, message.raw)
        if isinstance(decoded, HandleResolution) and decoded.items == HR_ITEMS_ALL:
            continue  # our own request, not RSPLIB's
        if isinstance(decoded, HandleResolutionResponse):
            stem += "-one-pe" if len(decoded.pool_elements) == 1 else "-several-pes"
        if b"OddPool" in message.raw:
            stem += "-oddpool"
        if owning and message is owning[-1] and stem == "enrp-presence":
            stem += "-pr1-owning-4-pes"
        if stem in seen:
            continue
        seen.add(stem)
        path = outdir / f"{stem}.hex"
        hex_lines = [message.raw[i : i + 16].hex(" ") for i in range(0, len(message.raw), 16)]
        path.write_text(
            f"# {message.name}, sent by RSPLIB {version} (Debian packages), captured {when}\n"
            f"# by interop/golden.py in the test guest: frame {message.frame}, "
            f"{message.src[0]}:{message.src[1]} -> {message.dst[0]}:{message.dst[1]} "
            f"over {message.transport}\n"
            f"ppid: {message.ppid}\n" + "\n".join(hex_lines) + "\n"
        )
        written.append(path)
    return written


def main() -> int:
    outdir = Path(sys.argv[1]).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    from interop.capabilities import Capabilities

    if not Capabilities.probe().native:
        from interop.guest import Guest

        run = Guest(outdir).run(f"python -m interop.golden {outdir}")
        return run.returncode
    messages = capture_scenario(outdir)
    for path in write_vectors(messages, outdir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
