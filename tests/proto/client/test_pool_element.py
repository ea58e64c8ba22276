"""PoolElementCore against a scripted registrar (real encoded messages)."""

from __future__ import annotations

import random

import pytest

from rserpool.proto.client.hunt import (
    CancelConnect,
    ConnectRegistrar,
    HomeChangeReason,
    HomeRegistrarChanged,
    HomeRegistrarLost,
    MessageIgnored,
    RegistrarHuntConfig,
    ServerHuntStarted,
)
from rserpool.proto.client.pool_element import (
    Deregistered,
    KeepAliveAnswered,
    PoolElementConfig,
    PoolElementCore,
    Registered,
    RegistrationFailed,
)
from rserpool.proto.client.session import (
    BusinessCardReceived,
    CookieEchoReceived,
    DataReceived,
    SessionAccepted,
    SessionSend,
)
from rserpool.proto.common import TransportAddress
from rserpool.wire import (
    PPID,
    AsapError,
    BusinessCard,
    Cause,
    Cookie,
    CookieEcho,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    HandleResolutionResponse,
    OperationError,
    Registration,
    RegistrationResponse,
    SctpTransport,
    ServerAnnounce,
    TransportUse,
    decode_message_untrusted,
)

from .helpers import PR_A, PR_B, PR_C, aborts, deliver, ip, only, sent, wire

H = b"EchoPool"


def pe_config(pe_id: int = 0) -> PoolElementConfig:
    return PoolElementConfig(pool_handle=H, addresses=(ip("10.1.0.5"),), port=7000, pe_id=pe_id)


def started(static: tuple[TransportAddress, ...] = (PR_A,)) -> tuple[PoolElementCore, int]:
    """A PE core with one PE, connected to PR_A as assoc 50 and registered."""
    hunt = RegistrarHuntConfig(static_registrars=static)
    core = PoolElementCore(hunt, random.Random(1), 0)
    pe_id = core.register(pe_config(), 0)
    connect = only(core.outgoing(), ConnectRegistrar)[0]
    core.registrar_connected(connect.attempt, 50, 10)
    ((assoc, reg),) = sent(core.outgoing())
    assert assoc == 50 and isinstance(reg, Registration)
    deliver(core, 50, RegistrationResponse(pool_handle=H, pe_id=pe_id), 20)
    return core, pe_id


def test_registration_contents_and_life_cycle() -> None:
    core, pe_id = started()
    assert 1 <= pe_id <= 0xFFFFFFFE
    events = core.events()
    changed = only(events, HomeRegistrarChanged)
    assert changed[0].reason is HomeChangeReason.SERVER_HUNT and changed[0].home.assoc_id == 50
    (registered,) = only(events, Registered)
    assert registered.pe_id == pe_id and not registered.reregistration
    assert core.is_registered(pe_id)
    # T4-reregistration after 30 s, life 3 x 30 s, DATA+CONTROL
    assert core.next_deadline() == 30_010  # the registration went out when PR_A came up
    core.handle_timers(30_010)
    ((assoc, reg),) = sent(core.outgoing())
    assert assoc == 50 and isinstance(reg, Registration)
    element = reg.pool_element
    assert element.pe_id == pe_id and element.registration_life == 90_000
    assert element.user_transport == SctpTransport(
        7000, (ip("10.1.0.5"),), TransportUse.DATA_PLUS_CONTROL
    )
    deliver(core, 50, RegistrationResponse(pool_handle=H, pe_id=pe_id), 30_005)
    (again,) = only(core.events(), Registered)
    assert again.reregistration
    # deregistration on close
    core.close(31_000)
    ((assoc, dereg),) = sent(core.outgoing())
    assert isinstance(dereg, Deregistration) and dereg.pe_id == pe_id
    assert not core.closed
    deliver(core, 50, DeregistrationResponse(pool_handle=H, pe_id=pe_id), 31_010)
    assert only(core.events(), Deregistered) == [Deregistered(H, pe_id, True)]
    assert (core.closed, core.next_deadline()) == (True, None)


