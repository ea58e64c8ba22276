"""rserpool.capture on synthetic captures: where ASAP/ENRP messages hide in SCTP and UDP."""

from __future__ import annotations

from pathlib import Path

import dpkt
import pytest

from interop.capture import decode as tshark_decode
from rserpool.capture import read_capture
from rserpool.wire import (
    EndpointKeepAlive,
    HandleTableResponse,
    PoolEntry,
    Presence,
    ServerAnnounce,
    encode_message,
)
from tests.capture.builder import (
    A4,
    A6,
    B4,
    B6,
    ETHERNET,
    RAW,
    SLL,
    SLL2,
    E,
    capture,
    data_chunk,
    fragments,
    sack,
    sctp,
    udp,
)
from tests.wire.samples import HANDLE, HOMED_PE, PE_ID, PR_A, SAMPLES, SERVER

KEEP_ALIVE = EndpointKeepAlive(server_id=PR_A, pool_handle=HANDLE, pe_id=PE_ID)
PRESENCE = Presence(sender_id=PR_A, pe_checksum=0x1234, server_information=SERVER)
ANNOUNCE = ServerAnnounce(server_id=PR_A, transports=(SERVER.transport,))
#: A Handle Table Response of 40 PEs: 3 KB, more than one DATA chunk on a 1500-byte path.
BIG = HandleTableResponse(
    sender_id=PR_A, receiver_id=0, entries=(PoolEntry(HANDLE, (HOMED_PE,) * 40),)
)


def names(data: bytes) -> list[str]:
    return [r.name for r in read_capture(data).records]


def test_one_message_per_chunk_in_order_with_frame_time_and_addresses() -> None:
    decoded = read_capture(capture([sctp([data_chunk(m, tsn)]) for tsn, m in enumerate(SAMPLES)]))
    assert [r.message for r in decoded.records] == SAMPLES
    assert [r.frame for r in decoded.records] == list(range(1, len(SAMPLES) + 1))
    first, second = decoded.records[:2]
    assert first.time == 0.0 and second.time == pytest.approx(0.01)
    assert (first.src, first.dst, first.transport) == ((A4, 40000), (B4, 3863), "sctp")
    assert first.where() == "sctp 192.0.2.1:40000 -> 192.0.2.2:3863"
    assert (first.protocol, first.type, first.chunks) == ("asap", 1, 1)
    assert decoded.frames == len(SAMPLES) and not decoded.undecodable


def test_bundled_chunks_are_separate_messages_control_chunks_ignored() -> None:
    bundle = [sack(), data_chunk(KEEP_ALIVE, 7), data_chunk(ANNOUNCE, 8), data_chunk(PRESENCE, 9)]
    decoded = read_capture(capture([sctp(bundle)]))
    assert [r.message for r in decoded.records] == [KEEP_ALIVE, ANNOUNCE, PRESENCE]
    assert {r.frame for r in decoded.records} == {1}


def test_fragments_across_packets_are_reassembled_at_the_last_one() -> None:
    parts = fragments(BIG, tsn=100, sizes=[1000, 1000])
    assert len(parts) == 3 and len(encode_message(BIG)) > 2000
    decoded = read_capture(capture([sctp([p]) for p in parts]))
    (record,) = decoded.records
    assert (record.message, record.frame, record.chunks) == (BIG, 3, 3)


def test_fragments_out_of_order_and_interleaved_with_other_streams() -> None:
    a, b, c = fragments(BIG, tsn=10, sizes=[1200, 1200], stream=1)
    other = data_chunk(KEEP_ALIVE, 13, stream=2)
    packets = [sctp([a]), sctp([c]), sctp([other, sack()]), sctp([b])]  # b was lost, resent
    decoded = read_capture(capture(packets))
    assert [(r.message, r.frame) for r in decoded.records] == [(KEEP_ALIVE, 3), (BIG, 4)]


def test_tsn_wraps_around() -> None:
    parts = fragments(BIG, tsn=0xFFFFFFFF, sizes=[1500])
    assert read_capture(capture([sctp([p]) for p in parts])).records[0].message == BIG


