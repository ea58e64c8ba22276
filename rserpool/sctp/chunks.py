"""The chunks of RFC 9260 §3.3 as frozen dataclasses, each with ``encode()`` (padded bytes).

:func:`decode_chunk` turns one chunk's type, flags and value into an object; malformed values
raise :class:`SctpDecodeError`. A chunk type this stack does not implement becomes
:class:`UnknownChunk`; its action bits are applied by the receiver (``rserpool.sctp.packet``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias

from rserpool.sctp.causes import ErrorCause, decode_causes, encode_causes
from rserpool.sctp.constants import (
    DATA_FLAG_B,
    DATA_FLAG_E,
    DATA_FLAG_I,
    DATA_FLAG_U,
    FLAG_T,
    ChunkType,
    UnknownAction,
)
from rserpool.sctp.errors import SctpDecodeError, SctpEncodeError
from rserpool.sctp.params import (
    PADDING,
    AddressParameter,
    HeartbeatInfo,
    Parameter,
    StateCookie,
    decode_parameters,
    encode_parameters,
)

CHUNK_HEADER = struct.Struct("!BBH")
DATA_FIXED = struct.Struct("!IHHI")  # TSN, stream identifier, SSN, PPID
INIT_FIXED = struct.Struct("!IIHHI")  # initiate tag, a_rwnd, OS, MIS, initial TSN
SACK_FIXED = struct.Struct("!IIHH")  # cumulative TSN ack, a_rwnd, #gap blocks, #dup TSNs
U16_U16 = struct.Struct("!HH")
U32 = struct.Struct("!I")


def _chunk(kind: int, flags: int, value: bytes) -> bytes:
    length = 4 + len(value)
    if length > 0xFFFF:
        raise SctpEncodeError(f"chunk type {kind} too long ({length} bytes)")
    if not 0 <= flags <= 0xFF:
        raise SctpEncodeError(f"chunk flags {flags} out of range")
    return CHUNK_HEADER.pack(kind, flags, length) + value + PADDING[length & 3]


def _pack(fmt: struct.Struct, *values: int) -> bytes:
    try:
        return fmt.pack(*values)
    except struct.error as exc:
        raise SctpEncodeError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Data:
    """DATA (0): one user message or one fragment of it (§3.3.1)."""

    TYPE: ClassVar[int] = ChunkType.DATA
    tsn: int
    stream: int
    ssn: int
    ppid: int
    data: bytes
    beginning: bool = True
    ending: bool = True
    unordered: bool = False
    immediate: bool = False

    @property
    def flags(self) -> int:
        return (
            (DATA_FLAG_E if self.ending else 0)
            | (DATA_FLAG_B if self.beginning else 0)
            | (DATA_FLAG_U if self.unordered else 0)
            | (DATA_FLAG_I if self.immediate else 0)
        )

    def encode(self) -> bytes:
        fixed = _pack(DATA_FIXED, self.tsn, self.stream, self.ssn, self.ppid)
        return _chunk(self.TYPE, self.flags, fixed + self.data)


@dataclass(frozen=True, slots=True)
class Init:
    """INIT (1): the initiator's tag, window, streams, initial TSN and parameters (§3.3.2)."""

    TYPE: ClassVar[int] = ChunkType.INIT
    initiate_tag: int
    a_rwnd: int
    outbound_streams: int
    inbound_streams: int
    initial_tsn: int
    parameters: tuple[Parameter, ...] = ()

    def encode(self) -> bytes:
        fixed = _pack(
            INIT_FIXED,
            self.initiate_tag,
            self.a_rwnd,
            self.outbound_streams,
            self.inbound_streams,
            self.initial_tsn,
        )
        return _chunk(self.TYPE, 0, fixed + encode_parameters(self.parameters))

    @property
    def addresses(self) -> tuple[AddressParameter, ...]:
        return tuple(p for p in self.parameters if isinstance(p, AddressParameter))


@dataclass(frozen=True, slots=True)
class InitAck(Init):
    """INIT ACK (2): the same fields as INIT, plus the State Cookie (§3.3.3)."""

    TYPE: ClassVar[int] = ChunkType.INIT_ACK

    @property
    def state_cookie(self) -> bytes | None:
        for p in self.parameters:
            if isinstance(p, StateCookie):
                return p.cookie
        return None


