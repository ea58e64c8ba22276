"""PoolUserCore against a scripted registrar and scripted PEs (real encoded messages)."""

from __future__ import annotations

import random
from typing import TypedDict, Unpack

from rserpool.proto.client.hunt import ConnectRegistrar, RegistrarHuntConfig
from rserpool.proto.client.pool_user import (
    PoolUserConfig,
    PoolUserCore,
    ResolutionFailed,
    Resolved,
    SessionState,
    UnreachableReported,
)
from rserpool.proto.client.session import (
    BusinessCardReceived,
    CloseSession,
    ConnectSession,
    CookieReceived,
    DataReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionConnected,
    SessionSend,
)
from rserpool.wire import (
    PPID,
    BusinessCard,
    Cause,
    Cookie,
    CookieEcho,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    OperationError,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    SctpTransport,
    TransportUse,
    decode_message_untrusted,
)

from .helpers import PR_A, deliver, ip, only, sent, wire

H = b"PingPongPool"
RR = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)


def element(n: int) -> PoolElement:
    user = SctpTransport(
        7000, (ip(f"10.1.0.{n}"), ip(f"10.2.0.{n}")), TransportUse.DATA_PLUS_CONTROL
    )
    return PoolElement(n, 0x11, 90_000, user, RR)


def answer(*ns: int) -> HandleResolutionResponse:
    return HandleResolutionResponse(
        pool_handle=H, policy=RR, pool_elements=tuple(element(n) for n in ns)
    )


class UserSettings(TypedDict, total=False):
    stale_cache_value: int


def user(**kw: Unpack[UserSettings]) -> PoolUserCore:
    hunt = RegistrarHuntConfig(static_registrars=(PR_A,))
    return PoolUserCore(hunt, random.Random(4), 0, PoolUserConfig(**kw))


def connect_registrar(core: PoolUserCore, assoc: int = 50, now: int = 1) -> list[object]:
    (connect,) = only(core.outgoing(), ConnectRegistrar)
    core.registrar_connected(connect.attempt, assoc, now)
    return [m for _, m in sent(core.outgoing())]


def test_resolution_without_cache_asks_every_time() -> None:
    core = user()
    q = core.resolve(H, 0)
    assert connect_registrar(core) == [HandleResolution(pool_handle=H, items=1)]  # 0x803f = 1
    deliver(core, 50, answer(1), 5)
    (resolved,) = only(core.events(), Resolved)
    assert resolved.query == q and [pe.pe_id for pe in resolved.pool_elements] == [1]
    assert not resolved.from_cache
    core.resolve(H, 6)
    assert [m for _, m in sent(core.outgoing())] == [HandleResolution(pool_handle=H, items=1)]


def test_cache_and_stale_after() -> None:
    core = user(stale_cache_value=1000)
    core.resolve(H, 0)
    assert connect_registrar(core) == [HandleResolution(pool_handle=H)]  # RSPLIB: no option
    deliver(core, 50, answer(1, 2, 3), 10)
    assert len(only(core.events(), Resolved)[0].pool_elements) == 1
    # from the cache, selected locally with round robin
    picks = []
    for t in (100, 200, 300):
        core.resolve(H, t, items=1)
        (r,) = only(core.events(), Resolved)
        assert r.from_cache
        picks.append(r.pool_elements[0].pe_id)
    assert sorted(picks) == [1, 2, 3]
    assert sent(core.outgoing()) == []
    core.resolve(H, 500, items=3)
    assert len(only(core.events(), Resolved)[0].pool_elements) == 3
    # stale after 1000 ms
    assert {pe.pe_id for pe in core.cached(H, 1009)} == {1, 2, 3}
    assert core.cached(H, 1010) == []
    core.resolve(H, 1010)
    assert [m for _, m in sent(core.outgoing())] == [HandleResolution(pool_handle=H)]


def test_concurrent_resolutions_share_one_request_and_failure() -> None:
    core = user()
    q1, q2 = core.resolve(H, 0), core.resolve(H, 0, items=2)
    assert connect_registrar(core) == [HandleResolution(pool_handle=H, items=1)]
    error = OperationError.of(Cause.UNKNOWN_POOL_HANDLE)
    deliver(core, 50, HandleResolutionResponse(pool_handle=H, error=error), 5)
    failed = only(core.events(), ResolutionFailed)
    assert [(f.query, f.cause) for f in failed] == [(q1, 0x0009), (q2, 0x0009)]


def test_endpoint_unreachable() -> None:
    core = user(stale_cache_value=10_000)
    core.report_unreachable(H, 7, 0)  # no home yet: queued, hunt
    assert only(core.events(), UnreachableReported) == [UnreachableReported(H, 7, False)]
    assert connect_registrar(core) == [EndpointUnreachable(pool_handle=H, pe_id=7)]
    core.resolve(H, 10)
    core.outgoing()
    deliver(core, 50, answer(1, 2), 11)
    core.report_unreachable(H, 2, 20)
    assert [m for _, m in sent(core.outgoing())] == [EndpointUnreachable(pool_handle=H, pe_id=2)]
    assert [pe.pe_id for pe in core.cached(H, 21)] == [1]


def open_established(core: PoolUserCore, pe: int = 1) -> tuple[int, ConnectSession]:
    session = core.open_session(H, 0)
    connect_registrar(core)
    deliver(core, 50, answer(pe), 5)
    (connect,) = only(core.outgoing(), ConnectSession)
    core.session_connected(connect.connection, 6)
    return session, connect