def test_retransmitted_duplicates_are_dropped_per_association_direction() -> None:
    chunk = data_chunk(KEEP_ALIVE, 42)
    packets = [
        sctp([chunk]),
        sctp([chunk], src=A6, dst=B6),  # resent over the other path of a multi-homed assoc
        sctp([chunk], vtag=0x0A0B0C0D),  # same TSN, another association: a new message
        sctp([chunk], sport=3863, dport=40000),  # same TSN, the other direction: a new message
    ]
    decoded = read_capture(capture(packets))
    assert [r.frame for r in decoded.records] == [1, 3, 4]
    assert (decoded.duplicates, decoded.duplicate_frames) == (1, (2,))


def test_retransmitted_fragment_is_not_joined_twice() -> None:
    a, b = fragments(BIG, tsn=1, sizes=[2000])
    decoded = read_capture(capture([sctp([a]), sctp([a]), sctp([b]), sctp([b])]))
    assert [(r.message, r.frame) for r in decoded.records] == [(BIG, 3)]
    assert decoded.duplicates == 2


def test_udp_announces_and_multicast_presence() -> None:
    packets = [
        udp(ANNOUNCE),
        udp(PRESENCE, dst="239.0.0.51", sport=9901, dport=9901),
        udp(PRESENCE, dst=B4, sport=9901, dport=50000),  # by the source port
        udp(b"not rserpool", sport=53, dport=53),
    ]
    decoded = read_capture(capture(packets))
    assert [r.message for r in decoded.records] == [ANNOUNCE, PRESENCE, PRESENCE]
    assert decoded.records[0].where() == "udp 192.0.2.1:3863 -> 239.0.0.50:3863"
    assert (decoded.records[0].chunks, decoded.records[1].ppid) == (0, 12)


def test_ppid_zero_goes_by_port_other_ppids_are_not_rserpool() -> None:
    packets = [
        sctp([data_chunk(encode_message(PRESENCE), 1, ppid=0)], dport=9901),
        sctp([data_chunk(encode_message(KEEP_ALIVE), 2, ppid=0)], sport=3863, dport=40001),
        sctp([data_chunk(b"ping", 3, ppid=0)], dport=5000),  # PPID 0, no RSerPool port
        sctp([data_chunk(b"pong", 4, ppid=33)], dport=3863),  # an RSPLIB service PPID
    ]
    decoded = read_capture(capture(packets))
    assert [(r.message, r.ppid) for r in decoded.records] == [(PRESENCE, 12), (KEEP_ALIVE, 11)]


@pytest.mark.parametrize("link_type", [ETHERNET, SLL, SLL2, RAW])
@pytest.mark.parametrize("ng", [True, False], ids=["pcapng", "pcap"])
@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_link_layers_file_formats_and_ip_versions(link_type: int, ng: bool, v6: bool) -> None:
    src, dst = (A6, B6) if v6 else (A4, B4)
    packets = [sctp([data_chunk(KEEP_ALIVE, 1)], src=src, dst=dst), udp(ANNOUNCE, src=src)]
    decoded = read_capture(capture(packets, link_type=link_type, ng=ng))
    assert decoded.link_type == link_type
    assert [r.message for r in decoded.records] == [KEEP_ALIVE, ANNOUNCE]
    assert decoded.records[0].src == (src, 40000)
    if v6:
        assert decoded.records[0].where() == f"sctp [{A6}]:40000 -> [{B6}]:3863"


def test_nanosecond_pcap() -> None:
    decoded = read_capture(capture([udp(ANNOUNCE), udp(ANNOUNCE)], ng=False, nano=True))
    assert [r.time for r in decoded.records] == [0.0, pytest.approx(0.01)]


def test_undecodable_message_is_a_record_with_the_reason() -> None:
    bad = b"\x01\x00\x00\x08\x00\x09\x00\x04"  # a Registration whose pool handle is empty
    decoded = read_capture(capture([sctp([data_chunk(bad, 1, ppid=11)])]))
    (record,) = decoded.records
    assert record.message is None and record.undecodable and not record.incomplete
    assert record.error is not None and "(at offset" in record.error
    assert record.name == "ASAP message" and decoded.undecodable == [record]