def test_keep_alive_rules() -> None:
    core, pe_id = started()
    other = core.register(pe_config(pe_id=0x42), 100)
    deliver(core, 50, RegistrationResponse(pool_handle=H, pe_id=other), 101)
    core.outgoing(), core.events()
    # with PE id: that PE only, on the home association; the home's id is learned
    deliver(core, 50, EndpointKeepAlive(server_id=7, pool_handle=H, pe_id=pe_id), 200)
    assert sent(core.outgoing()) == [(50, EndpointKeepAliveAck(pool_handle=H, pe_id=pe_id))]
    assert only(core.events(), KeepAliveAnswered)[0].server_id == 7
    assert core.home is not None and core.home.server_id == 7
    # without PE id: every PE of that pool
    deliver(core, 50, EndpointKeepAlive(server_id=7, pool_handle=H), 300)
    acked = {m.pe_id for _, m in sent(core.outgoing()) if isinstance(m, EndpointKeepAliveAck)}
    assert acked == {pe_id, other}
    # unknown PE, or a pool the PE is not in: silently discarded (RFC KA1)
    deliver(core, 50, EndpointKeepAlive(server_id=7, pool_handle=H, pe_id=0x99), 400)
    deliver(core, 50, EndpointKeepAlive(server_id=7, pool_handle=b"Other", pe_id=pe_id), 400)
    assert sent(core.outgoing()) == []
    assert len(only(core.events(), MessageIgnored)) == 2
    # no H flag on another association: acked on the home one (RSPLIB)
    deliver(core, 77, EndpointKeepAlive(server_id=9, pool_handle=H, pe_id=pe_id), 500)
    assert sent(core.outgoing()) == [(50, EndpointKeepAliveAck(pool_handle=H, pe_id=pe_id))]
    assert core.home.assoc_id == 50


def test_takeover_h_flag_adopts_new_home() -> None:
    core, pe_id = started()
    core.events()
    deliver(core, 77, EndpointKeepAlive(server_id=9, pool_handle=H, pe_id=pe_id, home=True), 1000)
    actions = core.outgoing()
    assert aborts(actions) == [50]  # RSPLIB disconnects from the old home
    assert sent(actions) == [(77, EndpointKeepAliveAck(pool_handle=H, pe_id=pe_id))]
    assert only(actions, ConnectRegistrar) == []  # no hunt
    events = core.events()
    (changed,) = only(events, HomeRegistrarChanged)
    assert changed.reason is HomeChangeReason.TAKEOVER
    assert changed.home.assoc_id == 77 and changed.home.server_id == 9
    assert core.is_registered(pe_id)
    # the next re-registration goes to the new home
    core.handle_timers(30_010)
    ((assoc, reg),) = sent(core.outgoing())
    assert assoc == 77 and isinstance(reg, Registration)
    # the old association's loss is old news now
    core.registrar_lost(50, 30_001)
    assert core.home is not None and core.home.assoc_id == 77


def test_registrar_loss_hunts_static_list_and_reregisters() -> None:
    core, pe_id = started(static=(PR_A, PR_B, PR_C))
    core.events()
    core.registrar_lost(50, 5000)
    events, actions = core.events(), core.outgoing()
    assert only(events, HomeRegistrarLost)[0].home.assoc_id == 50
    assert only(events, ServerHuntStarted) == [ServerHuntStarted(3)]
    assert not core.is_registered(pe_id)
    connects = only(actions, ConnectRegistrar)
    assert [c.to for c in connects] == [PR_A, PR_B, PR_C]  # SH1: up to three at once
    assert aborts(actions) == []  # the association is gone already
    core.registrar_connect_failed(connects[0].attempt, 5001)
    core.registrar_connected(connects[1].attempt, 60, 5002)
    actions = core.outgoing()
    assert CancelConnect(connects[2].attempt) in actions
    ((assoc, reg),) = sent(actions)
    assert assoc == 60 and isinstance(reg, Registration) and reg.pool_element.pe_id == pe_id
    # the cancelled attempt comes up anyway: aborted
    core.registrar_connected(connects[2].attempt, 61, 5003)
    assert aborts(core.outgoing()) == [61]
    deliver(core, 60, RegistrationResponse(pool_handle=H, pe_id=pe_id), 5004)
    (registered,) = only(core.events(), Registered)
    assert registered.home.assoc_id == 60 and registered.home.address == PR_B


