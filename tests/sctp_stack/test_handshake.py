"""Association setup and teardown, packet by packet (RFC 9260 §5, §8.4, §8.5, §9)."""

from __future__ import annotations

import dataclasses

from rserpool.sctp import (
    CommunicationLost,
    CommunicationUp,
    LostReason,
    Restart,
    SctpConfig,
    ShutdownComplete,
    State,
    decode_packet_untrusted,
)
from rserpool.sctp.causes import ErrorCause
from rserpool.sctp.chunks import (
    Abort,
    Chunk,
    CookieEcho,
    Data,
    Error,
    Init,
    InitAck,
    ShutdownAck,
    UnknownChunk,
)
from rserpool.sctp.chunks import ShutdownComplete as ShutdownCompleteChunk
from rserpool.sctp.constants import CauseCode
from rserpool.sctp.packet import encode_packet
from rserpool.sctp.params import HostNameAddress, UnknownParameter, UnrecognizedParameter
from tests.sctp_stack.helpers import B2, PORT, A, B, carry, endpoints, establish, kinds, packets


def test_init_is_answered_without_keeping_state() -> None:
    a, b = endpoints()
    a.connect([B], b.port, PORT, 0)
    (init,) = carry(a, b, 0)
    assert kinds(init) == ["Init"] and init.verification_tag == 0
    assert b.associations == {}  # §5.1.3: no TCB before a valid COOKIE ECHO
    (ack,) = packets(b.datagrams())
    assert isinstance(ack.chunks[0], InitAck)
    assert ack.verification_tag == init.chunks[0].initiate_tag  # type: ignore[union-attr]
    assert ack.chunks[0].state_cookie is not None
    assert b.associations == {}


def test_four_way_handshake_and_tags() -> None:
    a, b = endpoints()
    assoc = a.connect([B], b.port, PORT, 0)
    assert a.association(assoc).state is State.COOKIE_WAIT
    init = carry(a, b, 0)[0].chunks[0]
    init_ack = carry(b, a, 0)[0].chunks[0]
    assert a.association(assoc).state is State.COOKIE_ECHOED
    (echo,) = carry(a, b, 0)
    assert kinds(echo) == ["CookieEcho"] and echo.verification_tag == init_ack.initiate_tag  # type: ignore[union-attr]
    (cookie_ack,) = carry(b, a, 0)
    assert kinds(cookie_ack)[0] == "CookieAck"
    assert cookie_ack.verification_tag == init.initiate_tag  # type: ignore[union-attr]
    assert a.association(assoc).state is State.ESTABLISHED
    assert [type(e) for e in a.events()] == [CommunicationUp]
    assert [type(e) for e in b.events()] == [CommunicationUp]


def test_a_forged_or_replayed_cookie_creates_nothing() -> None:
    a, b = endpoints()
    a.connect([B], b.port, PORT, 0)
    carry(a, b, 0)
    carry(b, a, 0)
    (d,) = a.datagrams()
    forged = bytearray(decode_packet_untrusted(d.data).chunks[0].cookie)  # type: ignore[union-attr]
    forged[20] ^= 0xFF
    tag = decode_packet_untrusted(d.data).verification_tag
    b.receive(encode_packet(5000, 6000, tag, [CookieEcho(bytes(forged))]), A, PORT, 0)
    assert b.associations == {} and b.datagrams() == []
    b.receive(encode_packet(5000, 6000, tag ^ 1, [CookieEcho(bytes(forged))]), A, PORT, 0)
    assert b.associations == {}


def test_a_stale_cookie_is_reported_and_the_initiator_retries() -> None:
    a, b = endpoints(SctpConfig(valid_cookie_life=1000))
    assoc = a.connect([B], b.port, PORT, 0)
    carry(a, b, 0)
    carry(b, a, 0)
    carry(a, b, 5000)  # the COOKIE ECHO arrives 4 s too late
    (error,) = carry(b, a, 5000)
    assert kinds(error) == ["Error"]
    (cause,) = error.chunks[0].causes  # type: ignore[union-attr]
    assert cause.code == CauseCode.STALE_COOKIE and cause.staleness_us == 4_000_000
    (init,) = carry(a, b, 5000)  # §5.2.6: a new INIT asking for more cookie life
    assert kinds(init) == ["Init"] and a.association(assoc).state is State.COOKIE_WAIT
    assert any(type(p).__name__ == "CookiePreservative" for p in init.chunks[0].parameters)  # type: ignore[union-attr]
    carry(b, a, 5000)
    carry(a, b, 5000)
    carry(b, a, 5000)
    assert a.association(assoc).state is State.ESTABLISHED


