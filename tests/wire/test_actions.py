"""Unknown-parameter action bits (RFC 5354 §3) and invalid values, with the offending TLV."""

from __future__ import annotations

import pytest
from hypothesis import given

from rserpool.wire import (
    Cause,
    DecodeError,
    Deregistration,
    Message,
    Registration,
    UnknownParameter,
    UnknownParameterAction,
    decode_message_untrusted,
    encode_message,
)
from rserpool.wire.message import _reportable

from .strategies import messages
from .test_vectors import REGISTRATION, h

PH = h("0009 000c 4563686f506f6f6c")
PE_ID = h("000e 0008 12345678")


def asap(body: bytes, msg_type: int = 0x02) -> bytes:
    assert len(body) % 4 == 0
    return bytes([msg_type, 0]) + (4 + len(body)).to_bytes(2, "big") + body


def unknown(param_type: int) -> bytes:
    return param_type.to_bytes(2, "big") + h("0007 abcdef 00")


@pytest.mark.parametrize(("param_type", "report"), [(0x0077, False), (0x4077, True)])
@pytest.mark.parametrize("where", ["before", "between", "after"])
def test_stop_bits(param_type: int, report: bool, where: str) -> None:
    body = {
        "before": unknown(param_type) + PH + PE_ID,
        "between": PH + unknown(param_type) + PE_ID,
        "after": PH + PE_ID + unknown(param_type),
    }[where]
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(11, asap(body))
    assert info.value.cause is Cause.UNRECOGNIZED_PARAMETER
    assert info.value.report is report
    assert info.value.tlv == unknown(param_type)[:7]  # the TLV without its padding


@pytest.mark.parametrize(
    ("param_type", "reported"), [(0x8077, False), (0xC077, True), (0x803F, False)]
)
@pytest.mark.parametrize(("where", "position"), [("before", 0), ("between", 1), ("after", 2)])
def test_skip_bits_keep_the_parameter(
    param_type: int, reported: bool, where: str, position: int
) -> None:
    body = {
        "before": unknown(param_type) + PH + PE_ID,
        "between": PH + unknown(param_type) + PE_ID,
        "after": PH + PE_ID + unknown(param_type),
    }[where]
    wire = asap(body)
    message = decode_message_untrusted(11, wire)
    assert isinstance(message, Deregistration)
    kept = UnknownParameter(param_type, h("abcdef"), position)
    assert message.extensions == (kept,)
    assert kept.action is UnknownParameterAction.of(param_type)
    assert message.to_report() == ((kept,) if reported else ())
    assert encode_message(message) == wire  # byte-exact, in the same place
    assert "+1 unknown param(s)" in message.summary()


def test_skip_and_report_nested_inside_pool_element() -> None:
    # Insert an unknown 0xc0ff TLV between the user transport and the policy of a Registration.
    at = REGISTRATION.index(h("0008 0008 00000001"))
    extra = h("c0ff 0008 01020304")
    wire = bytearray(REGISTRATION[:at] + extra + REGISTRATION[at:])
    wire[2:4] = (len(wire)).to_bytes(2, "big")
    wire[18:20] = (int.from_bytes(wire[18:20], "big") + 8).to_bytes(2, "big")
    message = decode_message_untrusted(11, bytes(wire))
    assert isinstance(message, Registration)
    kept = UnknownParameter(0xC0FF, h("01020304"), 1)
    assert message.pool_element.extensions == (kept,)
    assert message.to_report() == (kept,)
    assert encode_message(message) == bytes(wire)


def test_skip_inside_transport_address_list() -> None:
    at = REGISTRATION.index(h("0001 0008 c0000201"))
    wire = bytearray(REGISTRATION[:at] + h("8001 0004") + REGISTRATION[at:])
    wire[2:4] = (len(wire)).to_bytes(2, "big")
    wire[18:20] = (int.from_bytes(wire[18:20], "big") + 4).to_bytes(2, "big")
    wire[34:36] = (int.from_bytes(wire[34:36], "big") + 4).to_bytes(2, "big")
    message = decode_message_untrusted(11, bytes(wire))
    assert isinstance(message, Registration)
    assert message.pool_element.user_transport.extensions == (  # type: ignore[union-attr]
        UnknownParameter(0x8001, b"", 0),
    )
    assert encode_message(message) == bytes(wire)


def test_known_parameter_out_of_order_stops_silently() -> None:
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(11, asap(PE_ID + PH))
    assert info.value.cause is Cause.UNRECOGNIZED_PARAMETER
    assert info.value.report is False
    assert info.value.tlv == PE_ID


def test_known_parameter_left_over_is_an_invalid_message() -> None:
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(11, asap(PH + PE_ID + PE_ID))
    assert info.value.cause is Cause.RSPLIB_INVALID_MESSAGE
    assert info.value.report is True
    assert info.value.tlv == PE_ID


