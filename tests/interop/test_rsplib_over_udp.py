"""RSPLIB 3.4.4 and our roles on SCTP over UDP: RSPLIB's programs unchanged on Linux's kernel
SCTP with RFC 6951 encapsulation on (``net.sctp.udp_port``, ``net.sctp.encap_port``), ours on
the userland stack (``--transport udp``).

Namespace ``k`` runs RSPLIB (every SCTP packet of that kernel travels in UDP port 9899);
namespace ``u`` runs ours. Three veth links join them, so ``u`` has three addresses: each of our
registrars and pool elements binds one of its own, on UDP port 9899, as the rule of
``--transport udp`` says (a pool user learns a PE's addresses, never its UDP port).

(a) rspserver registers at our registrar; (b) our PE registers at rspregistrar and rspterminal
talks to it; (c) our pool user fails over between two rspserver PEs when the one serving it is
killed (SIGKILL), no message lost; (d) our registrar peers over ENRP with rspregistrar. Every
capture is decoded by tshark with 0 malformed (and by our own reader, message for message).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from interop import rsplib
from interop.capture import RSERPOOL_FILTER, Capture
from interop.processes import Process, rserpool
from interop.topology import Host, Topology
from tests.interop.test_pe_pu_rsplib import SUMMARY

pytestmark = pytest.mark.rsplib

SLOW = 150  # s: Python startup and RSPLIB's registrar hunt under TCG
UDP = ["--transport", "udp"]
FILTER = f"{RSERPOOL_FILTER} or udp port 9899"


@dataclass
class Setup:
    k: Host  # RSPLIB on kernel SCTP over UDP
    u: Host  # ours on the userland stack
    k_addresses: list[str]  # k's end of each link
    u_addresses: list[str]  # u's end: one per registrar or PE of ours
    capture: Capture


@pytest.fixture
def setup(topology: Topology, artifacts: Path) -> Iterator[Setup]:
    k, u = topology.add_host("k"), topology.add_host("u")
    links = [topology.link(k, u) for _ in range(3)]
    k.set_sctp_udp_encapsulation()  # before any SCTP socket exists in k
    capture = Capture(u, artifacts / "u.pcapng", FILTER).start()
    made = Setup(
        k, u, [link.a.address for link in links], [link.b.address for link in links], capture
    )
    yield made
    decoded = capture.stop()
    assert decoded.malformed == 0
    assert decoded.messages, "nothing captured"


def ours(setup: Setup, artifacts: Path, name: str, *argv: str) -> Process:
    return rserpool(setup.u, artifacts, name, *argv, *UDP)


def test_rspserver_registers_at_our_registrar(setup: Setup, artifacts: Path) -> None:
    """(a) our registrar on u's first address, over UDP; rspserver in k registers there."""
    at = f"{setup.u_addresses[0]}:3863"
    registrar = ours(setup, artifacts, "registrar", "registrar", f"--asap={at}",
                     f"--enrp={setup.u_addresses[0]}:9901", "--identifier=0x101")  # fmt: skip
    registrar.wait_for(r"SCTP over UDP", timeout=SLOW)
    server = rsplib.server(setup.k, artifacts, at, identifier=0x3001)
    try:
        server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
        registrar.wait_for(r"Registration of PE \$00003001 in EchoPool accepted", timeout=SLOW)
    finally:
        server.stop()
        registrar.stop()


def test_our_pe_at_rspregistrar_serves_rspterminal(setup: Setup, artifacts: Path) -> None:
    """(b) our echo PE (u, over UDP) registers at rspregistrar (k); rspterminal (k) uses it."""
    registrar = rsplib.registrar(setup.k, artifacts, identifier=0x101)
    at = f"{setup.k_addresses[0]}:3863"
    server = ours(setup, artifacts, "server", "server", "--echo", f"--registrar={at}",
                  f"--local={setup.u_addresses[1]}", "--identifier=0x2001")  # fmt: skip
    try:
        server.wait_for(r"Registration: PE \$00002001", timeout=SLOW)
        terminal = rsplib.terminal(setup.k, artifacts, at)
        terminal.wait_for("Pool Handle = EchoPool", timeout=SLOW)
        terminal.send_line("hello over udp")
        reply = terminal.wait_for(rsplib.TERMINAL_REPLY, timeout=SLOW)
        assert reply["text"].strip() == "hello over udp" and int(reply["pe"], 16) == 0x2001
        terminal.stop()
    finally:
        server.stop()
        registrar.stop()


def test_our_pool_user_fails_over_between_rspservers(setup: Setup, artifacts: Path) -> None:
    """(c) two rspserver -pingpong PEs in k; the one serving our pingpong (u, over UDP) is
    killed: Linux answers the next packet with an ABORT, the session fails over with Cookie
    Echo and every Ping is answered once."""
    registrar = rsplib.registrar(setup.k, artifacts, identifier=0x101)
    at = f"{setup.k_addresses[0]}:3863"
    servers = {
        pe: rsplib.server(
            setup.k,
            artifacts,
            at,
            service="pingpong",
            identifier=pe,
            pool_handle="PingPongPool",
            name=f"rspserver-{pe:x}",
        )
        for pe in (0x3002, 0x3003)
    }
    try:
        for server in servers.values():
            server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
        local = f"--local={setup.u_addresses[2]}"
        client = ours(setup, artifacts, "pingpong", "pingpong", f"--registrar={at}", local,
                      "--count=30", "--interval=200")  # fmt: skip
        match = client.wait_for(r"Ack #5 from PE \$(?P<pe>[0-9a-f]{8})", timeout=SLOW)
        servers[int(match["pe"], 16)].kill()
        summary = client.wait_for(SUMMARY, timeout=SLOW)
        output = client.output()
        assert "FAILOVER done" in output and "with Cookie Echo" in output, output[-3000:]
        assert summary["failovers"] == "1" and summary["pongs"] == "30"
        assert summary["dups"] == summary["unanswered"] == "0"  # every Ping answered once
        # rspserver hands out its state (the reply counter) in a cookie after each reply: a
        # kill between a reply and its cookie makes the next PE count that reply again ("gap
        # of -1"), which loses no message; more than that would
        assert int(summary["gaps"]) <= 1, output[-3000:]
    finally:
        for server in servers.values():
            server.stop()
        registrar.stop()


def test_our_registrar_over_udp_peers_with_rspregistrar(setup: Setup, artifacts: Path) -> None:
    """(d) ours (u, over UDP) and rspregistrar (k) peer over ENRP; a PE registered at theirs
    is learned by ours."""
    theirs = rsplib.registrar(setup.k, artifacts, identifier=0x402, peers=[setup.u_addresses[0]],
                              extra=["-enrpannounce=off"])  # fmt: skip
    mine = ours(setup, artifacts, "registrar", "registrar",
                f"--asap={setup.u_addresses[0]}:3863", f"--enrp={setup.u_addresses[0]}:9901",
                f"--peer={setup.k_addresses[0]}", "--identifier=0x401",
                "--enrp-announce=off")  # fmt: skip
    try:
        mine.wait_for(r"Peer registrar \$00000402 added", timeout=SLOW)
        server = rsplib.server(setup.k, artifacts, f"{setup.k_addresses[0]}:3863",
                               identifier=0x2001)  # fmt: skip
        server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
        mine.wait_for(r"PE \$00002001 in EchoPool learned from peer \$00000402", timeout=SLOW)
        server.stop()
    finally:
        mine.stop()
        theirs.stop()