def test_out_of_the_blue_packets() -> None:
    """§8.4: ABORT answers with the T bit; ABORT, SHUTDOWN COMPLETE, COOKIE ACK get nothing."""
    _, b = endpoints()
    b.receive(encode_packet(5000, 6000, 77, [Data(1, 0, 0, 0, b"x")]), A, PORT, 0)
    (answer,) = packets(b.datagrams())
    assert answer.verification_tag == 77 and answer.chunks == (Abort(reflected=True),)
    b.receive(encode_packet(5000, 6000, 77, [ShutdownAck()]), A, PORT, 0)
    (answer,) = packets(b.datagrams())
    assert answer.chunks == (ShutdownCompleteChunk(reflected=True),)
    for chunk in (Abort(), ShutdownCompleteChunk()):
        b.receive(encode_packet(5000, 6000, 77, [chunk]), A, PORT, 0)
        assert b.datagrams() == []
    b.receive(encode_packet(5000, 6000, 5, [Init(9, 1500, 1, 1, 0)]), A, PORT, 0)
    assert b.datagrams() == []  # §8.5.1 A: an INIT with a non-zero tag


def test_invalid_init_is_aborted_with_its_own_tag() -> None:
    _, b = endpoints()
    for init in (Init(9, 1000, 1, 1, 0), Init(9, 1500, 0, 1, 0), Init(9, 1500, 1, 0, 0)):
        b.receive(encode_packet(5000, 6000, 0, [init]), A, PORT, 0)
        (answer,) = packets(b.datagrams())
        assert answer.verification_tag == 9 and isinstance(answer.chunks[0], Abort)
        assert not answer.chunks[0].reflected
    b.receive(encode_packet(5000, 6000, 0, [Init(0, 1500, 1, 1, 0)]), A, PORT, 0)
    assert b.datagrams() == []  # tag 0: discarded silently


def test_host_name_address_is_refused() -> None:
    _, b = endpoints()
    init = Init(9, 1500, 1, 1, 0, (HostNameAddress(b"example.org\0"),))
    b.receive(encode_packet(5000, 6000, 0, [init]), A, PORT, 0)
    (answer,) = packets(b.datagrams())
    (cause,) = answer.chunks[0].causes  # type: ignore[union-attr]
    assert cause.code == CauseCode.UNRESOLVABLE_ADDRESS


def test_unknown_init_parameters_follow_their_action_bits() -> None:
    _, b = endpoints()
    params = (
        UnknownParameter(0x8000, b""),  # ECN Capable: skip silently
        UnknownParameter(0xC001, b"ab"),  # skip and report
        UnknownParameter(0x4002, b"cd"),  # stop and report
        UnknownParameter(0xC003, b"ef"),  # never reached
    )
    b.receive(encode_packet(5000, 6000, 0, [Init(9, 1500, 1, 1, 0, params)]), A, PORT, 0)
    (answer,) = packets(b.datagrams())
    reported = [p for p in answer.chunks[0].parameters if isinstance(p, UnrecognizedParameter)]  # type: ignore[union-attr]
    assert [r.parameter for r in reported] == [b"\xc0\x01\x00\x06ab", b"\x40\x02\x00\x06cd"]


def test_unknown_chunks_follow_their_action_bits() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    b.events()
    tag = a.association(assoc).peer_tag
    chunks: list[Chunk] = [
        UnknownChunk(0xC0, 0, b"r"),
        UnknownChunk(0x80, 0, b"s"),
        UnknownChunk(0x40, 0, b"t"),
        Data(a.association(assoc).local_tsn, 0, 0, 0, b"never"),
    ]
    b.receive(encode_packet(5000, 6000, tag, chunks), A, PORT, 0)
    errors = [c for p in packets(b.datagrams()) for c in p.chunks if isinstance(c, Error)]
    reported = [c.causes[0].info for c in errors]
    assert reported == [b"\xc0\x00\x00\x05r", b"\x40\x00\x00\x05t"]
    assert b.events() == []  # the DATA after the 01 chunk was not processed


def test_wrong_verification_tag_is_discarded() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    b.events()
    tag = a.association(assoc).peer_tag
    b.receive(encode_packet(5000, 6000, tag ^ 1, [Data(0, 0, 0, 0, b"x")]), A, PORT, 0)
    assert b.datagrams() == [] and b.events() == []


def test_abort_t_bit_rules() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    assoc_a = a.association(assoc)
    a.events()
    # T bit set with A's own tag: refused; T bit set with B's tag (reflected): accepted
    a.receive(encode_packet(6000, 5000, assoc_a.my_tag, [Abort(reflected=True)]), B, PORT, 0)
    assert a.association(assoc).state is State.ESTABLISHED
    a.receive(encode_packet(6000, 5000, assoc_a.peer_tag, [Abort(reflected=True)]), B, PORT, 0)
    assert assoc_a.state is State.CLOSED
    (lost,) = a.events()
    assert isinstance(lost, CommunicationLost) and lost.reason is LostReason.ABORTED