def test_announce_hunt_and_outdate() -> None:
    hunt = RegistrarHuntConfig()
    core = PoolElementCore(hunt, random.Random(2), 0)
    core.register(pe_config(), 0)
    assert only(core.events(), ServerHuntStarted) == [ServerHuntStarted(0)]
    assert only(core.outgoing(), ConnectRegistrar) == []
    # RSPLIB's announce: server id only -> source address and source port
    core.receive_announce(wire(ServerAnnounce(server_id=5)), (ip("10.0.0.9"), 12345), 100)
    (connect,) = only(core.outgoing(), ConnectRegistrar)
    assert connect.to == PR_A.__class__((ip("10.0.0.9"),), 12345)
    # with an SCTP transport: that one
    transport = SctpTransport(3863, (ip("10.0.0.7"), ip("10.0.1.7")))
    announce = ServerAnnounce(server_id=6, transports=(transport,))
    core.receive_announce(wire(announce), (ip("10.0.0.7"), 9999), 200)
    (second,) = only(core.outgoing(), ConnectRegistrar)
    assert second.to.addresses == (ip("10.0.0.7"), ip("10.0.1.7")) and second.to.port == 3863
    assert set(core.known_registrars().values()) == {5, 6}
    # T7-ENRPoutdate: 5 s after the last announce
    core.receive_announce(wire(announce), (ip("10.0.0.7"), 9999), 3000)
    core.handle_timers(5100)
    assert set(core.known_registrars().values()) == {6}
    core.handle_timers(8000)
    assert core.known_registrars() == {}
    # the winner's server id comes from the table
    core.registrar_connected(second.attempt, 70, 200)
    # (attempt 1 timed out at 7600 and was cancelled; attempt 2 too -> a late success is
    # aborted, and the hunt goes on with an empty table)
    assert aborts(core.outgoing()) == [70]
    # garbage on the announce group is ignored
    core.receive_announce(b"\x0a\x00\x00", (ip("10.0.0.9"), 1), 9000)
    assert only(core.events(), MessageIgnored)


def test_server_hunt_rounds_double_t5() -> None:
    hunt = RegistrarHuntConfig(static_registrars=(PR_A,), server_hunt_timeout=1000)
    core = PoolElementCore(hunt, random.Random(3), 0)
    core.register(pe_config(), 0)
    (first,) = only(core.outgoing(), ConnectRegistrar)
    core.registrar_connect_failed(first.attempt, 10)
    assert only(core.outgoing(), ConnectRegistrar) == []  # tried in this round
    assert core.next_deadline() == 1000
    core.handle_timers(1000)
    (second,) = only(core.outgoing(), ConnectRegistrar)
    assert second.to == PR_A
    core.registrar_connect_failed(second.attempt, 1010)
    assert core.next_deadline() == 3000  # T5 doubled
    core.handle_timers(3000)
    assert len(only(core.outgoing(), ConnectRegistrar)) == 1


@pytest.mark.parametrize(
    ("cause", "rehunt"),
    [
        (Cause.RSPLIB_NO_USABLE_USER_ADDRESSES, True),
        (Cause.RSPLIB_NO_USABLE_ASAP_ADDRESSES, True),
        (Cause.INCONSISTENT_POOLING_POLICY, False),
    ],
)
def test_rejection(cause: Cause, rehunt: bool) -> None:
    hunt = RegistrarHuntConfig(static_registrars=(PR_A,))
    core = PoolElementCore(hunt, random.Random(1), 0)
    pe_id = core.register(pe_config(), 0)
    (connect,) = only(core.outgoing(), ConnectRegistrar)
    core.registrar_connected(connect.attempt, 50, 1)
    core.outgoing()
    response = RegistrationResponse(
        pool_handle=H, pe_id=pe_id, reject=True, error=OperationError.of(cause)
    )
    deliver(core, 50, response, 2)
    (failed,) = only(core.events(), RegistrationFailed)
    assert failed.cause == cause and not core.is_registered(pe_id)
    actions = core.outgoing()
    assert (aborts(actions) == [50]) is rehunt
    assert bool(only(actions, ConnectRegistrar)) is rehunt
    if not rehunt:  # tried again at T4
        core.handle_timers(30_001)
        assert isinstance(sent(core.outgoing())[0][1], Registration)


