"""Smoke test (kept forever): RSPLIB 3.4.4 works in the harness, and its traffic decodes.

Host ``pr`` runs rspregistrar; host ``cl`` runs rspserver -echo (a PE) and rspterminal (a PU),
one veth link between them. The PE registers, the PU resolves EchoPool and gets its line echoed;
hsdump (posing as a peer registrar over ENRP) lists the PE. A tshark capture in ``pr`` decodes to
ASAP Registration, Handle Resolution and their responses, with nothing malformed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from interop import rsplib
from interop.capture import Capture
from interop.topology import Topology

pytestmark = pytest.mark.rsplib

PE_ID = 0x2001


def test_rsplib_echo_round_trip_and_capture(topology: Topology, artifacts: Path) -> None:
    pr, cl = topology.add_host("pr"), topology.add_host("cl")
    link = topology.link(pr, cl)
    pr.route_multicast(link.a)
    cl.route_multicast(link.b)
    capture = Capture(pr, artifacts / "pr.pcapng").start()

    registrar_address = f"{link.a.address}:{rsplib.ASAP_PORT}"
    registrar = rsplib.registrar(pr, artifacts, identifier=0x101)
    server = rsplib.server(cl, artifacts, registrar_address, identifier=PE_ID)
    try:
        registered = server.wait_for(rsplib.PE_REGISTERED, timeout=60)
        assert int(registered["pe"], 16) == PE_ID
        terminal = rsplib.terminal(cl, artifacts, registrar_address)
        terminal.wait_for("Pool Handle = EchoPool", timeout=60)
        terminal.send_line("hello over kernel SCTP")
        reply = terminal.wait_for(rsplib.TERMINAL_REPLY, timeout=60)
        assert reply["text"].strip() == "hello over kernel SCTP"
        assert int(reply["pe"], 16) == PE_ID

        dump = rsplib.hsdump(cl, artifacts, f"{link.a.address}:{rsplib.ENRP_PORT}")
        dump.wait_for(r"EchoPool", timeout=60)
        dump.wait_for(rf"(?i)\$0*{PE_ID:x}\b|0x0*{PE_ID:x}\b", timeout=30)
        dump.stop()
        terminal.stop()
    finally:
        server.stop()
        registrar.stop()
    decoded = capture.stop()

    names = decoded.names()
    for expected in (
        "ASAP Registration",
        "ASAP Registration Response",
        "ASAP Handle Resolution",
        "ASAP Handle Resolution Response",
    ):
        assert expected in names, names
    assert decoded.malformed == 0
    (registration,) = decoded.of_type("asap", 1)
    assert registration.transport == "sctp"
    assert registration.ppid == 11
    assert registration.dst == (link.a.address, rsplib.ASAP_PORT)
    assert registration.src[0] == link.b.address
    resolutions = decoded.of_type("asap", 5)
    assert resolutions and all(m.ppid == 11 for m in resolutions)