def test_missing_mandatory_parameter() -> None:
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(11, asap(PH))
    assert info.value.cause is Cause.RSPLIB_INVALID_MESSAGE
    assert "missing PE identifier" in str(info.value)


INVALID = [
    ("empty pool handle", h("0009 0004") + PE_ID, Cause.INVALID_VALUES, h("0009 0004")),
    (
        "33-byte pool handle",
        h("0009 0025") + b"x" * 33 + bytes(3) + PE_ID,
        Cause.RSPLIB_INVALID_VALUE,
        h("0009 0025") + b"x" * 33,
    ),
    ("PE id of 5 bytes", PH + h("000e 0009 0102030405 000000"), Cause.INVALID_VALUES, None),
    ("PE id of 2 bytes", PH + h("000e 0006 0102 0000"), Cause.INVALID_VALUES, None),
]


@pytest.mark.parametrize(("name", "body", "cause", "tlv"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_values(name: str, body: bytes, cause: Cause, tlv: bytes | None) -> None:
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(11, asap(body))
    assert info.value.cause is cause
    assert info.value.report is True
    assert info.value.tlv is not None
    if tlv is not None:
        assert info.value.tlv == tlv


@pytest.mark.parametrize(
    ("old", "new", "cause"),
    [
        (h("0008 0008 00000001"), h("0008 0008 00000002"), Cause.INVALID_VALUES),  # WRR, no weight
        (h("0008 0008 00000001"), h("0008 0005 01 000000"), Cause.INVALID_VALUES),  # 1 byte
        (h("9486 0000"), h("9486 0002"), Cause.INVALID_VALUES),  # transport use 2
        (h("0001 0008 c0000201"), h("0001 0007 c00002 00"), Cause.INVALID_VALUES),  # short v4
    ],
)
def test_invalid_nested_values(old: bytes, new: bytes, cause: Cause) -> None:
    wire = REGISTRATION.replace(old, new)
    assert len(wire) == len(REGISTRATION)
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(11, wire)
    assert info.value.cause is cause
    assert info.value.tlv is not None


def test_transport_without_addresses_is_invalid() -> None:
    wire = bytearray(REGISTRATION.replace(h("0001 0008 c0000201"), b""))
    wire[2:4] = (len(wire)).to_bytes(2, "big")
    wire[18:20] = (int.from_bytes(wire[18:20], "big") - 8).to_bytes(2, "big")
    wire[34:36] = (8).to_bytes(2, "big")
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(11, bytes(wire))
    assert info.value.cause is Cause.INVALID_VALUES
    assert info.value.tlv == h("0004 0008 9486 0000")


def test_pe_checksum_must_be_16_bits() -> None:
    wire = h("01 00 0014  00000001 00000000  000f 0008 000029a5")
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(12, wire)
    assert info.value.cause is Cause.INVALID_VALUES
    assert info.value.tlv == h("000f 0008 000029a5")


def test_handle_update_with_unknown_action() -> None:
    wire = h("04 00 0010  00000001 00000002  0002 0000")
    with pytest.raises(DecodeError) as info:
        decode_message_untrusted(12, wire)
    assert info.value.cause is Cause.INVALID_VALUES


def test_unknown_cause_code_kept_as_int() -> None:
    wire = h("0e 00 000c  000c 0008  abcd 0004")
    message = decode_message_untrusted(11, wire)
    assert message.error.causes[0].code == 0xABCD  # type: ignore[attr-defined]
    assert not isinstance(message.error.causes[0].code, Cause)  # type: ignore[attr-defined]
    assert "cause 0xabcd" in message.summary()
    assert encode_message(message) == wire


@pytest.mark.parametrize("cause", list(Cause), ids=lambda c: c.name)
def test_every_cause_decodes_by_name(cause: Cause) -> None:
    wire = h("0e 00 000c  000c 0008") + int(cause).to_bytes(2, "big") + h("0004")
    message = decode_message_untrusted(11, wire)
    assert message.error.causes[0].code is cause  # type: ignore[attr-defined]
    assert cause.name in message.summary()


def test_skip_and_report_inside_user_transport_is_reported() -> None:
    at = REGISTRATION.index(h("0001 0008 c0000201"))
    extra = h("c001 0008 01020304")
    wire = bytearray(REGISTRATION[:at] + extra + REGISTRATION[at:])
    wire[2:4] = (len(wire)).to_bytes(2, "big")
    wire[18:20] = (int.from_bytes(wire[18:20], "big") + 8).to_bytes(2, "big")
    wire[34:36] = (int.from_bytes(wire[34:36], "big") + 8).to_bytes(2, "big")
    message = decode_message_untrusted(11, bytes(wire))
    assert isinstance(message, Registration)
    assert message.to_report() == (UnknownParameter(0xC001, h("01020304"), 0),)


@given(messages)
def test_fast_to_report_agrees_with_the_field_walk(message: Message) -> None:
    """Registration's and the flat messages' shortcuts find what walking every field finds."""
    assert message.to_report() == tuple(_reportable(message))
