"""SCTP packets (RFC 9260 §3): the common header, CRC32c, and the chunks in order.

:func:`decode_packet_untrusted` is the one way in for bytes off the network; it raises only
:class:`SctpDecodeError`. The CRC32c (Castagnoli, RFC 9260 §6.8 and Appendix A) is computed in
C by the ``google-crc32c`` package (hardware CRC instructions where the CPU has them) and
stored in the checksum field least significant byte first, as every SCTP stack does
(Appendix A: the CRC's bit order is reflected).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from google_crc32c import extend, value

from rserpool.sctp.chunks import CHUNK_HEADER, Chunk, Init, InitAck, ShutdownComplete, decode_chunk
from rserpool.sctp.constants import COMMON_HEADER_SIZE
from rserpool.sctp.errors import SctpDecodeError, SctpEncodeError
from rserpool.sctp.params import pad4

COMMON_HEADER = struct.Struct("!HHI")  # source port, destination port, verification tag
CHECKSUM = struct.Struct("<I")  # little-endian: RFC 9260 Appendix A
_ZERO_CHECKSUM = b"\0\0\0\0"
_ALONE = (Init, InitAck, ShutdownComplete)  # §6.10: never bundled with another chunk


@dataclass(frozen=True, slots=True)
class Packet:
    """One SCTP packet. ``truncated``: a partial last chunk was dropped (§6.10)."""

    source_port: int
    destination_port: int
    verification_tag: int
    chunks: tuple[Chunk, ...]
    truncated: bool = False

    def encode(self) -> bytes:
        return encode_packet(
            self.source_port, self.destination_port, self.verification_tag, self.chunks
        )


def checksum(data: bytes) -> int:
    """The CRC32c of a packet whose checksum field is zero."""
    return int(value(data))


def assemble(source_port: int, destination_port: int, tag: int, chunks: Sequence[bytes]) -> bytes:
    """A packet from already encoded (padded) chunks, with its CRC32c filled in."""
    try:
        header = COMMON_HEADER.pack(source_port, destination_port, tag)
    except struct.error as exc:
        raise SctpEncodeError(f"common header: {exc}") from exc
    body = b"".join(chunks)
    crc = int(extend(extend(value(header), _ZERO_CHECKSUM), body))
    return header + CHECKSUM.pack(crc) + body


def encode_packet(
    source_port: int, destination_port: int, tag: int, chunks: Sequence[Chunk]
) -> bytes:
    return assemble(source_port, destination_port, tag, [c.encode() for c in chunks])


def decode_packet_untrusted(data: bytes) -> Packet:
    """Check the CRC32c and decode every chunk; raises only :class:`SctpDecodeError`."""
    try:
        return _decode(bytes(data))
    except SctpDecodeError:
        raise
    except (struct.error, IndexError, ValueError) as exc:  # defence in depth
        raise SctpDecodeError(f"malformed packet: {exc}") from exc


def _decode(data: bytes) -> Packet:
    if len(data) < COMMON_HEADER_SIZE:
        raise SctpDecodeError(f"{len(data)} bytes cannot hold the common header")
    (received,) = CHECKSUM.unpack_from(data, 8)
    computed = int(extend(extend(value(data[:8]), _ZERO_CHECKSUM), data[COMMON_HEADER_SIZE:]))
    if received != computed:
        raise SctpDecodeError(f"CRC32c {received:#010x}, computed {computed:#010x}", offset=8)
    source_port, destination_port, tag = COMMON_HEADER.unpack_from(data, 0)
    chunks: list[Chunk] = []
    pos = COMMON_HEADER_SIZE
    end = len(data)
    truncated = False
    while pos < end:
        if end - pos < 4:
            raise SctpDecodeError(f"{end - pos} stray bytes after the last chunk", offset=pos)
        kind, flags, length = CHUNK_HEADER.unpack_from(data, pos)
        if length < 4:
            raise SctpDecodeError(f"chunk length {length} below 4", offset=pos)
        if pos + length > end:
            truncated = True  # a partial chunk: drop it (§6.10); nothing can follow it
            break
        chunks.append(decode_chunk(kind, flags, data[pos + 4 : pos + length], pos))
        pos += length + pad4(length)
    if len(chunks) > 1 and any(isinstance(c, _ALONE) for c in chunks):
        raise SctpDecodeError("INIT, INIT ACK or SHUTDOWN COMPLETE bundled with other chunks")
    return Packet(source_port, destination_port, tag, tuple(chunks), truncated)
