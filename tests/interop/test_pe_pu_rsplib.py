"""Our pool element and pool users (``rserpool server|terminal|pingpong``) with RSPLIB 3.4.4.

(a) our server registers at rspregistrar and rspterminal talks to it; our terminal resolves via
    rspregistrar and talks to rspserver; (b) our pingpong against ``rspserver -pingpong`` and
    RSPLIB's pingpongclient against our ``--pingpong`` server; (c) the PE serving our pingpong
    is killed (SIGKILL): the session fails over with Cookie Echo, the sequence check holds;
(d) a multi-homed PE loses one of two paths mid-session: the session survives without a
    failover; (e) all three of our roles (registrar, server, terminal) on three hosts.

Hosts are network namespaces joined by veth links (documentation addresses: RSPLIB drops
loopback). Python starts slowly under TCG, hence the generous timeouts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from interop import rsplib
from interop.processes import Process, rserpool
from interop.topology import Host, Topology

pytestmark = pytest.mark.rsplib

SLOW = 150  # s: Python startup and RSPLIB's registrar hunt under TCG
SERVED = r"from PE \$(?P<pe>[0-9a-f]{8})>"
SUMMARY = (
    r"Summary: (?P<sent>\d+) Pings, (?P<pongs>\d+) Pongs, (?P<resent>\d+) resent after "
    r"failover, (?P<failovers>\d+) failover\(s\), gaps (?P<gaps>\d+), duplicates "
    r"(?P<dups>\d+), unanswered (?P<unanswered>\d+)"
)


def our_server(
    host: Host, artifacts: Path, registrar: str, pe_id: int, *extra: str, service: str = "echo"
) -> Process:
    server = rserpool(host, artifacts, f"server-{pe_id:x}", "server", f"--{service}",
                  f"--registrar={registrar}", f"--identifier={pe_id:#x}", *extra)  # fmt: skip
    server.wait_for(rf"Registration: PE \${pe_id:08x}", timeout=SLOW)
    return server


def two_hosts(topology: Topology, paths: int = 1) -> tuple[Host, Host, str]:
    pr, cl = topology.add_host("pr"), topology.add_host("cl")
    links = [topology.link(pr, cl) for _ in range(paths)]
    pr.route_multicast(links[0].a)
    cl.route_multicast(links[0].b)
    return pr, cl, f"{links[0].a.address}:{rsplib.ASAP_PORT}"


def test_our_server_and_terminal_with_rsplib(topology: Topology, artifacts: Path) -> None:
    """(a) rspterminal → our echo server; our terminal → rspserver; via rspregistrar."""
    pr, cl, at = two_hosts(topology)
    registrar = rsplib.registrar(pr, artifacts, identifier=0x101)
    theirs = rsplib.server(cl, artifacts, at, identifier=0x3001, pool_handle="RspEchoPool")
    mine = our_server(cl, artifacts, at, 0x2001, "-poolhandle=EchoPool", "-policy=RoundRobin")
    try:
        terminal = rsplib.terminal(cl, artifacts, at)
        terminal.wait_for("Pool Handle = EchoPool", timeout=SLOW)
        terminal.send_line("hello rserpool PE")
        reply = terminal.wait_for(rsplib.TERMINAL_REPLY, timeout=SLOW)
        assert reply["text"].strip() == "hello rserpool PE"
        assert int(reply["pe"], 16) == 0x2001
        terminal.stop()
        mine.wait_for(r"Session \d+: a pool user associated", timeout=30)

        theirs.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
        term = rserpool(cl, artifacts, "terminal", "terminal", "-poolhandle=RspEchoPool",
                    f"-registrar={at}", "-logappend=x", stdin=True)  # fmt: skip
        term.wait_for("Pool Handle = RspEchoPool", timeout=SLOW)
        term.send_line("hello RSPLIB PE")
        answer = term.wait_for(rf"{SERVED} (?P<text>hello RSPLIB PE)", timeout=SLOW)
        assert int(answer["pe"], 16) == 0x3001
        assert "has no effect here" in term.output()  # -logappend noted, not fatal
        term.stop()
    finally:
        mine.stop()
        theirs.stop()
        registrar.stop()
    assert "Deregistration: PE $00002001 left the pool (confirmed)" in mine.output()


def test_pingpong_both_ways(topology: Topology, artifacts: Path) -> None:
    """(b) our pingpong → rspserver -pingpong; pingpongclient → our --pingpong server."""
    pr, cl, at = two_hosts(topology)
    registrar = rsplib.registrar(pr, artifacts, identifier=0x101)
    theirs = rsplib.server(cl, artifacts, at, service="pingpong", identifier=0x3002,
                           pool_handle="PingPongPool")  # fmt: skip
    mine = our_server(cl, artifacts, at, 0x2002, "--pool-handle=OurPingPongPool",
                      service="pingpong")  # fmt: skip
    try:
        theirs.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
        client = rserpool(cl, artifacts, "pingpong", "pingpong", f"--registrar={at}",
                      "--count=10", "--interval=100")  # fmt: skip
        summary = client.wait_for(SUMMARY, timeout=SLOW)
        assert summary["pongs"] == "10" and summary["gaps"] == "0"
        assert summary["dups"] == "0" and summary["unanswered"] == "0"
        assert "Ack #10 from PE $00003002 (reply #10)" in client.output()

        argv = ["stdbuf", "-oL", "pingpongclient", "-poolhandle=OurPingPongPool",
                f"-registrar={at}", "-interval=100"]  # fmt: skip
        theirs_pu = Process(cl, argv, artifacts / "cl-pingpongclient.log")
        theirs_pu.wait_for(r"Ack #8 from PE \$00002002 \(reply #8\)", timeout=SLOW)
        theirs_pu.stop()
        assert "Detected gap" not in theirs_pu.output()
    finally:
        mine.stop()
        theirs.stop()
        registrar.stop()


def test_pe_killed_mid_session_fails_over(topology: Topology, artifacts: Path) -> None:
    """(c) Two of our PingPong PEs; the one serving our pingpong is killed with SIGKILL."""
    pr, cl, at = two_hosts(topology)
    pe_host = topology.add_host("pe")
    pe_link = topology.link(pr, pe_host)
    topology.link(cl, pe_host)  # the pool user's way to the second PE
    registrar = rsplib.registrar(pr, artifacts, identifier=0x101)
    pe_at = f"{pe_link.a.address}:{rsplib.ASAP_PORT}"
    servers = {
        0x2003: our_server(cl, artifacts, at, 0x2003, service="pingpong"),
        0x2004: our_server(pe_host, artifacts, pe_at, 0x2004, service="pingpong"),
    }
    try:
        client = rserpool(cl, artifacts, "pingpong", "pingpong", f"--registrar={at}",
                      "--count=40", "--interval=150")  # fmt: skip
        match = client.wait_for(r"Ack #5 from PE \$(?P<pe>[0-9a-f]{8})", timeout=SLOW)
        victim = int(match["pe"], 16)
        servers[victim].kill()
        summary = client.wait_for(SUMMARY, timeout=SLOW)
        output = client.output()
        assert re.search(r"FAILOVER done: now at PE \$[0-9a-f]{8} with Cookie Echo", output)
        assert summary["failovers"] == "1", output[-3000:]
        assert summary["pongs"] == "40" and summary["gaps"] == "0"
        assert summary["dups"] == "0" and summary["unanswered"] == "0"
        survivor = ({0x2003, 0x2004} - {victim}).pop()
        assert f"Ack #40 from PE ${survivor:08x} (reply #40)" in output
        assert client.popen.wait(timeout=30) == 0
    finally:
        for server in servers.values():
            server.stop()
        registrar.stop()


def test_multihomed_pe_loses_a_path(topology: Topology, artifacts: Path) -> None:
    """(d) PE and PU share two veth links; the first goes down mid-session."""
    pe, cl = topology.add_host("pe"), topology.add_host("cl")
    first, second = topology.link(pe, cl), topology.link(pe, cl)
    registrar = rsplib.registrar(cl, artifacts, identifier=0x101)
    at = f"{first.b.address}:{rsplib.ASAP_PORT},{second.b.address}"
    server = our_server(pe, artifacts, at, 0x2005, service="pingpong")
    try:
        client = rserpool(cl, artifacts, "pingpong", "pingpong", f"--registrar={at}",
                      "--count=40", "--interval=100")  # fmt: skip
        client.wait_for(r"Ack #5 from PE \$00002005", timeout=SLOW)
        first.down()
        summary = client.wait_for(SUMMARY, timeout=SLOW)
        assert summary["failovers"] == "0", client.output()[-3000:]
        assert summary["pongs"] == "40" and summary["gaps"] == "0"
        assert summary["unanswered"] == "0"
    finally:
        first.up()
        server.stop()
        registrar.stop()


def test_our_three_roles_on_three_hosts(topology: Topology, artifacts: Path) -> None:
    """(e) rserpool registrar, server and terminal, each on a host of its own."""
    pr, pe, pu = topology.add_host("pr"), topology.add_host("pe"), topology.add_host("pu")
    pr_pe, pr_pu, pe_pu = topology.link(pr, pe), topology.link(pr, pu), topology.link(pe, pu)
    registrar = rserpool(pr, artifacts, "registrar", "registrar",
                     f"--asap={pr_pe.a.address}:3863,{pr_pu.a.address}",
                     f"--enrp={pr_pe.a.address}:9901,{pr_pu.a.address}",
                     "--identifier=0x201")  # fmt: skip
    registrar.wait_for(r"Registrar \$00000201 running", timeout=SLOW)
    server = our_server(pe, artifacts, f"{pr_pe.a.address}:3863", 0x2006,
                        f"--local={pr_pe.b.address},{pe_pu.a.address}")  # fmt: skip
    try:
        terminal = rserpool(pu, artifacts, "terminal", "terminal",
                        f"--registrar={pr_pu.a.address}:3863", stdin=True)  # fmt: skip
        terminal.wait_for("Pool Handle = EchoPool", timeout=SLOW)
        terminal.send_line("all ours")
        reply = terminal.wait_for(rf"{SERVED} (?P<text>all ours)", timeout=SLOW)
        assert int(reply["pe"], 16) == 0x2006
        terminal.stop()
    finally:
        server.stop()
        registrar.stop()
    registrar_log = registrar.output()
    assert "Registration of PE $00002006 in EchoPool accepted" in registrar_log
