"""The ASAP messages a registrar takes part in (RFC 5352 §2.2), in RSPLIB's parameter order:
registration, keep-alive, handle resolution, Endpoint Unreachable, Server Announce, Error.

The messages between a pool user and a pool element (Cookie, Cookie Echo, Business Card) are
in :mod:`rserpool.wire.asap_session`; the table of all 14 by type, in :mod:`rserpool.wire.codec`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from rserpool.wire.buffer import U32, exact_pool_handle, exact_u32_param, handle_and_id
from rserpool.wire.constants import PPID, AsapType, ParamType
from rserpool.wire.message import Message
from rserpool.wire.params import (
    HR_OPTION_TYPE,
    OPERATION_ERROR_TYPE,
    PE_IDENTIFIER_TYPE,
    POLICY_TYPE,
    POOL_ELEMENT_TYPE,
    POOL_HANDLE_TYPE,
    TRANSPORT_TYPES,
    OperationError,
    Policy,
    PoolElement,
    Transport,
    decode_operation_error,
    decode_policy,
    decode_pool_element,
    decode_pool_handle,
    decode_transport,
    decode_u32_param,
    encode_hr_option,
    encode_pe_identifier,
    encode_policy,
    encode_pool_handle,
)
from rserpool.wire.quickinit import quick_init
from rserpool.wire.text import error_text, handle_text, pe_text, policy_text, transport_text
from rserpool.wire.tlv import Scanner, UnknownParameter

_PE_IDENTIFIER, _HR_OPTION = ParamType.PE_IDENTIFIER.value, ParamType.HANDLE_RESOLUTION_OPTION.value


@dataclass(frozen=True, slots=True, kw_only=True)
class AsapMessage(Message):
    PPID: ClassVar[PPID] = PPID.ASAP


def _handle(scan: Scanner) -> bytes:
    return decode_pool_handle(scan.expect(POOL_HANDLE_TYPE, "pool handle"))


def _pe_id(scan: Scanner) -> int:
    return decode_u32_param(scan.expect(PE_IDENTIFIER_TYPE, "PE identifier"))


def _error(scan: Scanner) -> OperationError | None:
    t = scan.optional(OPERATION_ERROR_TYPE)
    return None if t is None else decode_operation_error(t)


def _opt(params: list[bytes], error: OperationError | None) -> list[bytes]:
    if error is not None:
        params.append(error.encode())
    return params


def _err(error: OperationError | None) -> str:
    return "" if error is None else " " + error_text(error)


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Registration(AsapMessage):
    """PE → home PR: Pool Handle, Pool Element (without ASAP transport)."""

    TYPE: ClassVar[int] = AsapType.REGISTRATION
    NAME: ClassVar[str] = "Registration"
    pool_handle: bytes
    pool_element: PoolElement

    def _params(self) -> list[bytes]:
        return [encode_pool_handle(self.pool_handle), self.pool_element.encode()]

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        handle = _handle(scan)
        pe = decode_pool_element(scan.expect(POOL_ELEMENT_TYPE, "pool element"))
        return cls(pool_handle=handle, pool_element=pe)

    def _details(self) -> str:
        return f"{handle_text(self.pool_handle)} {pe_text(self.pool_element)}"

    def to_report(self) -> tuple[UnknownParameter, ...]:
        pe, asap = self.pool_element, self.pool_element.asap_transport
        nested = (
            pe.extensions,
            getattr(pe.user_transport, "extensions", ()),
            asap and asap.extensions,
        )
        if not self.extensions and not any(nested):  # fast path: nothing skipped, no field walk
            return ()
        return Message.to_report(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class _HandleAndId(AsapMessage):
    """Messages whose body is Pool Handle, PE Identifier."""

    FLAT: ClassVar[bool] = True
    pool_handle: bytes
    pe_id: int

    def _params(self) -> list[bytes]:
        return [encode_pool_handle(self.pool_handle), encode_pe_identifier(self.pe_id)]

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        return cls(pool_handle=_handle(scan), pe_id=_pe_id(scan))

    @classmethod
    def _exact(cls, data: bytes, flags: int, length: int) -> Self | None:
        # fast path: exactly Pool Handle and PE Identifier, read without a scan
        found = exact_pool_handle(data, length)
        if found is None:
            return None
        pe_id = exact_u32_param(data, found[1], _PE_IDENTIFIER, length)
        return None if pe_id is None else cls(pool_handle=found[0], pe_id=pe_id)

    def _details(self) -> str:
        return f"{handle_text(self.pool_handle)} PE {self.pe_id:#010x}"


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Deregistration(_HandleAndId):
    TYPE: ClassVar[int] = AsapType.DEREGISTRATION
    NAME: ClassVar[str] = "Deregistration"


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointKeepAliveAck(_HandleAndId):
    TYPE: ClassVar[int] = AsapType.ENDPOINT_KEEP_ALIVE_ACK
    NAME: ClassVar[str] = "Endpoint Keep Alive Ack"


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointUnreachable(_HandleAndId):
    TYPE: ClassVar[int] = AsapType.ENDPOINT_UNREACHABLE
    NAME: ClassVar[str] = "Endpoint Unreachable"


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationResponse(AsapMessage):
    """PR → PE: Pool Handle, PE Identifier, [Operation Error]; flag bit 0 = Reject."""

    TYPE: ClassVar[int] = AsapType.REGISTRATION_RESPONSE
    NAME: ClassVar[str] = "Registration Response"
    pool_handle: bytes
    pe_id: int
    reject: bool = False
    error: OperationError | None = None

    def _flags(self) -> int:
        return 0x01 if self.reject else 0

    def encode(self) -> bytes:
        if self.error is None and not self.extensions:  # fast path: two structs, no TLV list
            data = handle_and_id(self.TYPE, self._flags(), self.pool_handle, self.pe_id)
            if data is not None:
                return data
        return Message.encode(self)

    def _params(self) -> list[bytes]:
        ph, pid = encode_pool_handle(self.pool_handle), encode_pe_identifier(self.pe_id)
        return _opt([ph, pid], self.error)

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        handle, pe_id, error = _handle(scan), _pe_id(scan), _error(scan)
        return cls(pool_handle=handle, pe_id=pe_id, reject=bool(flags & 0x01), error=error)

    def _details(self) -> str:
        text = f"{handle_text(self.pool_handle)} PE {self.pe_id:#010x}"
        return text + (" REJECT" if self.reject else " OK") + _err(self.error)


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class DeregistrationResponse(AsapMessage):
    """PR → PE: Pool Handle, PE Identifier, [Operation Error]."""

    TYPE: ClassVar[int] = AsapType.DEREGISTRATION_RESPONSE
    NAME: ClassVar[str] = "Deregistration Response"
    pool_handle: bytes
    pe_id: int
    error: OperationError | None = None

    def encode(self) -> bytes:
        if self.error is None and not self.extensions:  # fast path: two structs, no TLV list
            data = handle_and_id(self.TYPE, 0, self.pool_handle, self.pe_id)
            if data is not None:
                return data
        return Message.encode(self)

    def _params(self) -> list[bytes]:
        ph, pid = encode_pool_handle(self.pool_handle), encode_pe_identifier(self.pe_id)
        return _opt([ph, pid], self.error)

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        return cls(pool_handle=_handle(scan), pe_id=_pe_id(scan), error=_error(scan))

    def _details(self) -> str:
        return f"{handle_text(self.pool_handle)} PE {self.pe_id:#010x}" + _err(self.error)


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class HandleResolution(AsapMessage):
    """PU → PR: Pool Handle, [Handle Resolution option 0x803f]; flag bit 0 = S (subscribe).

    ``items`` is the option's value: 0 = the registrar's default, 0xffffffff = all;
    ``None`` leaves the option out.
    """

    TYPE: ClassVar[int] = AsapType.HANDLE_RESOLUTION
    NAME: ClassVar[str] = "Handle Resolution"
    FLAT: ClassVar[bool] = True
    pool_handle: bytes
    items: int | None = None
    subscribe: bool = False

    def _flags(self) -> int:
        return 0x01 if self.subscribe else 0

    def _params(self) -> list[bytes]:
        params = [encode_pool_handle(self.pool_handle)]
        if self.items is not None:
            params.append(encode_hr_option(self.items))
        return params

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        handle = _handle(scan)
        option = scan.optional(HR_OPTION_TYPE)
        items = None if option is None else decode_u32_param(option)
        return cls(pool_handle=handle, items=items, subscribe=bool(flags & 0x01))

    @classmethod
    def _exact(cls, data: bytes, flags: int, length: int) -> Self | None:
        found = exact_pool_handle(data, length)  # fast path: Pool Handle, [option], no scan
        if found is None:
            return None
        handle, at = found
        items = None if at == length else exact_u32_param(data, at, _HR_OPTION, length)
        if items is None and at != length:
            return None
        return cls(pool_handle=handle, items=items, subscribe=bool(flags & 0x01))

    def _details(self) -> str:
        text = handle_text(self.pool_handle)
        if self.items is not None:
            text += " items " + ("all" if self.items == 0xFFFFFFFF else str(self.items))
        return text + (" S" if self.subscribe else "")


def _pe_list(scan: Scanner) -> tuple[PoolElement, ...]:
    return tuple(decode_pool_element(t) for t in scan.repeat(POOL_ELEMENT_TYPE))


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class HandleResolutionResponse(AsapMessage):
    """PR → PU: Pool Handle, then [Policy] and PEs, or an Operation Error; bit 0 = A.

    RSPLIB calls bit 0 "reject" but never sets it; RFC 5352 calls it 'A' (updates accepted).
    """

    TYPE: ClassVar[int] = AsapType.HANDLE_RESOLUTION_RESPONSE
    NAME: ClassVar[str] = "Handle Resolution Response"
    pool_handle: bytes
    policy: Policy | None = None
    pool_elements: tuple[PoolElement, ...] = ()
    error: OperationError | None = None
    accept_updates: bool = False

    def _flags(self) -> int:
        return 0x01 if self.accept_updates else 0

    def _params(self) -> list[bytes]:
        params = [encode_pool_handle(self.pool_handle)]
        if self.policy is not None:
            params.append(encode_policy(self.policy))
        params.extend([pe.encode() for pe in self.pool_elements])
        return _opt(params, self.error)

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        handle = _handle(scan)
        policy_tlv = scan.optional(POLICY_TYPE)
        policy = None if policy_tlv is None else decode_policy(policy_tlv)
        pes, error = _pe_list(scan), _error(scan)
        return cls(
            pool_handle=handle,
            policy=policy,
            pool_elements=pes,
            error=error,
            accept_updates=bool(flags & 0x01),
        )

    def _details(self) -> str:
        text = handle_text(self.pool_handle)
        if self.policy is not None:
            text += " " + policy_text(self.policy)
        text += f" {len(self.pool_elements)} PE(s)"
        if len(self.pool_elements) == 1:
            text += ": " + pe_text(self.pool_elements[0])
        return text + _err(self.error) + (" A" if self.accept_updates else "")


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointKeepAlive(AsapMessage):
    """PR → PE: ``u32 server id``, Pool Handle, [PE Identifier] (RSPLIB); bit 0 = H (home)."""

    TYPE: ClassVar[int] = AsapType.ENDPOINT_KEEP_ALIVE
    NAME: ClassVar[str] = "Endpoint Keep Alive"
    FIXED: ClassVar[struct.Struct | None] = U32
    server_id: int
    pool_handle: bytes
    pe_id: int | None = None
    home: bool = False

    def _flags(self) -> int:
        return 0x01 if self.home else 0

    def _fixed(self) -> bytes:
        return U32.pack(self.server_id)

    def _params(self) -> list[bytes]:
        params = [encode_pool_handle(self.pool_handle)]
        if self.pe_id is not None:
            params.append(encode_pe_identifier(self.pe_id))
        return params

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        handle = _handle(scan)
        pe_tlv = scan.optional(PE_IDENTIFIER_TYPE)
        pe_id = None if pe_tlv is None else decode_u32_param(pe_tlv)
        return cls(server_id=fixed[0], pool_handle=handle, pe_id=pe_id, home=bool(flags & 1))

    def _details(self) -> str:
        text = f"server {self.server_id:#010x} {handle_text(self.pool_handle)}"
        if self.pe_id is not None:
            text += f" PE {self.pe_id:#010x}"
        return text + (" H" if self.home else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerAnnounce(AsapMessage):
    """PR → multicast (UDP): ``u32 server id``, [transport parameters]."""

    TYPE: ClassVar[int] = AsapType.SERVER_ANNOUNCE
    NAME: ClassVar[str] = "Server Announce"
    FIXED: ClassVar[struct.Struct | None] = U32
    server_id: int
    transports: tuple[Transport, ...] = ()

    def _fixed(self) -> bytes:
        return U32.pack(self.server_id)

    def _params(self) -> list[bytes]:
        return [t.encode() for t in self.transports]

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        transports = tuple(decode_transport(t) for t in scan.repeat(TRANSPORT_TYPES))
        return cls(server_id=fixed[0], transports=transports)

    def _details(self) -> str:
        return " ".join([f"server {self.server_id:#010x}", *map(transport_text, self.transports)])


@dataclass(frozen=True, slots=True, kw_only=True)
class AsapError(AsapMessage):
    """Any ASAP endpoint: Operation Error."""

    TYPE: ClassVar[int] = AsapType.ERROR
    NAME: ClassVar[str] = "Error"
    error: OperationError

    def _params(self) -> list[bytes]:
        return [self.error.encode()]

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        return cls(error=decode_operation_error(scan.expect(OPERATION_ERROR_TYPE, "error")))

    def _details(self) -> str:
        return error_text(self.error)
