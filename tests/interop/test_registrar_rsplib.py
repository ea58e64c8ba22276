"""Our registrar (``python -m rserpool registrar``) among RSPLIB 3.4.4's programs, in the guest.

(a) rspserver -echo registers at our registrar and rspterminal's echo goes through; the
    capture decodes with nothing malformed; (b) rspserver finds our registrar by its Server
    Announce alone; (c) RSPLIB's hsdump lists our handlespace and ours lists rspregistrar's;
(d) our registrar and rspregistrar peer over ENRP: PEs registered at either appear at the
    other, removals propagate; (e) in a mix of two of ours and one rspregistrar, the home of a
    PE is killed and the survivor with the lower id takes it over (Keep Alive with the H flag).

Hosts are network namespaces joined by veth links (documentation addresses; RSPLIB drops
loopback). Python starts slowly under TCG, hence the generous timeouts.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from interop import rsplib
from interop.capture import Capture
from interop.processes import Process, rserpool
from interop.topology import Host, Topology

pytestmark = pytest.mark.rsplib

SLOW = 120  # seconds: python startup, tshark startup and RSPLIB's hunt under TCG
PE_ID = 0x2001
RUNNING = r"Registrar \$(?P<id>[0-9a-f]{8}) running"


def ours(host: Host, artifacts: Path, *args: str, name: str = "rserpool-registrar") -> Process:
    process = rserpool(host, artifacts, name, "registrar", *args)
    process.wait_for(RUNNING, timeout=SLOW)
    return process


def our_hsdump(host: Host, artifacts: Path, target: str, name: str = "rserpool-hsdump") -> Process:
    return rserpool(host, artifacts, name, "hsdump", target)


def pe_pattern(pe_id: int) -> str:
    return rf"(?i)\$0*{pe_id:x}\b|0x0*{pe_id:x}\b"


def test_rsplib_pe_and_pu_use_our_registrar(topology: Topology, artifacts: Path) -> None:
    """(a) and (c): echo through our registrar; both hsdumps list our handlespace."""
    pr, cl = topology.add_host("pr"), topology.add_host("cl")
    link = topology.link(pr, cl)
    pr.route_multicast(link.a)
    cl.route_multicast(link.b)
    capture = Capture(pr, artifacts / "pr.pcapng").start()
    registrar = ours(pr, artifacts, f"-asap={link.a.address}:3863", f"-enrp={link.a.address}:9901",
                     "-identifier=0x201", "-loglevel=3")  # fmt: skip
    address = f"{link.a.address}:{rsplib.ASAP_PORT}"
    server = rsplib.server(cl, artifacts, address, identifier=PE_ID)
    registered = server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
    assert int(registered["pe"], 16) == PE_ID
    registrar.wait_for(r"Registration of PE \$00002001 in EchoPool accepted", timeout=30)

    terminal = rsplib.terminal(cl, artifacts, address)
    terminal.wait_for("Pool Handle = EchoPool", timeout=SLOW)
    terminal.send_line("hello via rserpool")
    reply = terminal.wait_for(rsplib.TERMINAL_REPLY, timeout=SLOW)
    assert reply["text"].strip() == "hello via rserpool"
    terminal.stop()

    theirs = rsplib.hsdump(cl, artifacts, f"{link.a.address}:{rsplib.ENRP_PORT}")
    theirs.wait_for("EchoPool", timeout=SLOW)
    theirs.wait_for(pe_pattern(PE_ID), timeout=30)
    theirs.stop()
    mine = our_hsdump(cl, artifacts, f"{link.a.address}:{rsplib.ENRP_PORT}")
    mine.wait_for(r"PE \$00002001  home \$00000201", timeout=SLOW)
    assert mine.popen.wait(timeout=SLOW) == 0

    server.stop()  # SIGTERM: rspserver deregisters
    registrar.wait_for(r"PE \$00002001 in EchoPool \(home \$00000201\) removed", timeout=SLOW)
    assert registrar.stop() == 0  # clean shutdown on SIGTERM
    decoded = capture.stop()
    seen = {(m.protocol, m.type) for m in decoded.messages}
    # ASAP: Registration (Response), Deregistration (Response), Handle Resolution (Response),
    # Endpoint Keep Alive (Ack), Server Announce; ENRP: List and Handle Table Response
    expected = {("asap", t) for t in (1, 2, 3, 4, 5, 6, 7, 8, 10)} | {("enrp", 3), ("enrp", 6)}
    assert expected <= seen, (sorted(expected - seen), decoded.names())
    assert decoded.malformed == 0
    announces = decoded.of_type("asap", 10)
    assert announces and all(m.src[1] == rsplib.ASAP_PORT for m in announces)


def test_rsplib_pe_finds_our_registrar_by_announce(topology: Topology, artifacts: Path) -> None:
    """(b): no -registrar: the PE hunts by Server Announce (multicast on the veth link)."""
    pr, cl = topology.add_host("pr"), topology.add_host("cl")
    link = topology.link(pr, cl)
    pr.route_multicast(link.a)
    cl.route_multicast(link.b)
    registrar = ours(pr, artifacts, f"--asap={link.a.address}:3863",
                     f"--enrp={link.a.address}:9901", "--identifier=0x202")  # fmt: skip
    argv = ["stdbuf", "-oL", "-eL", "rspserver", "-echo", "-poolhandle=EchoPool",
            f"-identifier={PE_ID:#x}", f"-logfile={artifacts / 'cl-rspserver.rsplib.log'}",
            "-logcolor=off"]  # fmt: skip
    server = Process(cl, argv, artifacts / "cl-rspserver.log", name="rspserver")
    server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
    registrar.wait_for(r"Registration of PE \$00002001 in EchoPool accepted", timeout=30)
    server.stop()
    registrar.stop()


def test_our_hsdump_lists_rspregistrar(topology: Topology, artifacts: Path) -> None:
    """(c), the other way round."""
    pr, cl = topology.add_host("pr"), topology.add_host("cl")
    link = topology.link(pr, cl)
    registrar = rsplib.registrar(pr, artifacts, identifier=0x301)
    server = rsplib.server(cl, artifacts, f"{link.a.address}:{rsplib.ASAP_PORT}",
                           identifier=PE_ID)  # fmt: skip
    server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
    mine = our_hsdump(cl, artifacts, f"{link.a.address}:{rsplib.ENRP_PORT}")
    mine.wait_for(r"Registrar \$00000301", timeout=SLOW)
    mine.wait_for(r"PE \$00002001  home \$00000301", timeout=SLOW)
    mine.wait_for(r"ASAP transport SCTP", timeout=10)
    assert mine.popen.wait(timeout=SLOW) == 0
    server.stop()
    registrar.stop()


def test_our_registrar_peers_with_rspregistrar(topology: Topology, artifacts: Path) -> None:
    """(d): ours (pr1, $00000401) and RSPLIB's (pr2, $00000402) share PEs both ways."""
    pr1, pr2, cl = (topology.add_host(n) for n in ("pr1", "pr2", "cl"))
    l12, l1c, l2c = topology.link(pr1, pr2), topology.link(pr1, cl), topology.link(pr2, cl)
    capture = Capture(pr1, artifacts / "pr1.pcapng").start()
    mine = ours(pr1, artifacts, f"-asap={rsplib.endpoint(pr1.addresses(), 3863)}",
                f"-enrp={rsplib.endpoint(pr1.addresses(), 9901)}", f"-peer={l12.b.address}",
                "-identifier=0x401", "-enrpannounce=off")  # fmt: skip
    theirs = rsplib.registrar(pr2, artifacts, identifier=0x402, peers=[l12.a.address],
                              extra=["-enrpannounce=off"])  # fmt: skip
    mine.wait_for(r"Peer registrar \$00000402 added", timeout=SLOW)

    at_theirs = rsplib.server(cl, artifacts, f"{l2c.a.address}:3863", identifier=0x2001,
                              name="rspserver-at-rsplib")  # fmt: skip
    at_theirs.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
    mine.wait_for(r"PE \$00002001 in EchoPool learned from peer \$00000402", timeout=SLOW)
    at_mine = rsplib.server(cl, artifacts, f"{l1c.a.address}:3863", identifier=0x2002,
                            name="rspserver-at-rserpool")  # fmt: skip
    at_mine.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)

    dump_theirs = rsplib.hsdump(cl, artifacts, f"{l2c.a.address}:9901", name="hsdump-pr2")
    dump_theirs.wait_for(pe_pattern(0x2002), timeout=SLOW)
    dump_theirs.wait_for(pe_pattern(0x2001), timeout=30)
    dump_theirs.stop()
    dump_mine = our_hsdump(cl, artifacts, f"{l1c.a.address}:9901")
    dump_mine.wait_for(r"PE \$00002001  home \$00000402", timeout=SLOW)
    dump_mine.wait_for(r"PE \$00002002  home \$00000401", timeout=10)

    at_theirs.stop()  # deregisters at RSPLIB: the Handle Update DEL_PE reaches us
    mine.wait_for(r"PE \$00002001 in EchoPool \(home \$00000402\) removed", timeout=SLOW)
    at_mine.stop()  # deregisters at ours: gone from RSPLIB's handlespace
    mine.wait_for(r"PE \$00002002 in EchoPool \(home \$00000401\) removed", timeout=SLOW)
    dump_after = rsplib.hsdump(cl, artifacts, f"{l2c.a.address}:9901", name="hsdump-pr2-after")
    dump_after.wait_for(r"(?i)pools|PEs", timeout=SLOW)
    dump_after.popen.wait(timeout=SLOW)
    assert "EchoPool" not in dump_after.output().split("\n", 1)[1]
    mine.stop()
    theirs.stop()
    decoded = capture.stop()
    seen = {(m.protocol, m.type) for m in decoded.messages}
    # Presence, Handle Table Request/Response, Handle Update, List Request/Response
    expected = {("enrp", t) for t in (1, 2, 3, 4, 5, 6)}
    assert expected <= seen, (sorted(expected - seen), decoded.names())
    assert decoded.malformed == 0


