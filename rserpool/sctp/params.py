"""Variable-length parameters (RFC 9260 §3.2.1): INIT, INIT ACK and HEARTBEAT parameters.

Every parameter is a type-length-value (TLV) padded to 4 bytes. A parameter this codec does
not know is kept as :class:`UnknownParameter`: what to do with it (its action bits, the upper
two bits of its type) is the association's decision, not the decoder's.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import TypeAlias

from rserpool.sctp.constants import ParamType, UnknownAction
from rserpool.sctp.errors import SctpDecodeError, SctpEncodeError

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

TLV_HEADER = struct.Struct("!HH")
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")
PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")  # indexed by length % 4


def pad4(length: int) -> int:
    """Zero bytes that bring ``length`` to a multiple of 4."""
    return -length & 3


def tlv(kind: int, value: bytes) -> bytes:
    """One TLV with its padding; the length field counts header and value, not padding."""
    length = 4 + len(value)
    if length > 0xFFFF:
        raise SctpEncodeError(f"TLV {kind:#06x} too long ({length} bytes)")
    return TLV_HEADER.pack(kind, length) + value + PADDING[length & 3]


def split_tlvs(data: bytes, start: int, end: int) -> list[tuple[int, bytes]]:
    """(type, value) of each TLV in ``data[start:end]``; the last one's padding may be missing
    (RFC 9260 §3.2: accept a chunk whether or not its final padding is counted)."""
    found: list[tuple[int, bytes]] = []
    pos = start
    while pos < end:
        if end - pos < 4:
            raise SctpDecodeError(f"{end - pos} stray bytes where a TLV should start", offset=pos)
        kind, length = TLV_HEADER.unpack_from(data, pos)
        if length < 4 or pos + length > end:
            raise SctpDecodeError(f"TLV {kind:#06x} length {length} overruns", offset=pos)
        found.append((kind, data[pos + 4 : pos + length]))
        pos += length + pad4(length)
    return found


def strip_final_padding(encoded_tlvs: list[bytes]) -> bytes:
    """Join padded TLVs, leaving out the last one's padding (that one is the chunk's)."""
    if not encoded_tlvs:
        return b""
    last = encoded_tlvs[-1]
    length = TLV_HEADER.unpack_from(last, 0)[1]
    return b"".join(encoded_tlvs[:-1]) + last[:length]


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class AddressParameter:
    """IPv4 Address (5) or IPv6 Address (6), RFC 9260 §3.3.2.1.1-2."""

    address: IPAddress

    def encode(self) -> bytes:
        kind = ParamType.IPV4_ADDRESS if self.address.version == 4 else ParamType.IPV6_ADDRESS
        return tlv(kind, self.address.packed)


@dataclass(frozen=True, slots=True)
class CookiePreservative:
    """Cookie Preservative (9): a suggested cookie life-span increment, in ms."""

    increment: int

    def encode(self) -> bytes:
        return tlv(ParamType.COOKIE_PRESERVATIVE, _u32(self.increment, "life-span increment"))


@dataclass(frozen=True, slots=True)
class HostNameAddress:
    """Host Name Address (11): deprecated; decoded so the receiver can refuse it (§3.3.2.1.4)."""

    name: bytes

    def encode(self) -> bytes:
        return tlv(ParamType.HOST_NAME_ADDRESS, self.name)


@dataclass(frozen=True, slots=True)
class SupportedAddressTypes:
    """Supported Address Types (12): the address parameter types the sender can use."""

    types: tuple[int, ...]

    def encode(self) -> bytes:
        if any(not 0 <= t <= 0xFFFF for t in self.types):
            raise SctpEncodeError(f"address types out of range: {self.types}")
        return tlv(ParamType.SUPPORTED_ADDRESS_TYPES, b"".join(U16.pack(t) for t in self.types))


@dataclass(frozen=True, slots=True)
class StateCookie:
    """State Cookie (7) in an INIT ACK: opaque to everyone but its maker."""

    cookie: bytes

    def encode(self) -> bytes:
        return tlv(ParamType.STATE_COOKIE, self.cookie)


@dataclass(frozen=True, slots=True)
class UnrecognizedParameter:
    """Unrecognized Parameter (8) in an INIT ACK: a whole TLV copied from the INIT."""

    parameter: bytes

    def encode(self) -> bytes:
        return tlv(ParamType.UNRECOGNIZED_PARAMETER, self.parameter)


@dataclass(frozen=True, slots=True)
class HeartbeatInfo:
    """Heartbeat Info (1): sender-specific data the peer echoes in its HEARTBEAT ACK."""

    info: bytes

    def encode(self) -> bytes:
        return tlv(ParamType.HEARTBEAT_INFO, self.info)


@dataclass(frozen=True, slots=True)
class UnknownParameter:
    """A parameter type this stack does not implement (ECN Capable 0x8000 among them)."""

    type: int
    value: bytes

    @property
    def action(self) -> UnknownAction:
        return UnknownAction.of_parameter(self.type)

    def encode(self) -> bytes:
        if not 0 <= self.type <= 0xFFFF:
            raise SctpEncodeError(f"parameter type {self.type} out of range")
        return tlv(self.type, self.value)


Parameter: TypeAlias = (
    AddressParameter
    | CookiePreservative
    | HostNameAddress
    | SupportedAddressTypes
    | StateCookie
    | UnrecognizedParameter
    | HeartbeatInfo
    | UnknownParameter
)


def _u32(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise SctpEncodeError(f"{what} {value} does not fit 32 bits")
    return U32.pack(value)


def _fixed(kind: int, value: bytes, size: int, offset: int) -> None:
    if len(value) != size:
        raise SctpDecodeError(
            f"parameter {kind} needs a {size}-byte value, has {len(value)}", offset=offset
        )


def decode_parameter(kind: int, value: bytes, offset: int = 0) -> Parameter:
    """One parameter from its type and value (``offset`` only for error messages)."""
    if kind == ParamType.IPV4_ADDRESS:
        _fixed(kind, value, 4, offset)
        return AddressParameter(ipaddress.IPv4Address(value))
    if kind == ParamType.IPV6_ADDRESS:
        _fixed(kind, value, 16, offset)
        return AddressParameter(ipaddress.IPv6Address(value))
    if kind == ParamType.COOKIE_PRESERVATIVE:
        _fixed(kind, value, 4, offset)
        return CookiePreservative(U32.unpack(value)[0])
    if kind == ParamType.HOST_NAME_ADDRESS:
        return HostNameAddress(value)
    if kind == ParamType.SUPPORTED_ADDRESS_TYPES:
        if len(value) % 2:
            raise SctpDecodeError("odd-length Supported Address Types", offset=offset)
        return SupportedAddressTypes(tuple(t for (t,) in U16.iter_unpack(value)))
    if kind == ParamType.STATE_COOKIE:
        return StateCookie(value)
    if kind == ParamType.UNRECOGNIZED_PARAMETER:
        return UnrecognizedParameter(value)
    if kind == ParamType.HEARTBEAT_INFO:
        return HeartbeatInfo(value)
    return UnknownParameter(kind, value)


def decode_parameters(data: bytes, start: int, end: int) -> tuple[Parameter, ...]:
    return tuple(decode_parameter(k, v, start) for k, v in split_tlvs(data, start, end))


def encode_parameters(parameters: tuple[Parameter, ...]) -> bytes:
    """The parameters as a chunk's tail: the last one's padding left to the chunk."""
    return strip_final_padding([p.encode() for p in parameters])
