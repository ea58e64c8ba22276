"""The server hunt reports its progress: every connect attempt (static or announced, and how
many times that address was tried), every failure with its reason (a timeout included), and
when the next round starts. A pool user's session reports an empty pool (once per answer)."""

from __future__ import annotations

import random

from rserpool.proto.client.hunt import (
    ConnectRegistrar,
    RegistrarConnectFailed,
    RegistrarConnecting,
    RegistrarHuntConfig,
    ServerHuntWaiting,
)
from rserpool.proto.client.pool_element import PoolElementConfig, PoolElementCore
from rserpool.proto.client.pool_user import NoPoolElement, PoolUserCore
from rserpool.proto.common import TransportAddress
from rserpool.wire import (
    Cause,
    HandleResolutionResponse,
    OperationError,
    ServerAnnounce,
)

from .helpers import PR_A, PR_B, deliver, ip, only, sent, wire

H = b"EchoPool"


def pe_core(static: tuple[TransportAddress, ...]) -> PoolElementCore:
    hunt = RegistrarHuntConfig(static_registrars=static)
    core = PoolElementCore(hunt, random.Random(1), 0)
    config = PoolElementConfig(pool_handle=H, addresses=(ip("10.1.0.5"),), port=7000)
    core.register(config, 0)
    return core


def test_attempts_failures_and_rounds_are_reported() -> None:
    core = pe_core((PR_A, PR_B))
    events, actions = core.events(), core.outgoing()
    a, b = only(actions, ConnectRegistrar)
    assert only(events, RegistrarConnecting) == [
        RegistrarConnecting(a.attempt, PR_A, None, 1),
        RegistrarConnecting(b.attempt, PR_B, None, 1),
    ]
    core.registrar_connect_failed(a.attempt, 5, "connection refused")
    assert core.events() == [RegistrarConnectFailed(a.attempt, PR_A, "connection refused")]
    core.handle_timers(7500)  # PR_B never answered: the connect timeout
    assert core.events() == [
        RegistrarConnectFailed(b.attempt, PR_B, "timed out (7.5 s)"),
        ServerHuntWaiting(2500, 2),  # T5 (10 s) ends the round
    ]
    core.outgoing()
    core.handle_timers(10_000)  # the next round: each address tried a second time
    assert [(e.address, e.trial) for e in only(core.events(), RegistrarConnecting)] == [
        (PR_A, 2),
        (PR_B, 2),
    ]


def test_an_announced_registrar_is_named_by_its_id() -> None:
    core = pe_core(())
    assert only(core.events(), ServerHuntWaiting) == [ServerHuntWaiting(10_000, 0)]
    core.receive_announce(wire(ServerAnnounce(server_id=5)), (ip("10.0.0.9"), 3863), 100)
    (connecting,) = only(core.events(), RegistrarConnecting)
    assert connecting.server_id == 5 and connecting.trial == 1
    assert str(connecting.address) == "10.0.0.9:3863"


def test_failed_without_a_reason_says_so() -> None:
    core = pe_core((PR_A,))
    (connect,) = only(core.outgoing(), ConnectRegistrar)
    core.events()
    core.registrar_connect_failed(connect.attempt, 5)
    assert only(core.events(), RegistrarConnectFailed)[0].reason == "connection failed"


def test_session_to_an_unknown_pool_reports_no_pool_element() -> None:
    hunt = RegistrarHuntConfig(static_registrars=(PR_A,))
    core = PoolUserCore(hunt, random.Random(1), 0)
    core.open_session(H, 0)
    (connect,) = only(core.outgoing(), ConnectRegistrar)
    core.registrar_connected(connect.attempt, 50, 1)
    sent(core.outgoing())
    core.events()
    error = OperationError.of(Cause.UNKNOWN_POOL_HANDLE)
    deliver(core, 50, HandleResolutionResponse(pool_handle=H, error=error), 2)
    assert only(core.events(), NoPoolElement) == [
        NoPoolElement(1, H, int(Cause.UNKNOWN_POOL_HANDLE), "no pool element", 250)
    ]
