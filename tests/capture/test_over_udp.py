"""rserpool.capture on SCTP over UDP (RFC 6951): what ``--transport udp`` sends.

Synthetic captures (tests/capture/builder.py) and a real one: ``udp-loopback.pcapng``, written
by ``make demo`` on a machine without kernel SCTP (tshark -i lo -f "udp port 9899"): our
registrar, three echo PEs and ``rserpool terminal`` over our own SCTP over UDP on loopback,
one PE killed, the failover; link type 1 (Linux's loopback has an all-zero Ethernet header).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from interop.capture import decode as tshark_decode
from rserpool.capture import read_capture
from rserpool.cli import main
from rserpool.wire import EndpointKeepAlive, HandleResolution, Registration
from tests.capture.builder import (
    A6,
    B6,
    ETHERNET,
    capture,
    data_chunk,
    fragments,
    sack,
    sctp,
    sctp_over_udp,
    udp,
)
from tests.capture.test_reader import ANNOUNCE, BIG, KEEP_ALIVE, PRESENCE

REAL = Path(__file__).parent.parent / "data" / "captures" / "udp-loopback.pcapng"


def cookie_echo(length: int) -> bytes:
    """A COOKIE ECHO chunk (type 10) with a ``length``-byte cookie, padded: an odd length
    leaves padding that only a reader that pads every chunk steps over."""
    return struct.pack("!BBH", 10, 0, 4 + length) + bytes(length) + bytes(-length % 4)


def test_a_message_in_sctp_over_udp_has_the_sctp_ports_and_says_so() -> None:
    decoded = read_capture(capture([sctp_over_udp([data_chunk(KEEP_ALIVE, 1)], dport=3863)]))
    (record,) = decoded.records
    assert record.message == KEEP_ALIVE and record.transport == "sctp"
    assert (record.src, record.dst) == (("192.0.2.1", 40000), ("192.0.2.2", 3863))
    assert record.udp_ports == (9899, 9899)
    assert record.where() == "sctp/udp 192.0.2.1:40000 -> 192.0.2.2:3863"


def test_reassembled_and_deduplicated_as_over_ip() -> None:
    """Fragments over three datagrams, bundled with a SACK, and a retransmission (IPv6)."""
    a, b, c = fragments(BIG, tsn=100, sizes=[1200, 1200])
    keep_alive = data_chunk(KEEP_ALIVE, 103)
    over = [
        sctp_over_udp([sack(), a], A6, B6),
        sctp_over_udp([b], A6, B6),
        sctp_over_udp([c, keep_alive], A6, B6),
        sctp_over_udp([keep_alive], A6, B6, udp_ports=(50000, 9899)),  # retransmitted
    ]
    decoded = read_capture(capture(over))
    assert [(r.message, r.frame, r.chunks) for r in decoded.records] == [
        (BIG, 3, 3),
        (KEEP_ALIVE, 3, 1),
    ]
    assert (decoded.duplicates, decoded.duplicate_frames) == (1, (4,))


def test_another_encapsulation_port_only_when_asked() -> None:
    data = capture([sctp_over_udp([data_chunk(KEEP_ALIVE, 1)], udp_ports=(10000, 10000))])
    assert read_capture(data).records == ()
    (record,) = read_capture(data, udp_port=10000).records
    assert record.message == KEEP_ALIVE and record.udp_ports == (10000, 10000)
    standard = capture([sctp_over_udp([data_chunk(KEEP_ALIVE, 1)])])
    assert read_capture(standard, udp_port=None).records == ()


def test_announces_stay_udp_next_to_sctp_over_udp() -> None:
    packets = [
        udp(ANNOUNCE),
        sctp_over_udp([data_chunk(PRESENCE, 1)], dport=9901),
        udp(PRESENCE, dst="239.0.0.51", sport=9901, dport=9901),
    ]
    decoded = read_capture(capture(packets))
    assert [(r.transport, r.udp_ports, r.message) for r in decoded.records] == [
        ("udp", None, ANNOUNCE),
        ("sctp", (9899, 9899), PRESENCE),
        ("udp", None, PRESENCE),
    ]


@pytest.mark.parametrize("over_udp", [False, True])
def test_chunks_after_an_odd_length_control_chunk(over_udp: bool) -> None:
    """A 91-byte cookie leaves 1 byte of padding; the DATA chunk bundled after it is found
    (dpkt's own SCTP parser pads only DATA chunks, and misreads everything after)."""
    chunks = [cookie_echo(91), data_chunk(KEEP_ALIVE, 7)]
    packet = sctp_over_udp(chunks) if over_udp else sctp(chunks)
    decoded = read_capture(capture([packet]))
    assert [r.message for r in decoded.records] == [KEEP_ALIVE] and decoded.unparsed == 0


def test_a_datagram_too_short_for_sctp_is_counted_unparsed() -> None:
    decoded = read_capture(capture([udp(b"\x26\x8b\x0f\x17", sport=9899, dport=9899)]))
    assert (decoded.records, decoded.unparsed) == ((), 1)


@pytest.mark.parametrize("port", [9899, 10000])
def test_tshark_finds_the_same_messages(tmp_path: Path, port: int) -> None:
    """(tshark must be installed.) Wireshark decodes UDP port 9899 as SCTP, and another port
    when told (interop.capture.decode says ``-d udp.port==N,sctp``): bundles, fragments, an
    odd-length control chunk and a retransmission, as we read them."""
    a, b, c = fragments(BIG, tsn=100, sizes=[1200, 1200])
    chunk_lists = [
        [data_chunk(KEEP_ALIVE, 1), data_chunk(PRESENCE, 2, ppid=12)],
        [a],
        [cookie_echo(91), b],
        [c],
        [data_chunk(PRESENCE, 2, ppid=12)],  # a retransmission
    ]
    path = tmp_path / "udp.pcapng"
    packets = [sctp_over_udp(chunks, udp_ports=(port, port)) for chunks in chunk_lists]
    path.write_bytes(capture(packets, link_type=ETHERNET))
    theirs = tshark_decode(path, port)
    ours = read_capture(path.read_bytes(), port)
    assert theirs.malformed == 0
    assert [(r.frame, r.protocol, r.type) for r in ours.messages] == [
        (m.frame, m.protocol, m.type) for m in theirs.messages
    ]  # (interop.capture's raw bytes of a reassembled message are its last fragment's)
    assert len(ours.messages) == 3 and ours.duplicates == 1


def test_the_demo_capture() -> None:
    decoded = read_capture(REAL.read_bytes())
    assert (decoded.link_type, decoded.frames, len(decoded.messages)) == (ETHERNET, 76, 19)
    assert decoded.undecodable == [] and decoded.incomplete == [] and decoded.unparsed == 0
    assert all(r.udp_ports is not None and r.transport == "sctp" for r in decoded.records)
    registrations = [r for r in decoded.messages if isinstance(r.message, Registration)]
    pes = {r.message.pool_element.pe_id: r.src[0] for r in registrations}  # type: ignore[union-attr]
    assert pes == {0x2001: "127.0.0.2", 0x2002: "127.0.0.3", 0x2003: "127.0.0.4"}
    resolutions = [r for r in decoded.messages if isinstance(r.message, HandleResolution)]
    assert len(resolutions) == 2  # the second one is the failover
    keep_alives = [r for r in decoded.messages if isinstance(r.message, EndpointKeepAlive)]
    assert {r.dst[0] for r in keep_alives} == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}


def test_tshark_reads_the_demo_capture_as_we_do() -> None:
    theirs = tshark_decode(REAL)
    ours = read_capture(REAL.read_bytes())
    assert theirs.malformed == 0
    assert [(r.frame, r.protocol, r.type, r.data) for r in ours.messages] == [
        (m.frame, m.protocol, m.type, m.raw) for m in theirs.messages
    ]


def test_rserpool_decode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", str(REAL)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 20 and lines[-1].startswith("19 ASAP/ENRP messages in 76 frames")
    assert lines[0].startswith("#9") and " sctp/udp 127.0.0.2:" in lines[0]
    assert main(["decode", "--udp-port", "0", str(REAL)]) == 0
    assert capsys.readouterr().out.startswith("0 ASAP/ENRP messages in 76 frames")
    moved = tmp_path / "moved.pcapng"
    moved.write_bytes(capture([sctp_over_udp([data_chunk(KEEP_ALIVE, 1)], udp_ports=(7, 7))]))
    assert main(["decode", "-v", "--udp-port", "7", str(moved)]) == 0
    out = capsys.readouterr().out
    assert "ASAP Endpoint Keep Alive" in out and "SCTP over UDP (RFC 6951): UDP port 7 -> 7" in out
