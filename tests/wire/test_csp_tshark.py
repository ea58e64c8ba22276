"""Wireshark's Component Status Protocol dissector reads the reports our reporter sends: no
malformed datagram, and the sender, status, workload and associations tshark shows are ours.

The reports are made by :class:`rserpool.proto.csp.StatusReporter` as a registrar, a pool
element and a pool user make them (and a FINAL one), written as UDP datagrams to port 2960 into
a pcap, and read back with tshark (installed by ``make setup``; missing, this test fails)."""

from __future__ import annotations

from pathlib import Path

from rserpool.proto.csp import ReportFields, StatusReporter, registrar_status, session_status
from rserpool.wire.csp import CSP_PORT, ComponentAssociation, component_id

from .pcap import udp_packet, write_pcap
from .test_tshark import tshark

PR, PEER, PE, PU = (
    component_id(1, 0x101),
    component_id(1, 0x102),
    component_id(2, 0x2001),
    (component_id(3, 0xC0FFEE001234)),
)
FIELDS = [
    "componentstatusprotocol.message_type",
    "componentstatusprotocol.message_final_bit",
    "componentstatusprotocol.message_length",
    "componentstatusprotocol.message_sender_id",
    "componentstatusprotocol.componentstatusreport_status",
    "componentstatusprotocol.componentstatusreport_location",
    "componentstatusprotocol.componentstatusreport_associations",
    "componentstatusprotocol.componentassociation_receiver_id",
    "componentstatusprotocol.componentassociation_ppid",
]


def reports() -> list[bytes]:
    made = []
    registrar = StatusReporter(PR, 300_000, lambda now: ReportFields(
        registrar_status(3, 2, 1, 1), "vm: 198.51.100.1:3863", None,
        (ComponentAssociation(PEER, ppid=12),),
    ))  # fmt: skip
    made.append(registrar.poll(1_000_000))
    home = ComponentAssociation(PR, 5_000_000, ppid=11)
    pe = StatusReporter(PE, 1_000_000, lambda now: ReportFields(
        session_status(2), "vm: 198.51.100.11:40000", 0.25, (home,)))  # fmt: skip
    made.append(pe.poll(0))
    pu = StatusReporter(PU, 1_000_000, lambda now: ReportFields(
        session_status(1), "vm: 198.51.100.30:40001", None,
        (home, ComponentAssociation(PE, 1_500_000, ppid=33)),
    ))  # fmt: skip
    made.append(pu.poll(0))
    made.append(pu.final(2_000_000))
    return [r for r in made if r is not None]


def test_tshark_reads_our_reports(tmp_path: Path) -> None:
    datagrams = reports()
    path = tmp_path / "csp.pcap"
    write_pcap(str(path), [udp_packet(d, CSP_PORT, n) for n, d in enumerate(datagrams)])
    malformed = tshark("-r", str(path), "-Y", "_ws.malformed or _ws.expert.severity >= warning")
    assert malformed == ""
    out = tshark("-r", str(path), "-Y", "componentstatusprotocol", "-T", "fields",
                 "-E", "occurrence=a", *(f"-e{f}" for f in FIELDS))  # fmt: skip
    rows = [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]
    assert len(rows) == len(datagrams) == 4
    short = {k.rsplit(".", 1)[1]: v for k, v in rows[0].items()}
    assert short["message_type"] == "1" and short["message_length"] == "312"
    assert int(short["message_sender_id"], 0) == PR
    assert short["componentstatusreport_status"] == "3[2] PEs in 1 Pool, 1 Peer"
    assert short["componentstatusreport_location"] == "vm: 198.51.100.1:3863"
    assert int(short["componentassociation_receiver_id"], 0) == PEER
    assert short["componentassociation_ppid"] == "12"
    pe, pu, final = ({k.rsplit(".", 1)[1]: v for k, v in row.items()} for row in rows[1:])
    assert int(pe["message_sender_id"], 0) == PE and pe["componentstatusreport_status"] == (
        "2 Sessions"
    )
    assert int(pu["message_sender_id"], 0) == PU
    assert pu["componentstatusreport_associations"] == "2"
    assert [int(x, 0) for x in pu["componentassociation_receiver_id"].split(",")] == [PR, PE]
    assert pu["componentassociation_ppid"].split(",") == ["11", "33"]
    assert final["message_final_bit"] in ("1", "True")
    assert final["componentstatusreport_status"] == ""
    assert final["componentstatusreport_associations"] == "0"
