"""The 10 ENRP messages (RFC 5353 §2), in RSPLIB's parameter order."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from rserpool.wire.buffer import U32_U32_U32
from rserpool.wire.constants import Cause, EnrpType, UpdateAction
from rserpool.wire.errors import DecodeError, InvalidValues
from rserpool.wire.message import EnrpMessage, Message
from rserpool.wire.params import (
    OPERATION_ERROR_TYPE,
    PE_CHECKSUM_TYPE,
    POOL_ELEMENT_TYPE,
    POOL_HANDLE_TYPE,
    SERVER_INFORMATION_TYPE,
    OperationError,
    PoolElement,
    ServerInformation,
    decode_operation_error,
    decode_pe_checksum,
    decode_pool_element,
    decode_pool_handle,
    decode_server_information,
    encode_pe_checksum,
    encode_pool_handle,
)
from rserpool.wire.text import error_text, handle_text, pe_text, server_text
from rserpool.wire.tlv import Scanner

_HANDLE_UPDATE_FIXED = struct.Struct("!IIHH")


def _bit(flag: bool, bit: int = 0x01) -> int:
    return bit if flag else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Presence(EnrpMessage):
    """PE Checksum (mandatory, first for RSPLIB), [Server Information]; bit 0 = reply required."""

    TYPE: ClassVar[int] = EnrpType.PRESENCE
    NAME: ClassVar[str] = "Presence"
    pe_checksum: int
    server_information: ServerInformation | None = None
    reply_required: bool = False

    def _flags(self) -> int:
        return _bit(self.reply_required)

    def _params(self) -> list[bytes]:
        params = [encode_pe_checksum(self.pe_checksum)]
        if self.server_information is not None:
            params.append(self.server_information.encode())
        return params

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        checksum = decode_pe_checksum(scan.expect(PE_CHECKSUM_TYPE, "PE checksum"))
        info = scan.optional(SERVER_INFORMATION_TYPE)
        return cls(
            sender_id=fixed[0],
            receiver_id=fixed[1],
            pe_checksum=checksum,
            server_information=None if info is None else decode_server_information(info),
            reply_required=bool(flags & 0x01),
        )

    def _details(self) -> str:
        text = f"checksum {self.pe_checksum:#06x}"
        if self.server_information is not None:
            text += " " + server_text(self.server_information)
        return text + (" RR" if self.reply_required else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class HandleTableRequest(EnrpMessage):
    """No parameters; bit 0 = W (own children only)."""

    TYPE: ClassVar[int] = EnrpType.HANDLE_TABLE_REQUEST
    NAME: ClassVar[str] = "Handle Table Request"
    own_children_only: bool = False

    def _flags(self) -> int:
        return _bit(self.own_children_only)

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        return cls(sender_id=fixed[0], receiver_id=fixed[1], own_children_only=bool(flags & 1))

    def _details(self) -> str:
        return "own-children-only" if self.own_children_only else ""


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """One pool in a Handle Table Response: its handle and one or more PEs."""

    pool_handle: bytes
    pool_elements: tuple[PoolElement, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandleTableResponse(EnrpMessage):
    """Repeated (Pool Handle, Pool Element+); bit 0 = R (reject), bit 1 = M (more to send)."""

    TYPE: ClassVar[int] = EnrpType.HANDLE_TABLE_RESPONSE
    NAME: ClassVar[str] = "Handle Table Response"
    entries: tuple[PoolEntry, ...] = ()
    reject: bool = False
    more_to_send: bool = False

    def _flags(self) -> int:
        return _bit(self.reject) | _bit(self.more_to_send, 0x02)

    def _params(self) -> list[bytes]:
        params = []
        for entry in self.entries:
            params.append(encode_pool_handle(entry.pool_handle))
            params.extend([pe.encode() for pe in entry.pool_elements])
        return params

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        entries = []
        while (handle_tlv := scan.optional(POOL_HANDLE_TYPE)) is not None:
            pes = tuple(decode_pool_element(t) for t in scan.repeat(POOL_ELEMENT_TYPE))
            if not pes:
                raise DecodeError(
                    "pool handle without pool elements in Handle Table Response",
                    cause=Cause.RSPLIB_INVALID_MESSAGE,
                    offset=handle_tlv.start,
                )
            entries.append(PoolEntry(decode_pool_handle(handle_tlv), pes))
        return cls(
            sender_id=fixed[0],
            receiver_id=fixed[1],
            entries=tuple(entries),
            reject=bool(flags & 0x01),
            more_to_send=bool(flags & 0x02),
        )

    def _details(self) -> str:
        pes = sum(len(e.pool_elements) for e in self.entries)
        text = f"{len(self.entries)} pool(s) {pes} PE(s)"
        return text + (" REJECT" if self.reject else "") + (" M" if self.more_to_send else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class HandleUpdate(EnrpMessage):
    """``u16 action, u16 reserved``, Pool Handle, Pool Element; bit 0 = takeover suggested."""

    TYPE: ClassVar[int] = EnrpType.HANDLE_UPDATE
    NAME: ClassVar[str] = "Handle Update"
    FIXED: ClassVar[struct.Struct | None] = _HANDLE_UPDATE_FIXED
    action: UpdateAction
    pool_handle: bytes
    pool_element: PoolElement
    takeover_suggested: bool = False

    def _flags(self) -> int:
        return _bit(self.takeover_suggested)

    def _fixed(self) -> bytes:
        return _HANDLE_UPDATE_FIXED.pack(self.sender_id, self.receiver_id, self.action, 0)

    def _params(self) -> list[bytes]:
        return [encode_pool_handle(self.pool_handle), self.pool_element.encode()]

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        if fixed[2] > UpdateAction.DEL_PE:
            raise InvalidValues(f"update action {fixed[2]:#06x}", offset=12)
        handle = decode_pool_handle(scan.expect(POOL_HANDLE_TYPE, "pool handle"))
        pe = decode_pool_element(scan.expect(POOL_ELEMENT_TYPE, "pool element"))
        return cls(
            sender_id=fixed[0],
            receiver_id=fixed[1],
            action=UpdateAction(fixed[2]),
            pool_handle=handle,
            pool_element=pe,
            takeover_suggested=bool(flags & 0x01),
        )

    def _details(self) -> str:
        text = f"{self.action.name} {handle_text(self.pool_handle)} {pe_text(self.pool_element)}"
        return text + (" T" if self.takeover_suggested else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRequest(EnrpMessage):
    """No parameters."""

    TYPE: ClassVar[int] = EnrpType.LIST_REQUEST
    NAME: ClassVar[str] = "List Request"

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        return cls(sender_id=fixed[0], receiver_id=fixed[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class ListResponse(EnrpMessage):
    """Server Information × n; bit 0 = R (reject)."""

    TYPE: ClassVar[int] = EnrpType.LIST_RESPONSE
    NAME: ClassVar[str] = "List Response"
    servers: tuple[ServerInformation, ...] = ()
    reject: bool = False

    def _flags(self) -> int:
        return _bit(self.reject)

    def _params(self) -> list[bytes]:
        return [s.encode() for s in self.servers]

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        servers = scan.repeat(SERVER_INFORMATION_TYPE)
        return cls(
            sender_id=fixed[0],
            receiver_id=fixed[1],
            servers=tuple(decode_server_information(t) for t in servers),
            reject=bool(flags & 0x01),
        )

    def _details(self) -> str:
        return f"{len(self.servers)} server(s)" + (" REJECT" if self.reject else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class _TakeoverMessage(EnrpMessage):
    """Messages whose body is ``u32 target server id``."""

    FIXED: ClassVar[struct.Struct | None] = U32_U32_U32
    target_id: int

    def _fixed(self) -> bytes:
        return U32_U32_U32.pack(self.sender_id, self.receiver_id, self.target_id)

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        return cls(sender_id=fixed[0], receiver_id=fixed[1], target_id=fixed[2])

    def _details(self) -> str:
        return f"target {self.target_id:#010x}"


@dataclass(frozen=True, slots=True, kw_only=True)
class InitTakeover(_TakeoverMessage):
    TYPE: ClassVar[int] = EnrpType.INIT_TAKEOVER
    NAME: ClassVar[str] = "Init Takeover"


@dataclass(frozen=True, slots=True, kw_only=True)
class InitTakeoverAck(_TakeoverMessage):
    TYPE: ClassVar[int] = EnrpType.INIT_TAKEOVER_ACK
    NAME: ClassVar[str] = "Init Takeover Ack"


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeoverServer(_TakeoverMessage):
    TYPE: ClassVar[int] = EnrpType.TAKEOVER_SERVER
    NAME: ClassVar[str] = "Takeover Server"


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrpError(EnrpMessage):
    """Operation Error."""

    TYPE: ClassVar[int] = EnrpType.ERROR
    NAME: ClassVar[str] = "Error"
    error: OperationError

    def _params(self) -> list[bytes]:
        return [self.error.encode()]

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        error = decode_operation_error(scan.expect(OPERATION_ERROR_TYPE, "error"))
        return cls(sender_id=fixed[0], receiver_id=fixed[1], error=error)

    def _details(self) -> str:
        return error_text(self.error)


ENRP_MESSAGES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Presence,
        HandleTableRequest,
        HandleTableResponse,
        HandleUpdate,
        ListRequest,
        ListResponse,
        InitTakeover,
        InitTakeoverAck,
        TakeoverServer,
        EnrpError,
    )
}
