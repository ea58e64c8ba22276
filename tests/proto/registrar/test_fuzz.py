"""Bad input never raises, never loses a registered PE, and gets the right error (or none)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rserpool.proto.common import Abort, Endpoint, Send, TransportAddress
from rserpool.proto.registrar import RegistrarConfig, RegistrarCore
from rserpool.testing.registrar import Fake, Sim, ip
from rserpool.wire import (
    PPID,
    AsapError,
    AsapType,
    DecodeError,
    EnrpError,
    Message,
    RegistrationResponse,
    decode_message_untrusted,
    encode_message,
)
from tests.wire.strategies import messages

from .conftest import PR1

PE_PEER = TransportAddress((ip("10.1.0.1"),), 5000)
STRANGER = TransportAddress((ip("10.9.0.1"),), 5000)
ENDPOINTS = st.sampled_from([Endpoint.ASAP, Endpoint.ENRP])


def _core() -> RegistrarCore:
    """A registrar with three PEs registered over association 1."""
    core = RegistrarCore(RegistrarConfig(server_id=PR1), random.Random(5), 0)
    sim = Sim()
    fake = Fake(sim, "PE", "10.1.0.1", 5000)
    for n in (1, 2, 3):
        data = encode_message(fake.registration(b"EchoPool", n))
        core.receive(Endpoint.ASAP, 1, PPID.ASAP, data, PE_PEER, 0)
    core.outgoing()
    core.events()
    return core


def _snapshot(core: RegistrarCore) -> set[tuple[bytes, int, int]]:
    return {(pe.pool_handle, pe.pe_id, pe.home_registrar_id) for pe in core.handlespace}


def _check(core: RegistrarCore, endpoint: Endpoint, ppid: int, data: bytes) -> None:
    before = _snapshot(core)
    core.receive(endpoint, 2, ppid, data, STRANGER, 1000)
    actions = core.outgoing()
    core.events()
    for action in actions:  # whatever the core sends must encode
        if isinstance(action, Send):
            decode_message_untrusted(action.ppid, action.encode())
    expected = PPID.ASAP if endpoint is Endpoint.ASAP else PPID.ENRP
    if ppid != expected:
        if ppid in (PPID.ASAP, PPID.ENRP):
            assert actions == [Abort(endpoint, 2)]
        else:
            assert actions == []
        assert _snapshot(core) == before  # the PEs live on association 1
        return
    try:
        decode_message_untrusted(ppid, data)
    except DecodeError as exc:
        assert _snapshot(core) == before
        error_type = 0x0E if endpoint is Endpoint.ASAP else 0x0A
        if not exc.report or data[:1] == bytes([error_type]):
            assert actions == []
        else:
            [send] = actions
            assert isinstance(send, Send) and send.assoc_id == 2
            message = send.message
            if isinstance(message, RegistrationResponse):  # RFC 5352 §3.1: a rejection
                assert data[0] == AsapType.REGISTRATION and message.reject
            else:
                assert isinstance(message, AsapError | EnrpError)
            assert message.error is not None and message.error.code == exc.cause
            assert message.error.causes[0].data == (exc.tlv or b"")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=ENDPOINTS,
    ppid=st.sampled_from([11, 12, 11, 12, 0, 33]),
    data=st.binary(max_size=120),
)
def test_random_bytes(endpoint: Endpoint, ppid: int, data: bytes) -> None:
    _check(_core(), endpoint, ppid, data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=ENDPOINTS,
    message=messages,
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 255)), max_size=3),
)
def test_mutated_valid_messages(
    endpoint: Endpoint, message: Message, cut: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(encode_message(message))
    for at, xor in flips:
        if at < len(data):
            data[at] ^= xor
    if cut < len(data) and cut % 3 == 0:
        del data[cut:]
    _check(_core(), endpoint, int(message.PPID), bytes(data))


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=120), valid=messages)
def test_multicast_never_raises(data: bytes, valid: Message) -> None:
    core = _core()
    before = _snapshot(core)
    for blob in (data, encode_message(valid)):
        core.receive_multicast(Endpoint.ENRP, blob, (ip("10.0.0.7"), 9901), 10)
        core.receive_multicast(Endpoint.ASAP, blob, (ip("10.0.0.7"), 3863), 10)
    assert _snapshot(core) == before
    assert not [a for a in core.outgoing() if isinstance(a, Abort)]