def test_response_timeout_rehomes_and_resends() -> None:
    hunt = RegistrarHuntConfig(static_registrars=(PR_A, PR_B), max_simultaneous_connects=1)
    core = PoolElementCore(hunt, random.Random(1), 0)
    pe_id = core.register(pe_config(), 0)
    (connect,) = only(core.outgoing(), ConnectRegistrar)
    core.registrar_connected(connect.attempt, 50, 0)
    core.outgoing()
    assert core.next_deadline() == 3000  # T1-ENRPrequest (RSPLIB 3 s)
    core.handle_timers(3000)
    actions = core.outgoing()
    assert aborts(actions) == [50]
    (connect,) = only(actions, ConnectRegistrar)
    assert connect.to == PR_A  # a new hunt round: every address is a candidate again
    core.registrar_connected(connect.attempt, 51, 3001)
    regs = [m for a, m in sent(core.outgoing()) if isinstance(m, Registration)]
    assert len(regs) == 1  # the queued request, not a second copy
    core.handle_timers(6001)  # second trial lost too: given up, retried at T4
    (failed,) = only(core.events(), RegistrationFailed)
    assert failed.cause is None and failed.pe_id == pe_id


@pytest.mark.parametrize(
    "bad",
    [
        wire(AsapError(error=OperationError.of(Cause.UNSPECIFIED_ERROR))),
        wire(HandleResolutionResponse(pool_handle=H)),  # mismatched type
        b"\x03\x00\x00\x05\x00\x00\x00\x00",  # undecodable
    ],
)
def test_bad_input_from_home_aborts(bad: bytes) -> None:
    core, _ = started()
    core.events()
    core.receive_registrar(50, int(PPID.ASAP), bad, 100)
    actions = core.outgoing()
    assert aborts(actions) == [50] and only(actions, ConnectRegistrar)
    assert only(core.events(), HomeRegistrarLost)


def test_unsolicited_response_and_wrong_ppid() -> None:
    core, pe_id = started()
    deliver(core, 50, RegistrationResponse(pool_handle=H, pe_id=pe_id), 100)
    assert aborts(core.outgoing()) == [50]
    core, _ = started()
    core.receive_registrar(50, 12, b"\x01\x00\x00\x04", 100)
    assert aborts(core.outgoing()) == [50]
    # garbage on a non-home association: only that one is aborted
    core, _ = started()
    core.receive_registrar(88, int(PPID.ASAP), b"junk", 100)
    assert aborts(core.outgoing()) == [88] and core.home is not None


def test_sessions() -> None:
    core, pe_id = started()
    core.events()
    core.session_accepted(5, 100)
    core.receive_session(5, 0, b"hello", 101)
    core.receive_session(6, 33, b"ping", 102)  # implicitly accepted
    core.receive_session(5, int(PPID.ASAP), wire(CookieEcho(cookie=b"state")), 103)
    card = core.business_card(pe_id)
    core.receive_session(5, int(PPID.ASAP), wire(card), 104)
    core.receive_session(5, int(PPID.ASAP), b"\xff\xff", 105)
    core.receive_session(5, int(PPID.ASAP), wire(Cookie(cookie=b"x")), 106)
    events = core.events()
    assert only(events, SessionAccepted) == [SessionAccepted(5, None), SessionAccepted(6, None)]
    assert only(events, DataReceived) == [
        DataReceived(5, 0, b"hello"),
        DataReceived(6, 33, b"ping"),
    ]
    assert only(events, CookieEchoReceived) == [CookieEchoReceived(5, b"state")]
    assert only(events, BusinessCardReceived)[0].card == card
    assert isinstance(card, BusinessCard) and card.pool_elements[0].pe_id == pe_id
    assert len(only(events, MessageIgnored)) == 2
    assert core.send(5, b"reply", 0) and core.send_cookie(5, b"c1")
    assert not core.send(99, b"x")
    data, cookie = only(core.outgoing(), SessionSend)
    assert data == SessionSend(5, 0, b"reply")
    assert cookie.ppid == PPID.ASAP
    assert decode_message_untrusted(cookie.ppid, cookie.data) == Cookie(cookie=b"c1")
    core.session_lost(5, 200)
    assert core.sessions == [6]


def test_deregister_without_home_is_local() -> None:
    hunt = RegistrarHuntConfig()
    core = PoolElementCore(hunt, random.Random(1), 0)
    pe_id = core.register(pe_config(), 0)
    core.close(10)
    # never accepted anywhere: nothing to undo, and the event says so
    assert only(core.events(), Deregistered) == [Deregistered(H, pe_id, False, False)]
    assert core.closed and not core.hunting and core.next_deadline() is None
