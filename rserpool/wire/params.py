"""RFC 5354 parameters: frozen value classes, their encoders, and decoders for untrusted TLVs.

The transport parameters and addresses are in :mod:`rserpool.wire.transports` (names re-exported
here); this module has the rest: policy, pool handle, pool element, server information, ids,
checksum, cookie and Operation Error.

Encoders return whole padded TLVs. A TLV that nests others counts their padding in its
length, as RSPLIB does; only a leaf's own trailing padding is left out of its length.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, TypeAlias

from rserpool.wire.buffer import PADDING, U16, U16_U16, U32, U32_U32_U32, pad4, tlv
from rserpool.wire.constants import (
    MAX_ADDRESSES_PER_TRANSPORT,
    MAX_POOL_HANDLE_SIZE,
    POLICY_FIELDS,
    Cause,
    ParamType,
    PolicyType,
)
from rserpool.wire.errors import EncodeError
from rserpool.wire.policy import PoolMemberSelectionPolicy
from rserpool.wire.quickinit import quick_init
from rserpool.wire.tlv import Scanner, Tlv, UnknownParameter, join_tlvs, split_tlvs, types
from rserpool.wire.transports import (
    ADDRESS_TYPES,
    SCTP_TYPE,
    TRANSPORT_TYPES,
    AddressTransport,
    DccpTransport,
    IPAddress,
    OpaqueTransport,
    SctpTransport,
    TcpTransport,
    Transport,
    UdpLiteTransport,
    UdpTransport,
    decode_address,
    decode_sctp_transport,
    decode_transport,
    encode_address,
    normalize_address,
)

POLICY_TYPE = types(ParamType.POOL_MEMBER_SELECTION_POLICY)
POOL_HANDLE_TYPE = types(ParamType.POOL_HANDLE)
POOL_ELEMENT_TYPE = types(ParamType.POOL_ELEMENT)
SERVER_INFORMATION_TYPE = types(ParamType.SERVER_INFORMATION)
OPERATION_ERROR_TYPE = types(ParamType.OPERATION_ERROR)
COOKIE_TYPE = types(ParamType.COOKIE)
PE_IDENTIFIER_TYPE = types(ParamType.PE_IDENTIFIER)
PE_CHECKSUM_TYPE = types(ParamType.PE_CHECKSUM)
HR_OPTION_TYPE = types(ParamType.HANDLE_RESOLUTION_OPTION)

_UINTS = [struct.Struct(f"!{n}I") for n in range(8)]
_POLICY_BY_CODE = {int(p): p for p in PolicyType}


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


@quick_init
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


#: The decoded parameters of a Pool Element (transports, policy, extensions), by their bytes.
_PE_BODY = dict[bytes, tuple[Transport, Policy, SctpTransport | None, tuple[UnknownParameter, ...]]]
_pe_bodies: _PE_BODY = {}
PE_BODY_MEMO_LIMIT = 1024  # entries; the memo starts afresh when full
PE_BODY_MEMO_SIZE = 256  # bytes: larger bodies (many addresses, extensions) are not kept


def decode_pool_element(t: Tlv) -> PoolElement:
    if t.value_length < 12:
        raise t.invalid("pool element shorter than its 12 fixed bytes")
    data = t.data
    pe_id, home, life = U32_U32_U32.unpack_from(data, t.start + 4)
    body = data[t.start + 16 : t.end]
    # fast path: a re-registration (or a PE of the same host) sends the same transports and
    # policy again; their decoded (frozen) values are reused, which saves decoding them
    known = _pe_bodies.get(body)
    if known is not None:
        return PoolElement(pe_id, home, life, *known)
    scan = Scanner(split_tlvs(data, t.start + 16, t.end), t.end)
    user = decode_transport(scan.expect(TRANSPORT_TYPES, "user transport"))
    policy = decode_policy(scan.expect(POLICY_TYPE, "member selection policy"))
    asap = scan.optional(SCTP_TYPE)
    extensions = scan.finish()
    asap_transport = None if asap is None else decode_sctp_transport(asap)
    if len(body) <= PE_BODY_MEMO_SIZE:
        if len(_pe_bodies) >= PE_BODY_MEMO_LIMIT:
            _pe_bodies.clear()
        _pe_bodies[body] = (user, policy, asap_transport, extensions)
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


__all__ = [  # with the transport names of rserpool.wire.transports, re-exported
    "ADDRESS_TYPES",
    "COOKIE_TYPE",
    "HR_OPTION_TYPE",
    "OPERATION_ERROR_TYPE",
    "PE_CHECKSUM_TYPE",
    "PE_IDENTIFIER_TYPE",
    "POLICY_TYPE",
    "POOL_ELEMENT_TYPE",
    "POOL_HANDLE_TYPE",
    "SCTP_TYPE",
    "SERVER_INFORMATION_TYPE",
    "TRANSPORT_TYPES",
    "AddressTransport",
    "DccpTransport",
    "ErrorCause",
    "IPAddress",
    "OpaqueTransport",
    "OperationError",
    "Policy",
    "PoolElement",
    "SctpTransport",
    "ServerInformation",
    "TcpTransport",
    "Transport",
    "UdpLiteTransport",
    "UdpTransport",
    "UnknownPolicy",
    "cause_of",
    "decode_address",
    "decode_operation_error",
    "decode_pe_checksum",
    "decode_policy",
    "decode_pool_element",
    "decode_pool_handle",
    "decode_sctp_transport",
    "decode_server_information",
    "decode_transport",
    "decode_u32_param",
    "encode_address",
    "encode_cookie",
    "encode_hr_option",
    "encode_pe_checksum",
    "encode_pe_identifier",
    "encode_policy",
    "encode_pool_handle",
    "normalize_address",
    "pool_element_size",
]