def test_takeover_in_a_three_registrar_mix(topology: Topology, artifacts: Path) -> None:
    """(e): ours $00000501 (home of the PE) is killed; ours $00000502 and RSPLIB's $00000503
    notice; $00000502 (the lower id) takes over and sends the PE a Keep Alive with H set."""
    pr1, pr2, pr3, cl = (topology.add_host(n) for n in ("pr1", "pr2", "pr3", "cl"))
    l12, l13, l23 = topology.link(pr1, pr2), topology.link(pr1, pr3), topology.link(pr2, pr3)
    l1c, l2c, l3c = topology.link(pr1, cl), topology.link(pr2, cl), topology.link(pr3, cl)
    capture = Capture(cl, artifacts / "cl.pcapng").start()
    common = ["-enrpannounce=off", "-asapannounce=off"]
    first = ours(pr1, artifacts, f"-asap={rsplib.endpoint(pr1.addresses(), 3863)}",
                 f"-enrp={rsplib.endpoint(pr1.addresses(), 9901)}", f"-peer={l12.b.address}",
                 f"-peer={l13.b.address}", "-identifier=0x501", *common)  # fmt: skip
    second = ours(pr2, artifacts, f"-asap={rsplib.endpoint(pr2.addresses(), 3863)}",
                  f"-enrp={rsplib.endpoint(pr2.addresses(), 9901)}", f"-peer={l12.a.address}",
                  f"-peer={l23.b.address}", "-identifier=0x502", *common)  # fmt: skip
    third = rsplib.registrar(pr3, artifacts, identifier=0x503,
                             peers=[l13.a.address, l23.a.address], extra=common)  # fmt: skip
    for process, others in ((first, ("502", "503")), (second, ("501", "503"))):
        for other in others:
            process.wait_for(rf"Peer registrar \$00000{other} added", timeout=SLOW)

    server = rsplib.server(cl, artifacts, f"{l1c.a.address}:3863", identifier=PE_ID,
                           extra=["-asapannounce=off"])  # fmt: skip
    server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
    second.wait_for(r"PE \$00002001 in EchoPool learned from peer \$00000501", timeout=SLOW)
    dump = rsplib.hsdump(cl, artifacts, f"{l3c.a.address}:9901", name="hsdump-before")
    dump.wait_for(pe_pattern(PE_ID), timeout=SLOW)
    dump.stop()

    first.kill()  # SIGKILL: no SHUTDOWN, no Handle Update; the peers must find out
    second.wait_for(r"Takeover of registrar \$00000501 completed: registrar \$00000502",
                    timeout=SLOW)  # fmt: skip
    # the PE follows its new home: after more than a keep-alive round (5 s + 5 s timeout) it
    # is still there, owned by $00000502, at RSPLIB's registrar too
    time.sleep(12)
    assert "PE $00002001 in EchoPool (home $00000502) removed" not in second.output()
    mine = our_hsdump(cl, artifacts, f"{l3c.a.address}:9901")
    mine.wait_for(r"PE \$00002001  home \$00000502", timeout=SLOW)
    server.stop()
    second.wait_for(r"PE \$00002001 in EchoPool \(home \$00000502\) removed", timeout=SLOW)
    second.stop()
    third.stop()
    decoded = capture.stop()
    assert decoded.malformed == 0
    keep_alives = [m for m in decoded.of_type("asap", 7) if m.raw[1] & 0x01]
    assert keep_alives, decoded.names()
    assert all(m.src[0] in pr2.addresses() for m in keep_alives)
    assert any(m.dst[0] == l2c.b.address for m in keep_alives)
