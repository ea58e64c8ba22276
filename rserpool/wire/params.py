"""RFC 5354 parameters: frozen value classes, their encoders, and decoders for untrusted TLVs.

Encoders return whole padded TLVs. A TLV that nests others counts their padding in its
length, as RSPLIB does; only a leaf's own trailing padding is left out of its length.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Any, TypeAlias

from rserpool.wire.buffer import PADDING, U16, U16_U16, U16_U16_U32, U32, U32_U32_U32, pad4, tlv
from rserpool.wire.constants import (
    MAX_ADDRESSES_PER_TRANSPORT,
    MAX_POOL_HANDLE_SIZE,
    POLICY_FIELDS,
    Cause,
    ParamType,
    PolicyType,
    TransportUse,
)
from rserpool.wire.errors import EncodeError
from rserpool.wire.policy import PoolMemberSelectionPolicy
from rserpool.wire.tlv import Scanner, Tlv, UnknownParameter, join_tlvs, split_tlvs, types

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

ADDRESS_TYPES = types(ParamType.IPV4_ADDRESS, ParamType.IPV6_ADDRESS)
TRANSPORT_TYPES = types(
    ParamType.SCTP_TRANSPORT,
    ParamType.TCP_TRANSPORT,
    ParamType.UDP_TRANSPORT,
    ParamType.UDP_LITE_TRANSPORT,
    ParamType.DCCP_TRANSPORT,
    ParamType.OPAQUE_TRANSPORT,
)
SCTP_TYPE = types(ParamType.SCTP_TRANSPORT)
POLICY_TYPE = types(ParamType.POOL_MEMBER_SELECTION_POLICY)
POOL_HANDLE_TYPE = types(ParamType.POOL_HANDLE)
POOL_ELEMENT_TYPE = types(ParamType.POOL_ELEMENT)
SERVER_INFORMATION_TYPE = types(ParamType.SERVER_INFORMATION)
OPERATION_ERROR_TYPE = types(ParamType.OPERATION_ERROR)
COOKIE_TYPE = types(ParamType.COOKIE)
PE_IDENTIFIER_TYPE = types(ParamType.PE_IDENTIFIER)
PE_CHECKSUM_TYPE = types(ParamType.PE_CHECKSUM)
HR_OPTION_TYPE = types(ParamType.HANDLE_RESOLUTION_OPTION)

_V4_HEADER = U16_U16.pack(ParamType.IPV4_ADDRESS, 8)
_V6_HEADER = U16_U16.pack(ParamType.IPV6_ADDRESS, 20)
_UINTS = [struct.Struct(f"!{n}I") for n in range(8)]
_POLICY_BY_CODE = {int(p): p for p in PolicyType}


def normalize_address(address: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 addresses become IPv4 (RSPLIB always sends them as IPv4)."""
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return mapped
    return address


def _norm_all(addresses: tuple[IPAddress, ...]) -> tuple[IPAddress, ...]:
    return tuple(normalize_address(a) for a in addresses)


def encode_address(address: IPAddress) -> bytes:
    if address.version == 4:
        return _V4_HEADER + address.packed
    mapped = address.ipv4_mapped
    if mapped is not None:
        return _V4_HEADER + mapped.packed
    return _V6_HEADER + address.packed


def decode_address(t: Tlv) -> IPAddress:
    start = t.start + 4
    if t.type == ParamType.IPV4_ADDRESS:
        if t.value_length != 4:
            raise t.invalid("IPv4 address must have 4 bytes")
        return ipaddress.IPv4Address(t.data[start : start + 4])
    if t.value_length != 16:
        raise t.invalid("IPv6 address must have 16 bytes")
    return normalize_address(ipaddress.IPv6Address(t.data[start : start + 16]))


