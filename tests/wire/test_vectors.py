"""Exact bytes, built by hand from the RFC 5354 layouts and RSPLIB's rules (notes §2)."""

from __future__ import annotations

import ipaddress

import pytest

from rserpool.wire import (
    AsapError,
    Cookie,
    ErrorCause,
    HandleResolution,
    HandleUpdate,
    Message,
    OperationError,
    PoolElement,
    PoolMemberSelectionPolicy,
    Presence,
    Registration,
    SctpTransport,
    ServerInformation,
    TcpTransport,
    UnknownPolicy,
    UpdateAction,
    decode_message_untrusted,
    encode_message,
    ppid_of,
)
from rserpool.wire.constants import POLICY_FIELDS, Cause, PolicyType, TransportUse
from rserpool.wire.params import encode_policy

V4 = ipaddress.IPv4Address("192.0.2.1")


def h(text: str) -> bytes:
    """Hex with comments (after '#') and whitespace removed."""
    return bytes.fromhex("".join(line.split("#")[0] for line in text.splitlines()))


def rr_pe(**kw: object) -> PoolElement:
    args: dict[str, object] = {
        "pe_id": 0x12345678,
        "home_registrar_id": 0,
        "registration_life": 90000,
        "user_transport": SctpTransport(38022, (V4,)),
        "policy": PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN),
    }
    args.update(kw)
    return PoolElement(**args)  # type: ignore[arg-type]


REGISTRATION = h("""
01 00 0038              # type 1 Registration, flags 0, length 56
0009 000c 4563686f506f6f6c   # Pool Handle "EchoPool"
000a 0028               # Pool Element, length 40
12345678 00000000 00015f90   # PE id, home PR id 0, life 90000 ms
0004 0010 9486 0000     # SCTP Transport, length 16, port 38022, use DATA ONLY
0001 0008 c0000201      # IPv4 192.0.2.1
0008 0008 00000001      # Policy: Round Robin
""")

CASES: list[tuple[str, Message, bytes]] = [
    (
        "registration",
        Registration(pool_handle=b"EchoPool", pool_element=rr_pe()),
        REGISTRATION,
    ),
    (
        "presence with 16-bit checksum, TLV length 6 padded to 8",
        Presence(sender_id=0x11111111, receiver_id=0, pe_checksum=0x29A5, reply_required=True),
        h("01 01 0014  11111111 00000000  000f 0006 29a5 0000"),
    ),
    (
        "handle resolution with the 0x803f option (all items)",
        HandleResolution(pool_handle=b"EchoPool", items=0xFFFFFFFF),
        h("05 00 0018  0009 000c 4563686f506f6f6c  803f 0008 ffffffff"),
    ),
    (
        "odd pool handle padded; message length counts the last TLV's padding (RSPLIB)",
        HandleResolution(pool_handle=b"Odd", items=1),
        h("05 00 0014  0009 0007 4f6464 00  803f 0008 00000001"),
    ),
    (
        "cookie of 5 bytes: TLV length 9, message length 16",
        Cookie(cookie=b"\xaa\xbb\xcc\xdd\xee"),
        h("0b 00 0010  000d 0009 aabbccddee 000000"),
    ),
    (
        "ASAP error: unrecognized parameter, TLV copied as cause data, unpadded cause",
        AsapError(error=OperationError.of(Cause.UNRECOGNIZED_PARAMETER, h("4077 0006 abcd"))),
        h("0e 00 0014  000c 000e  0001 000a 4077 0006 abcd  0000"),
    ),
    (
        "two causes: padding between them, not after the last inside the TLV",
        AsapError(
            error=OperationError(
                (ErrorCause(Cause.INVALID_VALUES, b"\x01"), ErrorCause(0x1234, b""))
            )
        ),
        h("0e 00 0014  000c 0010  0003 0005 01 000000  1234 0004"),
    ),
    (
        "handle update DEL_PE, takeover suggested, PE with ASAP transport",
        HandleUpdate(
            sender_id=1,
            receiver_id=2,
            action=UpdateAction.DEL_PE,
            takeover_suggested=True,
            pool_handle=b"EchoPool",
            pool_element=rr_pe(
                home_registrar_id=1,
                user_transport=TcpTransport(
                    80, (V4,), transport_use=TransportUse.DATA_PLUS_CONTROL
                ),
                asap_transport=SctpTransport(3863, (ipaddress.IPv6Address("2001:db8::1"),)),
            ),
        ),
        h("""
        04 01 0060  00000001 00000002  0001 0000
        0009 000c 4563686f506f6f6c
        000a 0044  12345678 00000001 00015f90
          0005 0010 0050 0001  0001 0008 c0000201
          0008 0008 00000001
          0004 001c 0f17 0000  0002 0014 20010db8000000000000000000000001
        """),
    ),
    (
        "IPv4-mapped IPv6 goes on the wire as IPv4; server information",
        Presence(
            sender_id=7,
            pe_checksum=0xFFFF,
            server_information=ServerInformation(
                9, SctpTransport(9901, (ipaddress.IPv6Address("::ffff:192.0.2.1"),))
            ),
        ),
        h("""
        01 00 002c  00000007 00000000  000f 0006 ffff 0000
        000b 0018 00000009  0004 0010 26ad 0000  0001 0008 c0000201
        """),
    ),
]


@pytest.mark.parametrize(("name", "message", "wire"), CASES, ids=[c[0] for c in CASES])
def test_exact_bytes(name: str, message: Message, wire: bytes) -> None:
    assert encode_message(message).hex(" ") == wire.hex(" ")
    assert decode_message_untrusted(ppid_of(message), wire) == message


def test_registration_summary() -> None:
    message = decode_message_untrusted(11, REGISTRATION)
    assert str(message) == (
        "ASAP Registration EchoPool PE 0x12345678 life 90000ms SCTP 192.0.2.1:38022 RR"
    )


@pytest.mark.parametrize("policy_type", list(PolicyType), ids=lambda p: p.name)
def test_every_policy_layout(policy_type: PolicyType) -> None:
    names = POLICY_FIELDS[policy_type]
    values = {name: 0x01020300 + i for i, name in enumerate(names)}
    wire = encode_policy(PoolMemberSelectionPolicy(policy_type, **values))
    expected = (8 + 4 * len(names)).to_bytes(2, "big")
    expected = b"\x00\x08" + expected + int(policy_type).to_bytes(4, "big")
    expected += b"".join(v.to_bytes(4, "big") for v in values.values())
    assert wire == expected


@pytest.mark.parametrize("code", [0xB0002004, 0xB0002005, 0x40000005, 0x80000000])
def test_unknown_policy_round_trips_raw(code: int) -> None:
    policy = UnknownPolicy(code, b"\x00\x00\x00\x2a")
    message = Registration(pool_handle=b"P", pool_element=rr_pe(policy=policy))
    wire = encode_message(message)
    assert code.to_bytes(4, "big") + b"\x00\x00\x00\x2a" in wire
    assert decode_message_untrusted(11, wire) == message


def test_policy_longer_than_needed_is_accepted() -> None:
    """RSPLIB's parser accepts a policy TLV with extra bytes (notes §2.3)."""
    wire = REGISTRATION.replace(h("0008 0008 00000001"), h("0008 000c 00000001 0000abcd"))
    wire = wire[:2] + (len(wire)).to_bytes(2, "big") + wire[4:]
    wire = wire[:18] + (0x2C).to_bytes(2, "big") + wire[20:]  # Pool Element grows by 4
    message = decode_message_untrusted(11, wire)
    assert isinstance(message, Registration)
    assert message.pool_element.policy == PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
