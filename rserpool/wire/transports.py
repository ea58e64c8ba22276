"""RFC 5354 transport parameters (§3.3-3.7, §3.16) and the IP address parameters inside them.

Part of :mod:`rserpool.wire.params`, which re-exports every name here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TypeAlias

from rserpool.wire.buffer import U16_U16, U16_U16_U32, U32, tlv
from rserpool.wire.constants import MAX_ADDRESSES_PER_TRANSPORT, ParamType, TransportUse
from rserpool.wire.errors import EncodeError
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

_V4_HEADER = U16_U16.pack(ParamType.IPV4_ADDRESS, 8)
_V6_HEADER = U16_U16.pack(ParamType.IPV6_ADDRESS, 20)


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
