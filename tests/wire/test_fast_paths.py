"""The codec's fast paths agree with the plain way: the Pool Element decoder's memo (equal
bodies share their decoded values, nothing else) and the precompiled responses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rserpool.wire import (
    DecodeError,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    HandleResolution,
    Message,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    RegistrationResponse,
    SctpTransport,
    decode_message_untrusted,
    params,
)
from rserpool.wire.codec import decode_scanned

from .strategies import STRATEGIES


def _registration(pe_id: int, port: int = 7000) -> bytes:
    user = SctpTransport(port, (ipaddress.IPv4Address("192.0.2.1"),))
    policy = PoolMemberSelectionPolicy(PolicyType.WEIGHTED_RANDOM, weight=3)
    pe = PoolElement(pe_id, 0, 5000, user, policy)
    return Registration(pool_handle=b"P", pool_element=pe).encode()


def _pe(data: bytes) -> PoolElement:
    message = decode_message_untrusted(11, data)
    assert isinstance(message, Registration)
    return message.pool_element


def test_same_body_shares_the_decoded_transport_and_policy() -> None:
    first, second = _pe(_registration(1)), _pe(_registration(2))
    assert (first.pe_id, second.pe_id) == (1, 2)
    assert second.user_transport is first.user_transport
    assert second.policy is first.policy
    other = _pe(_registration(3, port=7001))
    assert other.user_transport.port == 7001  # type: ignore[union-attr]


def test_a_bad_body_is_never_remembered() -> None:
    data = bytearray(_registration(4, port=7002))
    at = data.index(bytes.fromhex("c0000201"))
    data[at - 4 : at] = bytes.fromhex("0005 0008")  # an IPv4 address TLV with IPv6's type
    for _ in range(2):
        with pytest.raises(DecodeError):
            decode_message_untrusted(11, bytes(data))


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(params, "PE_BODY_MEMO_LIMIT", 4)
    for port in range(8000, 8010):
        _pe(_registration(1, port))
        assert len(params._pe_bodies) <= 4


@given(st.one_of(STRATEGIES[RegistrationResponse], STRATEGIES[DeregistrationResponse]))
def test_precompiled_responses_encode_as_the_plain_encoder(message: Message) -> None:
    assert message.encode() == Message.encode(message)


EXACT = [HandleResolution, Deregistration, EndpointKeepAliveAck, EndpointUnreachable]


@given(
    st.one_of(*(STRATEGIES[cls] for cls in EXACT)),
    st.lists(st.tuples(st.integers(0, 60), st.integers(1, 255)), max_size=2),
)
def test_exact_layouts_decode_as_the_scan_does(
    message: Message, flips: list[tuple[int, int]]
) -> None:
    """Well-formed or not: the shortcut reads a message as the scan does, or leaves it to it."""
    data = bytearray(message.encode())
    for at, xor in flips:
        if 4 <= at < len(data):  # the header stays: the shortcut is per message type
            data[at] ^= xor
    cls, flags, length = type(message), data[1], int.from_bytes(data[2:4], "big")
    exact = cls._exact(bytes(data), flags, length)
    try:
        scanned: Message | None = decode_scanned(cls, bytes(data), flags, length)
    except DecodeError:
        scanned = None
    if exact is not None:
        assert exact == scanned
    if not flips and not message.extensions:
        assert exact == message  # the usual layout takes the shortcut