@dataclass(frozen=True, slots=True)
class Sack:
    """SACK (3): cumulative TSN ack, window, gap ack blocks and duplicate TSNs (§3.3.4).

    Gap blocks are (start, end) offsets from ``cumulative_tsn_ack``, both inclusive.
    """

    TYPE: ClassVar[int] = ChunkType.SACK
    cumulative_tsn_ack: int
    a_rwnd: int
    gap_blocks: tuple[tuple[int, int], ...] = ()
    duplicate_tsns: tuple[int, ...] = ()

    def encode(self) -> bytes:
        fixed = _pack(
            SACK_FIXED,
            self.cumulative_tsn_ack,
            self.a_rwnd,
            len(self.gap_blocks),
            len(self.duplicate_tsns),
        )
        gaps = b"".join(_pack(U16_U16, s, e) for s, e in self.gap_blocks)
        dups = b"".join(_pack(U32, t) for t in self.duplicate_tsns)
        return _chunk(self.TYPE, 0, fixed + gaps + dups)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """HEARTBEAT (4): one Heartbeat Info parameter, opaque to the peer (§3.3.5)."""

    TYPE: ClassVar[int] = ChunkType.HEARTBEAT
    info: bytes

    def encode(self) -> bytes:
        return _chunk(self.TYPE, 0, encode_parameters((HeartbeatInfo(self.info),)))


@dataclass(frozen=True, slots=True)
class HeartbeatAck(Heartbeat):
    """HEARTBEAT ACK (5): the HEARTBEAT's info, echoed (§3.3.6)."""

    TYPE: ClassVar[int] = ChunkType.HEARTBEAT_ACK


@dataclass(frozen=True, slots=True)
class Abort:
    """ABORT (6): T bit set when the tag is the reflected one (§3.3.7)."""

    TYPE: ClassVar[int] = ChunkType.ABORT
    causes: tuple[ErrorCause, ...] = ()
    reflected: bool = False

    def encode(self) -> bytes:
        return _chunk(self.TYPE, FLAG_T if self.reflected else 0, encode_causes(self.causes))


@dataclass(frozen=True, slots=True)
class Shutdown:
    """SHUTDOWN (7): the sender's cumulative TSN ack (§3.3.8)."""

    TYPE: ClassVar[int] = ChunkType.SHUTDOWN
    cumulative_tsn_ack: int

    def encode(self) -> bytes:
        return _chunk(self.TYPE, 0, _pack(U32, self.cumulative_tsn_ack))


@dataclass(frozen=True, slots=True)
class ShutdownAck:
    """SHUTDOWN ACK (8) (§3.3.9)."""

    TYPE: ClassVar[int] = ChunkType.SHUTDOWN_ACK

    def encode(self) -> bytes:
        return _chunk(self.TYPE, 0, b"")


@dataclass(frozen=True, slots=True)
class Error:
    """ERROR (9): one or more error causes, the association goes on (§3.3.10)."""

    TYPE: ClassVar[int] = ChunkType.ERROR
    causes: tuple[ErrorCause, ...] = ()

    def encode(self) -> bytes:
        return _chunk(self.TYPE, 0, encode_causes(self.causes))


@dataclass(frozen=True, slots=True)
class CookieEcho:
    """COOKIE ECHO (10): the State Cookie from the INIT ACK, unchanged (§3.3.11)."""

    TYPE: ClassVar[int] = ChunkType.COOKIE_ECHO
    cookie: bytes

    def encode(self) -> bytes:
        return _chunk(self.TYPE, 0, self.cookie)


@dataclass(frozen=True, slots=True)
class CookieAck:
    """COOKIE ACK (11) (§3.3.12)."""

    TYPE: ClassVar[int] = ChunkType.COOKIE_ACK

    def encode(self) -> bytes:
        return _chunk(self.TYPE, 0, b"")


@dataclass(frozen=True, slots=True)
class ShutdownComplete:
    """SHUTDOWN COMPLETE (14): T bit set when the tag is the reflected one (§3.3.13)."""

    TYPE: ClassVar[int] = ChunkType.SHUTDOWN_COMPLETE
    reflected: bool = False

    def encode(self) -> bytes:
        return _chunk(self.TYPE, FLAG_T if self.reflected else 0, b"")