def test_user_abort_reaches_the_peer() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    b.events()
    a.abort(assoc, 0, b"enough")
    carry(a, b, 0)
    (lost,) = b.events()
    assert isinstance(lost, CommunicationLost)
    assert lost.causes == (ErrorCause.user_abort(b"enough"),)
    assert a.associations == {} and b.associations == {}


def test_graceful_shutdown_waits_for_outstanding_data() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    a.send(assoc, 0, 7, b"last words", 0)
    a.shutdown(assoc, 0)
    assert a.association(assoc).state is State.SHUTDOWN_PENDING
    (data,) = carry(a, b, 0)
    assert kinds(data) == ["Data"]
    b.handle_timers(200)  # delayed SACK
    carry(b, a, 200)
    assert a.association(assoc).state is State.SHUTDOWN_SENT
    (shutdown,) = carry(a, b, 200)
    assert kinds(shutdown) == ["Shutdown"]
    (shutdown_ack,) = carry(b, a, 200)
    assert kinds(shutdown_ack) == ["ShutdownAck"]
    (complete,) = carry(a, b, 200)
    assert kinds(complete) == ["ShutdownComplete"] and not complete.chunks[0].reflected  # type: ignore[union-attr]
    assert a.associations == {} and b.associations == {}
    assert isinstance(a.events()[-1], ShutdownComplete)
    assert [type(e).__name__ for e in b.events()][-3:] == [
        "DataArrive",
        "PeerShutdown",
        "ShutdownComplete",
    ]


def test_init_collision_makes_one_association() -> None:
    """§5.2.1 and §5.2.4: both sides connect at once."""
    a, b = endpoints()
    ida = a.connect([B], b.port, PORT, 0)
    idb = b.connect([A], a.port, PORT, 0)
    for _ in range(6):
        carry(a, b, 0)
        carry(b, a, 0)
    sa, sb = a.association(ida), b.association(idb)
    assert sa.state is State.ESTABLISHED and sb.state is State.ESTABLISHED
    assert (sa.my_tag, sa.peer_tag) == (sb.peer_tag, sb.my_tag)
    assert len(a.associations) == 1 and len(b.associations) == 1
    a.send(ida, 0, 1, b"after the collision", 0)
    carry(a, b, 0)
    assert any(getattr(e, "data", None) == b"after the collision" for e in b.events())


def test_peer_restart_is_recognised() -> None:
    """§5.2.2 and §5.2.4 action A: B restarts and connects again."""
    a, b = endpoints()
    assoc = establish(a, b)
    a.events()
    _, b2 = endpoints(seed=3)  # B after a restart: same addresses and port, no memory
    b2.connect([A], a.port, PORT, 1000)
    carry(b2, a, 1000)  # INIT: A answers with tie-tags in the cookie
    carry(a, b2, 1000)
    carry(b2, a, 1000)  # COOKIE ECHO: the tie-tags match: restart
    carry(a, b2, 1000)
    restarted = a.association(assoc)
    assert restarted.state is State.ESTABLISHED
    assert [type(e) for e in a.events()] == [Restart]
    (idb,) = b2.associations
    assert (restarted.my_tag, restarted.peer_tag) == (
        b2.association(idb).peer_tag,
        b2.association(idb).my_tag,
    )


def test_restart_with_new_addresses_is_aborted() -> None:
    a, b = endpoints()
    establish(a, b)
    _, b2 = endpoints(b_addresses=(B, B2), seed=3)
    b2.connect([A], a.port, PORT, 1000)
    carry(b2, a, 1000)
    (answer,) = packets(a.datagrams())
    assert isinstance(answer.chunks[0], Abort)
    assert answer.chunks[0].causes[0].code == CauseCode.RESTART_WITH_NEW_ADDRESSES


def test_init_that_is_never_answered_fails() -> None:
    config = SctpConfig(max_init_retransmits=3)
    a, _ = endpoints(config)
    assoc = a.connect([B], 6000, PORT, 0)
    now = 0
    while (deadline := a.next_deadline()) is not None:
        now = deadline
        a.handle_timers(now)
    sent = a.datagrams()
    assert len(sent) == 4  # the INIT and three retransmissions
    assert now == 1000 + 2000 + 4000 + 8000  # T1-init backs off from RTO.Initial
    (lost,) = [e for e in a.events() if isinstance(e, CommunicationLost)]
    assert lost.assoc_id == assoc and lost.reason is LostReason.INIT_FAILED


def test_empty_data_chunk_aborts() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    tsn = a.association(assoc).local_tsn
    tag = a.association(assoc).peer_tag
    b.receive(encode_packet(5000, 6000, tag, [Data(tsn, 0, 0, 0, b"")]), A, PORT, 0)
    (answer,) = packets(b.datagrams())
    assert answer.chunks[0].causes[0].code == CauseCode.NO_USER_DATA  # type: ignore[union-attr]


def test_config_is_frozen() -> None:
    config = SctpConfig()
    assert dataclasses.replace(config, mtu=1400).max_data_size == 1400 - 28