@dataclass(frozen=True, slots=True)
class SctpTransport:
    """SCTP Transport (RFC 5354 §3.4): port, transport use, 1..64 addresses."""

    port: int
    addresses: tuple[IPAddress, ...]
    transport_use: TransportUse = TransportUse.DATA_ONLY
    extensions: tuple[UnknownParameter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", _norm_all(self.addresses))

    def encode(self) -> bytes:
        head = U16_U16.pack(self.port, self.transport_use)
        return tlv(ParamType.SCTP_TRANSPORT, head + _addr_block(self))


@dataclass(frozen=True, slots=True)
class TcpTransport:
    """TCP Transport (RFC 5354 §3.5); RSPLIB puts a transport use where the RFC reserves."""

    port: int
    addresses: tuple[IPAddress, ...]
    transport_use: TransportUse = TransportUse.DATA_ONLY
    extensions: tuple[UnknownParameter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", _norm_all(self.addresses))

    def encode(self) -> bytes:
        head = U16_U16.pack(self.port, self.transport_use)
        return tlv(ParamType.TCP_TRANSPORT, head + _addr_block(self))


@dataclass(frozen=True, slots=True)
class UdpTransport:
    """UDP Transport (RFC 5354 §3.6): port, reserved, address."""

    port: int
    addresses: tuple[IPAddress, ...]
    extensions: tuple[UnknownParameter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", _norm_all(self.addresses))

    def encode(self) -> bytes:
        head = U16_U16.pack(self.port, 0)
        return tlv(ParamType.UDP_TRANSPORT, head + _addr_block(self))


@dataclass(frozen=True, slots=True)
class UdpLiteTransport:
    """UDP-Lite Transport (RFC 5354 §3.7): port, reserved, address."""

    port: int
    addresses: tuple[IPAddress, ...]
    extensions: tuple[UnknownParameter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", _norm_all(self.addresses))

    def encode(self) -> bytes:
        head = U16_U16.pack(self.port, 0)
        return tlv(ParamType.UDP_LITE_TRANSPORT, head + _addr_block(self))


@dataclass(frozen=True, slots=True)
class DccpTransport:
    """DCCP Transport (RFC 5354 §3.3): port, reserved, service code, address."""

    port: int
    service_code: int
    addresses: tuple[IPAddress, ...]
    extensions: tuple[UnknownParameter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", _norm_all(self.addresses))

    def encode(self) -> bytes:
        head = U16_U16_U32.pack(self.port, 0, self.service_code)
        return tlv(ParamType.DCCP_TRANSPORT, head + _addr_block(self))


@dataclass(frozen=True, slots=True)
class OpaqueTransport:
    """Opaque Transport (RFC 5354 §3.16): an arbitrary byte string."""

    data: bytes

    def encode(self) -> bytes:
        return tlv(ParamType.OPAQUE_TRANSPORT, self.data)


AddressTransport: TypeAlias = (
    SctpTransport | TcpTransport | UdpTransport | UdpLiteTransport | DccpTransport
)
Transport: TypeAlias = AddressTransport | OpaqueTransport


def _addr_block(t: AddressTransport) -> bytes:
    if not 1 <= len(t.addresses) <= MAX_ADDRESSES_PER_TRANSPORT:
        raise EncodeError(f"a transport needs 1..{MAX_ADDRESSES_PER_TRANSPORT} addresses")
    return join_tlvs([encode_address(a) for a in t.addresses], t.extensions)


def _decode_addresses(
    t: Tlv, head: int
) -> tuple[tuple[IPAddress, ...], tuple[UnknownParameter, ...]]:
    start = t.start + 4 + head
    if start > t.end:
        raise t.invalid("transport parameter too short")
    scan = Scanner(split_tlvs(t.data, start, t.end), t.end)
    found = scan.repeat(ADDRESS_TYPES)
    extensions = scan.finish()
    if not 1 <= len(found) <= MAX_ADDRESSES_PER_TRANSPORT:
        raise t.invalid(f"{len(found)} addresses; 1..{MAX_ADDRESSES_PER_TRANSPORT} allowed")
    return tuple(decode_address(a) for a in found), extensions


def _transport_use(t: Tlv, value: int) -> TransportUse:
    if value > 1:
        raise t.invalid(f"transport use {value:#06x}")
    return TransportUse(value)


def decode_transport(t: Tlv) -> Transport:
    data, at = t.data, t.start + 4
    if t.type == ParamType.OPAQUE_TRANSPORT:
        return OpaqueTransport(t.value)
    head = 8 if t.type == ParamType.DCCP_TRANSPORT else 4
    addresses, ext = _decode_addresses(t, head)
    port, use = U16_U16.unpack_from(data, at)
    if t.type == ParamType.SCTP_TRANSPORT:
        return SctpTransport(port, addresses, _transport_use(t, use), ext)
    if t.type == ParamType.TCP_TRANSPORT:
        return TcpTransport(port, addresses, _transport_use(t, use), ext)
    if t.type == ParamType.UDP_TRANSPORT:
        return UdpTransport(port, addresses, ext)
    if t.type == ParamType.UDP_LITE_TRANSPORT:
        return UdpLiteTransport(port, addresses, ext)
    (service_code,) = U32.unpack_from(data, at + 4)
    return DccpTransport(port, service_code, addresses, ext)


def decode_sctp_transport(t: Tlv) -> SctpTransport:
    transport = decode_transport(t)
    assert isinstance(transport, SctpTransport)  # the scanner only let SCTP through
    return transport


@dataclass(frozen=True, slots=True)
class UnknownPolicy:
    """A policy type this codec does not know, kept raw (a registrar rejects it: 0x100b)."""

    policy_type: int
    data: bytes = b""

    def encode(self) -> bytes:
        return tlv(ParamType.POOL_MEMBER_SELECTION_POLICY, U32.pack(self.policy_type) + self.data)


Policy: TypeAlias = PoolMemberSelectionPolicy | UnknownPolicy


def encode_policy(policy: Policy) -> bytes:
    if isinstance(policy, UnknownPolicy):
        return policy.encode()
    values = policy.values()
    return tlv(
        ParamType.POOL_MEMBER_SELECTION_POLICY,
        _UINTS[len(values) + 1].pack(policy.policy_type, *values),
    )


def decode_policy(t: Tlv) -> Policy:
    n, at = t.value_length, t.start + 4
    if n < 4:
        raise t.invalid("policy parameter without a policy type")
    (code,) = U32.unpack_from(t.data, at)
    policy_type = _POLICY_BY_CODE.get(code)
    if policy_type is None:
        return UnknownPolicy(code, t.data[at + 4 : t.end])
    names = POLICY_FIELDS[policy_type]
    if n < 4 + 4 * len(names):
        raise t.invalid(f"policy {policy_type.name} needs {4 + 4 * len(names)} value bytes")
    kwargs: dict[str, Any] = dict(
        zip(names, _UINTS[len(names)].unpack_from(t.data, at + 4), strict=True)
    )
    return PoolMemberSelectionPolicy(policy_type, **kwargs)


def encode_pool_handle(handle: bytes) -> bytes:
    if not 1 <= len(handle) <= MAX_POOL_HANDLE_SIZE:
        raise EncodeError(f"pool handle must have 1..{MAX_POOL_HANDLE_SIZE} bytes")
    return tlv(ParamType.POOL_HANDLE, handle)


def decode_pool_handle(t: Tlv) -> bytes:
    if t.value_length == 0:
        raise t.invalid("empty pool handle")
    if t.value_length > MAX_POOL_HANDLE_SIZE:
        raise t.invalid(
            f"pool handle longer than {MAX_POOL_HANDLE_SIZE} bytes", Cause.RSPLIB_INVALID_VALUE
        )
    return t.value


def _u32_param(param_type: int, value: int) -> bytes:
    return U16_U16.pack(param_type, 8) + U32.pack(value)


def encode_pe_identifier(pe_id: int) -> bytes:
    return _u32_param(ParamType.PE_IDENTIFIER, pe_id)


def encode_hr_option(items: int) -> bytes:
    return _u32_param(ParamType.HANDLE_RESOLUTION_OPTION, items)


def decode_u32_param(t: Tlv) -> int:
    """PE Identifier (RFC 5354 §3.14) or Handle Resolution option items: exactly one u32."""
    if t.value_length != 4:
        raise t.invalid("value must be exactly 4 bytes")
    (value,) = U32.unpack_from(t.data, t.start + 4)
    return int(value)


def encode_pe_checksum(checksum: int) -> bytes:
    """PE Checksum (RFC 5354 §3.15): a u16, TLV length 6, padded to 8."""
    return U16_U16.pack(ParamType.PE_CHECKSUM, 6) + U16.pack(checksum) + b"\x00\x00"


def decode_pe_checksum(t: Tlv) -> int:
    if t.value_length != 2:
        raise t.invalid("PE checksum must be exactly 2 bytes")
    (value,) = U16.unpack_from(t.data, t.start + 4)
    return int(value)


def encode_cookie(cookie: bytes) -> bytes:
    return tlv(ParamType.COOKIE, cookie)


@dataclass(frozen=True, slots=True)
class PoolElement:
    """Pool Element (RFC 5354 §3.10). ``registration_life`` is in ms, as RSPLIB uses it."""

    pe_id: int
    home_registrar_id: int
    registration_life: int
    user_transport: Transport
    policy: Policy
    asap_transport: SctpTransport | None = None
    extensions: tuple[UnknownParameter, ...] = ()

    def encode(self) -> bytes:
        inner = [self.user_transport.encode(), encode_policy(self.policy)]
        if self.asap_transport is not None:
            inner.append(self.asap_transport.encode())
        head = U32_U32_U32.pack(self.pe_id, self.home_registrar_id, self.registration_life)
        return tlv(ParamType.POOL_ELEMENT, head + join_tlvs(inner, self.extensions))


def _address_transport_size(t: AddressTransport) -> int | None:
    if t.extensions or not 1 <= len(t.addresses) <= MAX_ADDRESSES_PER_TRANSPORT:
        return None
    size = 12 if isinstance(t, DccpTransport) else 8
    for a in t.addresses:
        size += 20 if a.version == 6 and a.ipv4_mapped is None else 8
    return size


def pool_element_size(pe: PoolElement) -> int:
    """``len(pe.encode())`` for a Handle Resolution Response's size budget, computed without
    encoding unless something in it is opaque, unknown or has too few or too many addresses
    (then the encoder answers, or raises). Field values are not range-checked here."""
    user, policy, asap = pe.user_transport, pe.policy, pe.asap_transport
    if not (
        pe.extensions or isinstance(user, OpaqueTransport) or isinstance(policy, UnknownPolicy)
    ):
        user_size = _address_transport_size(user)
        asap_size = 0 if asap is None else _address_transport_size(asap)
        if user_size is not None and asap_size is not None:
            return 16 + user_size + 8 + 4 * len(POLICY_FIELDS[policy.policy_type]) + asap_size
    return len(pe.encode())


def decode_pool_element(t: Tlv) -> PoolElement:
    if t.value_length < 12:
        raise t.invalid("pool element shorter than its 12 fixed bytes")
    pe_id, home, life = U32_U32_U32.unpack_from(t.data, t.start + 4)
    scan = Scanner(split_tlvs(t.data, t.start + 16, t.end), t.end)
    user = decode_transport(scan.expect(TRANSPORT_TYPES, "user transport"))
    policy = decode_policy(scan.expect(POLICY_TYPE, "member selection policy"))
    asap = scan.optional(SCTP_TYPE)
    extensions = scan.finish()
    asap_transport = None if asap is None else decode_sctp_transport(asap)
    return PoolElement(pe_id, home, life, user, policy, asap_transport, extensions)


@dataclass(frozen=True, slots=True)
class ServerInformation:
    """Server Information (RFC 5354 §3.11): an ENRP server's id and SCTP transport."""

    server_id: int
    transport: SctpTransport
    extensions: tuple[UnknownParameter, ...] = ()

    def encode(self) -> bytes:
        body = join_tlvs([self.transport.encode()], self.extensions)
        return tlv(ParamType.SERVER_INFORMATION, U32.pack(self.server_id) + body)


def decode_server_information(t: Tlv) -> ServerInformation:
    if t.value_length < 4:
        raise t.invalid("server information without a server id")
    (server_id,) = U32.unpack_from(t.data, t.start + 4)
    scan = Scanner(split_tlvs(t.data, t.start + 8, t.end), t.end)
    transport = decode_sctp_transport(scan.expect(SCTP_TYPE, "server transport"))
    return ServerInformation(server_id, transport, scan.finish())


@dataclass(frozen=True, slots=True)
class ErrorCause:
    """One error cause (RFC 5354 §3.12): a :class:`Cause` (or unknown int) and its data."""

    code: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class OperationError:
    """Operation Error (RFC 5354 §3.12): one or more error causes."""

    causes: tuple[ErrorCause, ...]

    @classmethod
    def of(cls, code: int, data: bytes = b"") -> OperationError:
        return cls((ErrorCause(code, data),))

    @property
    def code(self) -> int:
        """The first cause's code (RSPLIB sends exactly one)."""
        return self.causes[0].code if self.causes else Cause.UNSPECIFIED_ERROR

    def encode(self) -> bytes:
        parts = []
        for i, cause in enumerate(self.causes):
            length = 4 + len(cause.data)
            parts.append(U16_U16.pack(cause.code, length) + cause.data)
            if i + 1 < len(self.causes):  # the last cause's padding is the TLV's padding
                parts.append(PADDING[length & 3])
        return tlv(ParamType.OPERATION_ERROR, b"".join(parts))


def cause_of(code: int) -> int:
    """The :class:`Cause` member for ``code``, or ``code`` itself when unknown."""
    try:
        return Cause(code)
    except ValueError:
        return code


def decode_operation_error(t: Tlv) -> OperationError:
    causes = []
    pos, end, data = t.start + 4, t.end, t.data
    while pos < end:
        if end - pos < 4:
            raise t.invalid("truncated error cause header")
        code, length = U16_U16.unpack_from(data, pos)
        if length < 4 or pos + length > end:
            raise t.invalid(f"error cause length {length} does not fit")
        causes.append(ErrorCause(cause_of(code), data[pos + 4 : pos + length]))
        pos += length + pad4(length)
    return OperationError(tuple(causes))
