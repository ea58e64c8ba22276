"""Precompiled structs, 4-byte padding and bounds-checked reads for the codec.

Every read from untrusted bytes goes through :func:`read` (or checks bounds first), so
``struct.error`` and ``IndexError`` never escape: they become :class:`DecodeError`.
"""

from __future__ import annotations

import struct

from rserpool.wire.constants import MAX_POOL_HANDLE_SIZE, Cause, ParamType
from rserpool.wire.errors import DecodeError, EncodeError

HEADER = struct.Struct("!BBH")  # message: type, flags, length (RFC 5354 §4)
TLV_HEADER = struct.Struct("!HH")  # parameter: type, length (RFC 5354 §3)
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")
U16_U16 = struct.Struct("!HH")
U32_U32 = struct.Struct("!II")
U32_U32_U32 = struct.Struct("!III")
U16_U16_U32 = struct.Struct("!HHI")
HEADER_AND_TLV_HEADER = struct.Struct("!BBHHH")  # message header, first parameter's header

PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")  # indexed by length % 4


def pad4(length: int) -> int:
    """Bytes of zero padding that bring ``length`` to a multiple of 4."""
    return -length & 3


def read(
    fmt: struct.Struct,
    data: bytes,
    offset: int,
    end: int,
    *,
    cause: Cause = Cause.RSPLIB_INVALID_MESSAGE,
    what: str = "field",
    tlv: bytes | None = None,
) -> tuple[int, ...]:
    """Unpack ``fmt`` at ``offset``, refusing to read at or past ``end``."""
    if offset < 0 or offset + fmt.size > end or end > len(data):
        raise DecodeError(
            f"truncated {what}: need {fmt.size} bytes, have {max(0, end - offset)}",
            cause=cause,
            offset=offset,
            tlv=tlv,
        )
    return fmt.unpack_from(data, offset)


def tlv(param_type: int, value: bytes) -> bytes:
    """A parameter TLV, padded to 4; its length field excludes its own trailing padding."""
    length = 4 + len(value)
    if length > 0xFFFF:
        raise EncodeError(f"parameter {param_type:#06x} too long ({length} bytes)")
    return TLV_HEADER.pack(param_type, length) + value + PADDING[length & 3]


def handle_and_id(msg_type: int, flags: int, handle: bytes, pe_id: int) -> bytes | None:
    """An ASAP message of exactly Pool Handle and PE Identifier, from two precompiled structs
    (None: a handle the plain encoder must refuse)."""
    n = len(handle)
    if not 1 <= n <= MAX_POOL_HANDLE_SIZE:
        return None
    head = HEADER_AND_TLV_HEADER.pack(msg_type, flags, 16 + n + (-n & 3), _POOL_HANDLE, 4 + n)
    return head + handle + PADDING[(4 + n) & 3] + U16_U16_U32.pack(_PE_IDENTIFIER, 8, pe_id)


def exact_pool_handle(data: bytes, length: int) -> tuple[bytes, int] | None:
    """(pool handle, where the next parameter starts) when the body starts with a valid Pool
    Handle parameter; else None."""
    if length < 12:
        return None
    param_type, size = U16_U16.unpack_from(data, 4)
    if param_type != _POOL_HANDLE or not 5 <= size <= 4 + MAX_POOL_HANDLE_SIZE:
        return None
    return data[8 : 4 + size], 4 + size + (-size & 3)


def exact_u32_param(data: bytes, at: int, param_type: int, length: int) -> int | None:
    """The value of a u32 parameter of ``param_type`` at ``at`` that ends the message."""
    if at + 8 != length or U16_U16.unpack_from(data, at) != (param_type, 8):
        return None
    return int(U32.unpack_from(data, at + 4)[0])


_POOL_HANDLE, _PE_IDENTIFIER = int(ParamType.POOL_HANDLE), int(ParamType.PE_IDENTIFIER)
