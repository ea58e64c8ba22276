"""What the core offers a driver beyond the RFC's primitives: the answer for a port nobody
listens on, undelivered messages handed back on loss, per-association settings and the send
buffer's fill level."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rserpool.sctp import (
    CommunicationLost,
    LostReason,
    SctpConfig,
    State,
    Undelivered,
    answer_closed_port,
    decode_packet_untrusted,
)
from rserpool.sctp.chunks import Abort, CookieAck, Data, Init, ShutdownAck
from rserpool.sctp.chunks import ShutdownComplete as ShutdownCompleteChunk
from rserpool.sctp.packet import assemble
from tests.sctp_stack.helpers import PORT, A, B, carry, endpoints, establish


def packet(tag: int, *chunks: object) -> bytes:
    return assemble(5000, 7, tag, [c.encode() for c in chunks])  # type: ignore[attr-defined]


def test_a_closed_port_answers_like_tcp_rst() -> None:
    init = Init(0x1234, 65536, 10, 10, 99)
    (abort,) = decode_packet_untrusted(answer_closed_port(packet(0, init)) or b"").chunks
    reply = decode_packet_untrusted(answer_closed_port(packet(0, init)) or b"")
    assert isinstance(abort, Abort) and not abort.reflected  # §8.4 rule 3: the INIT's tag
    assert (reply.verification_tag, reply.source_port, reply.destination_port) == (0x1234, 7, 5000)

    data = Data(1, 0, 0, 11, b"x")
    reply = decode_packet_untrusted(answer_closed_port(packet(0xABCD, data)) or b"")
    assert reply.verification_tag == 0xABCD and reply.chunks == (Abort(reflected=True),)

    reply = decode_packet_untrusted(answer_closed_port(packet(0xABCD, ShutdownAck())) or b"")
    assert reply.chunks == (ShutdownCompleteChunk(reflected=True),)  # §8.4 rule 5

    for silent in (Abort(), CookieAck(), ShutdownCompleteChunk()):
        assert answer_closed_port(packet(0xABCD, silent)) is None
    assert answer_closed_port(packet(1, init)) is None  # an INIT must carry tag 0
    assert answer_closed_port(b"\x00" * 11) is None  # malformed: nothing
    assert answer_closed_port(packet(0xABCD, data)[:-1] + b"\xff") is None  # bad CRC32c


def test_loss_hands_back_every_undelivered_message() -> None:
    config = SctpConfig(
        association_max_retrans=1, path_max_retrans=1, rto_initial=100, rto_min=100, rto_max=100
    )
    a, b = endpoints(config)
    assoc = establish(a, b)
    a.send(assoc, 0, 11, b"delivered", 0)
    carry(a, b, 0)
    b.handle_timers(300)  # the delayed SACK
    carry(b, a, 300)
    assert a.buffered(assoc) == 0
    a.send(assoc, 1, 12, b"y" * 3000, 400)  # three DATA chunks, sent
    a.send(assoc, 2, 13, b"z", 400)
    assert a.buffered(assoc) == 3001
    a.datagrams()  # lost on the way
    now = 400
    lost = None
    while lost is None:
        now += 100
        a.handle_timers(now)
        a.datagrams()
        lost = next((e for e in a.events() if isinstance(e, CommunicationLost)), None)
    assert lost.undelivered == (
        Undelivered(1, 12, b"y" * 3000, sent=True),
        Undelivered(2, 13, b"z", sent=True),
    )


def test_settings_change_per_association() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    faster = dataclasses.replace(a.config, rto_min=50, rto_max=200, association_max_retrans=2)
    a.reconfigure(assoc, faster)
    association = a.association(assoc)
    assert association.config is faster
    assert all(p.rto.rto <= 200 for p in association.paths.values())
    assert a.config is not faster  # the endpoint's default is untouched
    a.reconfigure(0, faster)
    assert a.config is faster


def _with_valid_crc(data: bytes) -> bytes:
    """``data`` with its verification tag and chunks as they are and a correct CRC32c: a
    hostile peer's packet passes the checksum."""
    header = data[:8]
    return assemble(
        int.from_bytes(header[:2], "big"),
        int.from_bytes(header[2:4], "big"),
        int.from_bytes(header[4:8], "big"),
        [data[12:]],
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_hostile_peer_cannot_break_an_association(data: st.DataObject) -> None:
    """Real packets of a live association, mutated and re-checksummed, fed to both sides in any
    state they reach: the endpoint never raises, and every association it keeps is in a state
    of the table."""
    a, b = endpoints()
    assoc = establish(a, b)
    a.send(assoc, 0, 11, b"m" * 2500, 0)
    seen = [d.data for d in a.datagrams()]
    for d in seen:
        b.receive(d, A, PORT, 1)
    b.handle_timers(300)
    seen += [d.data for d in b.datagrams()]
    for _ in range(data.draw(st.integers(1, 6))):
        original = bytearray(data.draw(st.sampled_from(seen)))
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(4, len(original) - 1))
            original[at] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(12, len(original)))
        forged = _with_valid_crc(bytes(original[:cut]))
        target, source = (b, A) if data.draw(st.booleans()) else (a, B)
        target.receive(forged, source, PORT, 400)
        target.handle_timers(data.draw(st.integers(400, 100_000)))
    for endpoint in (a, b):
        assert all(x.state in State for x in endpoint.associations.values())


def test_an_icmp_unreachable_counts_as_an_abort_only_for_our_own_packets() -> None:
    """RFC 6951 §5.5 and RFC 9260 §10: a UDP port unreachable for a packet we sent is a
    protocol unreachable: an ABORT, if the packet carries the peer's tag (or is our INIT, in
    COOKIE-WAIT, with our Initiate Tag); anything else is ignored."""
    a, b = endpoints()
    assoc = a.connect([B], b.port, PORT, 0)
    (init,) = a.datagrams()
    forged_tag = bytearray(init.data)
    forged_tag[16:20] = b"\x00\x00\x00\x01"  # not our Initiate Tag
    for ignored in (bytes(forged_tag), init.data[:15], init.data):
        a.protocol_unreachable(ignored, A, 0)  # A: not where it went
    a.protocol_unreachable(bytes(forged_tag), B, 0)
    assert a.association(assoc).state is State.COOKIE_WAIT and a.events() == []
    a.protocol_unreachable(init.data, B, 0)
    (lost,) = a.events()
    assert isinstance(lost, CommunicationLost) and lost.reason is LostReason.UNREACHABLE

    a, b = endpoints()
    assoc = establish(a, b)
    a.events()
    a.send(assoc, 0, 11, b"to a dead peer", 10)
    (data,) = a.datagrams()
    wrong = bytearray(data.data)
    wrong[4:8] = b"\x00\x00\x00\x07"
    a.protocol_unreachable(bytes(wrong), B, 10)  # another tag: not ours
    assert a.events() == []
    a.protocol_unreachable(data.data, B, 10)
    (lost,) = a.events()
    assert isinstance(lost, CommunicationLost) and lost.undelivered[0].data == b"to a dead peer"
