"""Untrusted input: garbage, bit flips, truncations and length lies raise only DecodeError."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rserpool.wire import (
    Cause,
    DecodeError,
    Message,
    decode_message_untrusted,
    dump,
    encode_message,
    ppid_of,
)

from .strategies import messages

ppids = st.sampled_from([11, 12])


def _decode_or_decode_error(ppid: int, data: bytes) -> Message | None:
    try:
        message = decode_message_untrusted(ppid, data)
    except DecodeError as exc:
        assert isinstance(exc.cause, Cause)
        assert "offset" in str(exc)
        return None
    # Whatever decodes must encode again and decode to the same thing.
    assert decode_message_untrusted(ppid, encode_message(message)) == message
    return message


@settings(max_examples=300, deadline=None)
@given(ppid=ppids, data=st.binary(max_size=200))
def test_random_bytes(ppid: int, data: bytes) -> None:
    _decode_or_decode_error(ppid, data)
    dump(data, ppid)  # never raises


@st.composite
def framed_garbage(draw: st.DrawFn) -> tuple[int, bytes]:
    """Random bodies behind a valid header, so the TLV layer gets exercised."""
    ppid = draw(ppids)
    body = draw(st.binary(max_size=120))
    body += bytes(-len(body) & 3)
    msg_type = draw(st.integers(1, 14))
    return ppid, struct.pack("!BBH", msg_type, draw(st.integers(0, 255)), 4 + len(body)) + body


@settings(max_examples=300, deadline=None)
@given(case=framed_garbage())
def test_framed_garbage(case: tuple[int, bytes]) -> None:
    _decode_or_decode_error(*case)
    dump(case[1], case[0])


@settings(max_examples=200, deadline=None)
@given(message=messages, data=st.data())
def test_bit_flips(message: Message, data: st.DataObject) -> None:
    encoded = bytearray(encode_message(message))
    for _ in range(data.draw(st.integers(1, 4))):
        bit = data.draw(st.integers(0, len(encoded) * 8 - 1))
        encoded[bit // 8] ^= 1 << (bit % 8)
    _decode_or_decode_error(ppid_of(message), bytes(encoded))
    dump(bytes(encoded), ppid_of(message))


@settings(max_examples=200, deadline=None)
@given(message=messages, data=st.data())
def test_truncation_and_extension(message: Message, data: st.DataObject) -> None:
    encoded = encode_message(message)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        decode_message_untrusted(ppid_of(message), encoded[:cut])
    with pytest.raises(DecodeError):
        decode_message_untrusted(ppid_of(message), encoded + b"\x00" * data.draw(st.integers(1, 8)))


@settings(max_examples=200, deadline=None)
@given(message=messages, data=st.data())
def test_length_lies(message: Message, data: st.DataObject) -> None:
    """Overwrite any 16-bit field (message or TLV length, type, ...) with a random value."""
    encoded = bytearray(encode_message(message))
    at = data.draw(st.integers(0, len(encoded) // 2 - 1)) * 2
    encoded[at : at + 2] = data.draw(st.integers(0, 0xFFFF)).to_bytes(2, "big")
    _decode_or_decode_error(ppid_of(message), bytes(encoded))


def test_unknown_ppid_is_silent() -> None:
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(99, b"\x01\x00\x00\x04")
    assert info.value.report is False


@pytest.mark.parametrize(
    ("msg_type", "report"), [(0x0F, False), (0x4F, True), (0x8F, False), (0xFF, False)]
)
@pytest.mark.parametrize("ppid", [11, 12])
def test_unknown_message_type(ppid: int, msg_type: int, report: bool) -> None:
    data = bytes([msg_type, 0, 0, 8, 1, 2, 3, 4])
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(ppid, data)
    assert info.value.cause is Cause.UNRECOGNIZED_MESSAGE
    assert info.value.tlv == data
    assert info.value.report is report


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01\x00",
        b"\x01\x00\x00\x03",  # length below the header
        b"\x0b\x00\x00\x05\x00\x00\x00",  # 5 + pad 3 = 8, but only 7 bytes
        b"\x0b\x00\x00\x08\x00\x0d\x00\x04\x00\x00\x00\x00",  # 4 bytes past the length
        b"\x0b\x00\x00\x0a\x00\x0d\x00\x06\xab\xcd",  # trailing pad not sent
    ],
)
def test_framing_errors(data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(11, data)
    assert info.value.cause is Cause.RSPLIB_INVALID_MESSAGE