@dataclass(frozen=True, slots=True)
class UnknownChunk:
    """A chunk type this stack does not implement, kept whole for an ERROR report."""

    type: int
    flags: int
    value: bytes = field(default=b"")

    @property
    def action(self) -> UnknownAction:
        return UnknownAction.of_chunk(self.type)

    def encode(self) -> bytes:
        return _chunk(self.type, self.flags, self.value)

    def unpadded(self) -> bytes:
        """The chunk as the Unrecognized Chunk Type cause carries it."""
        return CHUNK_HEADER.pack(self.type, self.flags, 4 + len(self.value)) + self.value


Chunk: TypeAlias = (
    Data
    | Init
    | InitAck
    | Sack
    | Heartbeat
    | HeartbeatAck
    | Abort
    | Shutdown
    | ShutdownAck
    | Error
    | CookieEcho
    | CookieAck
    | ShutdownComplete
    | UnknownChunk
)


# ------------------------------------------------------------------------------ decoding


def _need(value: bytes, size: int, what: str, offset: int, exact: bool = False) -> None:
    if len(value) < size or (exact and len(value) != size):
        raise SctpDecodeError(f"{what}: {len(value)}-byte value, needs {size}", offset=offset)


def decode_chunk(kind: int, flags: int, value: bytes, offset: int = 0) -> Chunk:
    """One chunk from its header fields and value (the bytes after the 4-byte header)."""
    if kind == ChunkType.DATA:
        _need(value, DATA_FIXED.size, "DATA", offset)  # empty: the receiver ABORTs (§6.2)
        tsn, stream, ssn, ppid = DATA_FIXED.unpack_from(value, 0)
        return Data(
            tsn,
            stream,
            ssn,
            ppid,
            value[DATA_FIXED.size :],
            beginning=bool(flags & DATA_FLAG_B),
            ending=bool(flags & DATA_FLAG_E),
            unordered=bool(flags & DATA_FLAG_U),
            immediate=bool(flags & DATA_FLAG_I),
        )
    if kind in (ChunkType.INIT, ChunkType.INIT_ACK):
        _need(value, INIT_FIXED.size, "INIT", offset)
        tag, rwnd, os_, mis, tsn = INIT_FIXED.unpack_from(value, 0)
        params = decode_parameters(value, INIT_FIXED.size, len(value))
        cls = Init if kind == ChunkType.INIT else InitAck
        return cls(tag, rwnd, os_, mis, tsn, params)
    if kind == ChunkType.SACK:
        _need(value, SACK_FIXED.size, "SACK", offset)
        cum, rwnd, ngaps, ndups = SACK_FIXED.unpack_from(value, 0)
        _need(value, SACK_FIXED.size + 4 * (ngaps + ndups), "SACK", offset, exact=True)
        pos = SACK_FIXED.size
        gaps = tuple(U16_U16.unpack_from(value, pos + 4 * i) for i in range(ngaps))
        pos += 4 * ngaps
        dups = tuple(U32.unpack_from(value, pos + 4 * i)[0] for i in range(ndups))
        return Sack(cum, rwnd, gaps, dups)
    if kind in (ChunkType.HEARTBEAT, ChunkType.HEARTBEAT_ACK):
        params = decode_parameters(value, 0, len(value))
        if len(params) != 1 or not isinstance(params[0], HeartbeatInfo):
            raise SctpDecodeError("HEARTBEAT needs exactly one Heartbeat Info", offset=offset)
        hb = Heartbeat if kind == ChunkType.HEARTBEAT else HeartbeatAck
        return hb(params[0].info)
    if kind == ChunkType.ABORT:
        return Abort(decode_causes(value, 0, len(value)), reflected=bool(flags & FLAG_T))
    if kind == ChunkType.SHUTDOWN:
        _need(value, 4, "SHUTDOWN", offset, exact=True)
        return Shutdown(U32.unpack(value)[0])
    if kind == ChunkType.SHUTDOWN_ACK:
        _need(value, 0, "SHUTDOWN ACK", offset, exact=True)
        return ShutdownAck()
    if kind == ChunkType.ERROR:
        return Error(decode_causes(value, 0, len(value)))
    if kind == ChunkType.COOKIE_ECHO:
        return CookieEcho(value)
    if kind == ChunkType.COOKIE_ACK:
        _need(value, 0, "COOKIE ACK", offset, exact=True)
        return CookieAck()
    if kind == ChunkType.SHUTDOWN_COMPLETE:
        _need(value, 0, "SHUTDOWN COMPLETE", offset, exact=True)
        return ShutdownComplete(reflected=bool(flags & FLAG_T))
    return UnknownChunk(kind, flags, value)
