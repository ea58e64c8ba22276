"""SCTP user messages from DATA chunks: fragments joined, retransmissions dropped.

SCTP (RFC 9260 §6.9) sends a user message bigger than the path allows as several DATA
chunks: the first has the B (beginning) flag, the last the E (ending) flag, a message that
fits has both. The fragments of one message get consecutive TSNs (transmission sequence
numbers, counted per direction of an association) and the same stream. They may sit in
different packets, and a lost one is retransmitted later, so a capture can show them out of
order; the receiver puts them back together by TSN, and so do we.

A retransmitted chunk has a TSN the capture has already shown: the receiver drops it as a
duplicate, and so do we. A direction of an association is named by the ports and the
verification tag (the receiver's tag, which every packet to it carries), not by addresses:
a multi-homed association sends over several paths, and a retransmission often takes
another path than the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rserpool.capture.frames import DataChunk, Packet

#: One direction of one association: source port, destination port, verification tag.
Direction = tuple[int, int, int]

_TSN_MASK = 0xFFFFFFFF  # TSNs wrap around at 2**32


@dataclass(frozen=True, slots=True)
class UserMessage:
    """A whole user message, or (``complete`` False) the fragments of one that the capture
    did not hold in full."""

    packet: Packet  # the packet that completed it (for an incomplete one: its last fragment)
    ppid: int
    stream: int
    data: bytes
    chunks: tuple[DataChunk, ...]
    complete: bool = True

    @property
    def tsns(self) -> tuple[int, int]:
        return self.chunks[0].tsn, self.chunks[-1].tsn


@dataclass
class _Pending:
    chunk: DataChunk
    packet: Packet


@dataclass
class Reassembler:
    """Feed it every RSerPool DATA chunk in capture order; it hands out whole messages."""

    duplicates: int = 0  # retransmitted chunks dropped
    duplicate_frames: list[int] = field(default_factory=list)
    _seen: dict[Direction, set[int]] = field(default_factory=dict)
    _pending: dict[Direction, dict[int, _Pending]] = field(default_factory=dict)

    def add(self, packet: Packet, chunk: DataChunk) -> UserMessage | None:
        """The message ``chunk`` completes, or None (a fragment kept, or a duplicate)."""
        direction = (packet.src[1], packet.dst[1], packet.vtag)
        seen = self._seen.setdefault(direction, set())
        if chunk.tsn in seen:
            self.duplicates += 1
            self.duplicate_frames.append(packet.frame)
            return None
        seen.add(chunk.tsn)
        if chunk.begins and chunk.ends:
            return UserMessage(packet, chunk.ppid, chunk.stream, chunk.data, (chunk,))
        pending = self._pending.setdefault(direction, {})
        pending[chunk.tsn] = _Pending(chunk, packet)
        return self._complete(pending, chunk.tsn, packet)

    def _complete(
        self, pending: dict[int, _Pending], tsn: int, packet: Packet
    ) -> UserMessage | None:
        """Join the fragments around ``tsn`` if all from B to E are there."""
        stream = pending[tsn].chunk.stream
        first = tsn
        while not pending[first].chunk.begins:
            first = (first - 1) & _TSN_MASK
            before = pending.get(first)
            if before is None or before.chunk.stream != stream or before.chunk.ends:
                return None
        parts = [pending[first].chunk]
        last = first
        while not parts[-1].ends:
            last = (last + 1) & _TSN_MASK
            part = pending.get(last)
            if part is None or part.chunk.stream != stream or part.chunk.begins:
                return None
            parts.append(part.chunk)
        for chunk in parts:
            del pending[chunk.tsn]
        data = b"".join(chunk.data for chunk in parts)
        return UserMessage(packet, parts[0].ppid, stream, data, tuple(parts))

    def leftovers(self) -> list[UserMessage]:
        """Fragments never completed, as runs of consecutive TSNs: the capture started or
        stopped in the middle of their messages (or missed a packet)."""
        result = []
        for pending in self._pending.values():
            run: list[_Pending] = []
            for tsn in sorted(pending):
                chunk = pending[tsn].chunk
                follows = tsn == (run[-1].chunk.tsn + 1) & _TSN_MASK if run else False
                if run and (not follows or chunk.begins or run[-1].chunk.ends):
                    result.append(_incomplete(run))
                    run = []
                run.append(pending[tsn])
            if run:
                result.append(_incomplete(run))
        return sorted(result, key=lambda m: m.packet.frame)


def _incomplete(run: list[_Pending]) -> UserMessage:
    last = max(run, key=lambda p: p.packet.frame)
    chunks = tuple(p.chunk for p in run)
    data = b"".join(c.data for c in chunks)
    return UserMessage(last.packet, chunks[0].ppid, chunks[0].stream, data, chunks, False)