def test_session_failover_with_cookie_echo() -> None:
    core = user()
    session, connect = open_established(core)
    assert connect.pe_id == 1 and connect.to.addresses == (ip("10.1.0.1"), ip("10.2.0.1"))
    assert only(core.events(), SessionConnected) == [SessionConnected(session, 1)]
    assert core.send(session, b"hello")
    assert only(core.outgoing(), SessionSend) == [SessionSend(connect.connection, 0, b"hello")]
    c = connect.connection
    core.receive_session(c, 0, b"answer", 8)
    core.receive_session(c, int(PPID.ASAP), wire(Cookie(cookie=b"old")), 9)
    core.receive_session(c, int(PPID.ASAP), wire(Cookie(cookie=b"latest")), 10)
    events = core.events()
    assert only(events, DataReceived) == [DataReceived(session, 0, b"answer")]
    assert len(only(events, CookieReceived)) == 2
    # the PE dies
    core.session_lost(c, 100)
    assert only(core.events(), FailoverNecessary) == [
        FailoverNecessary(session, 1, "association lost")
    ]
    assert core.session_state(session) is SessionState.FAILOVER_RESOLVING
    assert core.send(session, b"during")  # held
    ((_, hr),) = sent(core.outgoing())
    assert hr == HandleResolution(pool_handle=H, items=1)
    deliver(core, 50, answer(1, 2), 105)  # PE 1 still listed: avoided
    (reconnect,) = only(core.outgoing(), ConnectSession)
    assert reconnect.pe_id == 2 and reconnect.session == session
    core.session_connected(reconnect.connection, 110)
    first, second = only(core.outgoing(), SessionSend)
    assert decode_message_untrusted(first.ppid, first.data) == CookieEcho(cookie=b"latest")
    assert second == SessionSend(reconnect.connection, 0, b"during")
    assert only(core.events(), FailoverComplete) == [FailoverComplete(session, 2, True)]
    # data from the dead connection is ignored
    core.receive_session(c, 0, b"ghost", 111)
    assert only(core.events(), DataReceived) == []


def test_connect_failure_reports_and_retries_after_delay() -> None:
    core = user()
    session = core.open_session(H, 0)
    connect_registrar(core)
    deliver(core, 50, answer(1), 5)
    (connect,) = only(core.outgoing(), ConnectSession)
    core.session_connect_failed(connect.connection, 10)
    messages = [m for _, m in sent(core.outgoing())]
    assert messages == [
        EndpointUnreachable(pool_handle=H, pe_id=1),
        HandleResolution(pool_handle=H, items=1),
    ]
    deliver(core, 50, answer(1), 12)  # only the failed PE: wait 250 ms, ask again
    assert core.session_state(session) is SessionState.WAITING
    assert only(core.outgoing(), ConnectSession) == []
    core.handle_timers(262)
    assert [m for _, m in sent(core.outgoing())] == [HandleResolution(pool_handle=H, items=1)]
    deliver(core, 50, answer(3), 270)
    (connect,) = only(core.outgoing(), ConnectSession)
    assert connect.pe_id == 3
    # connect timeout (5 s): aborted, reported, next attempt
    core.handle_timers(5270)
    actions = core.outgoing()
    assert CloseSession(connect.connection, abort=True) in actions
    assert EndpointUnreachable(pool_handle=H, pe_id=3) in [m for _, m in sent(actions)]
    # a late success of the given-up connect is closed
    core.session_connected(connect.connection, 5300)
    assert only(core.outgoing(), CloseSession) == [CloseSession(connect.connection, True)]


def test_business_cards() -> None:
    mine = BusinessCard(pool_handle=b"Me", policy=RR, pool_elements=(element(9),))
    core = user()
    session = core.open_session(H, 0, business_card=mine)
    connect_registrar(core)
    deliver(core, 50, answer(1), 5)
    (connect,) = only(core.outgoing(), ConnectSession)
    core.session_connected(connect.connection, 6)
    (card,) = only(core.outgoing(), SessionSend)
    assert decode_message_untrusted(card.ppid, card.data) == mine
    # the PE's card names the failover order: used without asking the registrar
    theirs = BusinessCard(pool_handle=H, policy=RR, pool_elements=(element(1), element(4)))
    core.receive_session(connect.connection, int(PPID.ASAP), wire(theirs), 7)
    assert only(core.events(), BusinessCardReceived)[0].card == theirs
    core.force_failover(session, 8)
    actions = core.outgoing()
    assert CloseSession(connect.connection, abort=True) in actions
    assert sent(actions) == []  # no Handle Resolution
    (reconnect,) = only(actions, ConnectSession)
    assert reconnect.pe_id == 4
    core.session_connected(reconnect.connection, 9)
    (card,) = only(core.outgoing(), SessionSend)  # no cookie yet, only the card
    assert decode_message_untrusted(card.ppid, card.data) == mine
    assert only(core.events(), FailoverComplete) == [FailoverComplete(session, 4, False)]


def test_close_session() -> None:
    core = user()
    session, connect = open_established(core)
    core.close_session(session)
    assert only(core.outgoing(), CloseSession) == [CloseSession(connect.connection, False)]
    assert core.session_state(session) is None
    assert not core.send(session, b"x")