def test_fragments_the_capture_lacks_make_an_incomplete_record() -> None:
    first, _, last = fragments(BIG, tsn=5, sizes=[1000, 1000])
    decoded = read_capture(capture([sctp([first]), sctp([last]), sctp([data_chunk(PRESENCE, 9)])]))
    assert [r.name for r in decoded.records] == ["ENRP message", "ENRP message", "ENRP Presence"]
    head, tail = decoded.incomplete
    assert (head.frame, head.chunks, tail.frame) == (1, 1, 2)
    assert head.error is not None and "TSN 0x5..0x5" in head.error
    assert decoded.messages == [decoded.records[2]] and not decoded.undecodable


def test_a_stray_ending_fragment_does_not_swallow_the_next_message() -> None:
    _, _, tail = fragments(BIG, tsn=5, sizes=[1000, 1000])  # the capture began mid-message
    decoded = read_capture(capture([sctp([tail]), sctp([data_chunk(PRESENCE, 8, flags=0x02)]),
                                    sctp([data_chunk(b"", 9, ppid=12, flags=E)])]))  # fmt: skip
    assert [r.incomplete for r in decoded.records] == [True, False]
    assert decoded.records[1].message == PRESENCE


def test_chunk_cut_short_by_the_snap_length_is_undecodable() -> None:
    chunk = data_chunk(KEEP_ALIVE, 1)
    packet = sctp([chunk])
    frame = bytes(packet)[:-8]  # as if captured with a small snap length
    decoded = read_capture(capture([dpkt.ip.IP(frame)], link_type=RAW))
    (record,) = decoded.records
    assert record.undecodable and "the capture holds" in (record.error or "")


def test_ip_fragments_and_bad_headers_are_counted_and_skipped() -> None:
    fragment = sctp([data_chunk(KEEP_ALIVE, 1)])
    fragment.mf = 1
    bad_sctp = sctp([data_chunk(KEEP_ALIVE, 2)])
    bad_sctp.data = b"\x00\x01"  # too short for an SCTP common header
    v6_fragment = udp(ANNOUNCE, src=A6, dst=B6)
    v6_fragment.nxt = 44
    v6_fragment.data = b"\x11\x00\x00\x01\x00\x00\x00\x01" + bytes(v6_fragment.data)
    v6_fragment.plen = len(v6_fragment.data)
    packets = [fragment, bad_sctp, v6_fragment, udp(ANNOUNCE)]
    decoded = read_capture(capture(packets, link_type=RAW))
    assert [r.frame for r in decoded.records] == [4]
    assert (decoded.fragments, decoded.unparsed) == (2, 1)


def test_non_ip_frames_are_skipped() -> None:
    arp = dpkt.ethernet.Ethernet(type=0x0806, data=b"\x00" * 28)
    data = capture([udp(ANNOUNCE)], link_type=ETHERNET)
    with_arp = capture([arp, udp(ANNOUNCE)], link_type=RAW)  # raw IP: garbage, not IP v4/v6
    assert names(data) == ["ASAP Server Announce"]
    assert names(with_arp) == ["ASAP Server Announce"]


def test_tshark_finds_the_same_messages(tmp_path: Path) -> None:
    """(tshark must be installed, as for tests/wire/test_tshark.py.) Wireshark's SCTP
    reassembly and TSN analysis agree: bundles, fragments across packets,
    a retransmission, UDP, PPID 0 by port; same frames, same types."""
    a, b, c = fragments(BIG, tsn=100, sizes=[1200, 1200])
    packets = [
        sctp([data_chunk(m, tsn) for tsn, m in enumerate(SAMPLES[:5])]),
        sctp([a]),
        sctp([c, data_chunk(KEEP_ALIVE, 110, stream=3)]),
        sctp([b]),
        sctp([data_chunk(KEEP_ALIVE, 110, stream=3)]),  # a retransmission
        udp(ANNOUNCE),
        udp(PRESENCE, dst="239.0.0.51", sport=9901, dport=9901),
        sctp([data_chunk(encode_message(PRESENCE), 1, ppid=0)], dport=9901, vtag=7),
    ]
    path = tmp_path / "synthetic.pcapng"
    path.write_bytes(capture(packets, link_type=SLL2))
    theirs = tshark_decode(path)
    ours = read_capture(path.read_bytes())
    assert theirs.malformed == 0
    assert [(r.frame, r.protocol, r.type) for r in ours.messages] == [
        (m.frame, m.protocol, m.type) for m in theirs.messages
    ]
    assert len(ours.messages) == 5 + 1 + 1 + 3 and ours.duplicates == 1
