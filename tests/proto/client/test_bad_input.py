"""Fuzzed input from either side never raises out of a core; the reaction follows RSPLIB:
the home registrar association is ABORTed for anything undecodable or unexpected, another
ASAP association only for undecodable bytes, bad session control is ignored."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rserpool.proto.client.hunt import ConnectRegistrar, RegistrarHuntConfig
from rserpool.proto.client.pool_element import PoolElementConfig, PoolElementCore
from rserpool.proto.client.pool_user import PoolUserCore
from rserpool.proto.client.session import ConnectSession
from rserpool.wire import (
    PPID,
    AsapError,
    BusinessCard,
    Cookie,
    CookieEcho,
    DecodeError,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    Message,
    OperationError,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    ServerAnnounce,
    decode_message_untrusted,
)

from .helpers import PR_A, aborts, deliver, ip, only, wire

H = b"P"
RR = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
PE = PoolElement(3, 0, 9000, SctpTransport(7000, (ip("10.1.0.3"),)), RR)
MESSAGES: list[Message] = [
    Registration(pool_handle=H, pool_element=PE),
    Deregistration(pool_handle=H, pe_id=3),
    HandleResolution(pool_handle=H, items=1),
    HandleResolutionResponse(pool_handle=H, policy=RR, pool_elements=(PE,)),
    EndpointKeepAlive(server_id=1, pool_handle=H, pe_id=3, home=True),
    EndpointUnreachable(pool_handle=H, pe_id=3),
    ServerAnnounce(server_id=1),
    Cookie(cookie=b"c"),
    CookieEcho(cookie=b"c"),
    BusinessCard(pool_handle=H, policy=RR, pool_elements=(PE,)),
    AsapError(error=OperationError.of(1)),
]
payloads = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([wire(m) for m in MESSAGES]),
    st.sampled_from([wire(m) for m in MESSAGES]).flatmap(
        lambda b: st.integers(0, len(b) - 1).map(
            lambda i: b[:i] + bytes([b[i] ^ 0x55]) + b[i + 1 :]
        )
    ),
)
ppids = st.sampled_from([0, 11, 12, 33])


def pe_core() -> PoolElementCore:
    core = PoolElementCore(RegistrarHuntConfig(static_registrars=(PR_A,)), random.Random(1), 0)
    core.register(PoolElementConfig(pool_handle=H, addresses=(ip("10.1.0.5"),), port=7000), 0)
    (connect,) = only(core.outgoing(), ConnectRegistrar)
    core.registrar_connected(connect.attempt, 50, 1)
    core.outgoing(), core.events()
    return core


def pu_core() -> PoolUserCore:
    core = PoolUserCore(RegistrarHuntConfig(static_registrars=(PR_A,)), random.Random(1), 0)
    core.open_session(H, 0)
    (connect,) = only(core.outgoing(), ConnectRegistrar)
    core.registrar_connected(connect.attempt, 50, 1)
    core.outgoing()
    deliver(core, 50, MESSAGES[3], 2)
    (session,) = only(core.outgoing(), ConnectSession)
    core.session_connected(session.connection, 3)
    core.outgoing(), core.events()
    return core


def decodes_as_asap(ppid: int, data: bytes) -> Message | None:
    if ppid != PPID.ASAP:
        return None
    try:
        return decode_message_untrusted(ppid, data)
    except DecodeError:
        return None


@settings(max_examples=300, deadline=None)
@given(ppid=ppids, data=payloads, home=st.booleans())
def test_pe_registrar_side(ppid: int, data: bytes, home: bool) -> None:
    core = pe_core()
    assoc = 50 if home else 77
    core.receive_registrar(assoc, ppid, data, 10)
    actions = core.outgoing()
    message = decodes_as_asap(ppid, data)
    unexpected = (AsapError, HandleResolutionResponse, DeregistrationResponse)
    if message is None or (home and isinstance(message, unexpected)):
        assert aborts(actions) == [assoc]
    elif isinstance(message, EndpointKeepAlive) and message.home and not home:
        assert aborts(actions) == [50]  # adopted the new association
    else:
        assert aborts(actions) == []
    core.handle_timers(100_000)
    core.outgoing(), core.events()


@settings(max_examples=300, deadline=None)
@given(ppid=ppids, data=payloads, home=st.booleans())
def test_pu_registrar_side(ppid: int, data: bytes, home: bool) -> None:
    core = pu_core()
    core.receive_registrar(50 if home else 77, ppid, data, 10)
    core.handle_timers(100_000)
    core.outgoing(), core.events()


@settings(max_examples=300, deadline=None)
@given(ppid=ppids, data=payloads)
def test_sessions_and_announces(ppid: int, data: bytes) -> None:
    pe, pu = pe_core(), pu_core()
    pe.receive_session(5, ppid, data, 10)
    pu.receive_session(1, ppid, data, 10)
    pe.receive_announce(data, (ip("10.0.0.9"), 3863), 10)
    pu.receive_announce(data, (ip("10.0.0.9"), 3863), 10)
    # session input never touches the registrar association
    assert aborts(pe.outgoing()) == [] and aborts(pu.outgoing()) == []
