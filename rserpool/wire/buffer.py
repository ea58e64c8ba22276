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


_POOL_HANDLE, _PE_IDENTIFIER = int(ParamType.POOL_HANDLE), int(ParamType.PE_IDENTIFIER)
