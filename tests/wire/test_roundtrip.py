"""decode(encode(m)) == m for every message type, and encoding is a fixed point."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rserpool.wire import (
    MESSAGES,
    Message,
    PoolElement,
    decode_message_untrusted,
    encode_message,
    ppid_of,
)
from rserpool.wire.params import pool_element_size

from .strategies import STRATEGIES, pool_elements


@pytest.mark.parametrize("cls", list(STRATEGIES), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(cls: type[Message], data: st.DataObject) -> None:
    message = data.draw(STRATEGIES[cls])
    assert type(message) is cls
    encoded = encode_message(message)
    assert len(encoded) % 4 == 0
    assert int.from_bytes(encoded[2:4], "big") <= len(encoded)
    decoded = decode_message_untrusted(ppid_of(message), encoded)
    assert decoded == message
    assert encode_message(decoded) == encoded
    assert decoded.summary().startswith(f"{ppid_of(message).name} {cls.NAME}")
    assert str(decoded) == decoded.summary()


def test_strategies_cover_every_message_type() -> None:
    registered = {cls for registry in MESSAGES.values() for cls in registry.values()}
    assert set(STRATEGIES) == registered
    assert len(registered) == 24


@settings(max_examples=300, deadline=None)
@given(pe=pool_elements)
def test_pool_element_size_is_the_encoded_length(pe: PoolElement) -> None:
    assert pool_element_size(pe) == len(pe.encode())
