"""The receiving side of an association (RFC 9260 §6.2, §6.5, §6.6, §6.9): TSNs received,
gap blocks and duplicates for the SACK, reassembly of fragments, delivery in SSN order per
stream (or at once for unordered messages), and the receiver window."""

from __future__ import annotations

from dataclasses import dataclass, field

from rserpool.sctp.chunks import Data, Sack
from rserpool.sctp.config import SctpConfig
from rserpool.sctp.serial import SSN_MOD, unwrap, wrap

MAX_DUPLICATES = 16  # duplicate TSNs reported per SACK
MAX_TSN_AHEAD = 1 << 16  # a TSN further ahead of the cumulative ack is dropped


@dataclass(frozen=True, slots=True)
class Message:
    stream: int
    ppid: int
    data: bytes
    unordered: bool


@dataclass(slots=True)
class _Stream:
    next_ssn: int = 0  # unwrapped
    ready: dict[int, Message] = field(default_factory=dict)  # complete, waiting for order


class Verdict:
    """What became of one DATA chunk."""

    NEW = "new"
    DUPLICATE = "duplicate"
    DROPPED = "dropped"  # no buffer space, or absurdly far ahead: not acknowledged
    INVALID_STREAM = "invalid stream"  # acknowledged, discarded, reported (§6.5)


class Inbound:
    def __init__(self, config: SctpConfig, peer_initial_tsn: int, inbound_streams: int) -> None:
        self.config = config
        self.cum_tsn = peer_initial_tsn - 1  # unwrapped; the last in-sequence TSN received
        self._above: set[int] = set()
        self._duplicates: list[int] = []
        self._fragments: dict[int, Data] = {}
        self._held = 0  # bytes buffered: fragments and complete messages waiting for order
        self._streams = [_Stream() for _ in range(inbound_streams)]
        self.packets_unacked = 0  # packets with DATA since the last SACK
        self.sack_now = False  # a gap, a duplicate or a filled gap: SACK without delay

    @property
    def inbound_streams(self) -> int:
        return len(self._streams)

    @property
    def a_rwnd(self) -> int:
        return max(0, self.config.a_rwnd - self._held)

    @property
    def has_gaps(self) -> bool:
        return bool(self._above)

    def receive(self, chunk: Data) -> tuple[str, list[Message]]:
        """Take one DATA chunk; return its verdict and the messages it made deliverable."""
        tsn = unwrap(chunk.tsn, self.cum_tsn)
        if tsn <= self.cum_tsn or tsn in self._above:
            if len(self._duplicates) < MAX_DUPLICATES:
                self._duplicates.append(chunk.tsn)
            self.sack_now = True
            return Verdict.DUPLICATE, []
        if tsn - self.cum_tsn > MAX_TSN_AHEAD:
            return Verdict.DROPPED, []
        if tsn != self.cum_tsn + 1 and self._held + len(chunk.data) > self.config.a_rwnd:
            return Verdict.DROPPED, []  # §6.2: no room; cum+1 is always taken, to progress
        had_gaps = bool(self._above)
        self._record(tsn)
        if self._above or had_gaps:
            self.sack_now = True  # out of order, or it filled a gap (§6.7)
        if chunk.stream >= len(self._streams):
            return Verdict.INVALID_STREAM, []
        self._fragments[tsn] = chunk
        self._held += len(chunk.data)
        message = self._reassemble(tsn)
        if message is None:
            return Verdict.NEW, []
        if message.unordered:
            return Verdict.NEW, [message]
        return Verdict.NEW, self._order(chunk.ssn, message)

    def _record(self, tsn: int) -> None:
        self._above.add(tsn)
        while self.cum_tsn + 1 in self._above:
            self.cum_tsn += 1
            self._above.discard(self.cum_tsn)

    def _reassemble(self, tsn: int) -> Message | None:
        """The complete message ``tsn`` belongs to, if all its fragments are here (§6.9)."""
        frags = self._fragments
        first = last = tsn
        while not frags[first].beginning:
            before = frags.get(first - 1)
            if before is None or before.ending:  # missing, or the peer broke the sequence
                return None
            first -= 1
        while not frags[last].ending:
            after = frags.get(last + 1)
            if after is None or after.beginning:
                return None
            last += 1
        parts = [frags.pop(t) for t in range(first, last + 1)]
        head = parts[0]
        data = b"".join(p.data for p in parts)
        self._held -= len(data)
        return Message(head.stream, head.ppid, data, head.unordered)

    def _order(self, ssn: int, message: Message) -> list[Message]:
        stream = self._streams[message.stream]
        key = unwrap(ssn, stream.next_ssn, SSN_MOD)
        if key < stream.next_ssn:
            return []  # an SSN already delivered: a peer bug; drop it
        stream.ready[key] = message
        self._held += len(message.data)
        out = []
        while stream.next_ssn in stream.ready:
            ready = stream.ready.pop(stream.next_ssn)
            self._held -= len(ready.data)
            out.append(ready)
            stream.next_ssn += 1
        return out

    def make_sack(self) -> Sack:
        """The SACK for now (§6.7); forgets the duplicates it reports."""
        room = (self.config.mtu - 12 - 16) // 4  # gap blocks and duplicates, 4 bytes each
        blocks: list[tuple[int, int]] = []
        start = prev = None
        for tsn in sorted(self._above):
            if prev is not None and tsn == prev + 1:
                prev = tsn
                continue
            if start is not None and prev is not None:
                blocks.append((start - self.cum_tsn, prev - self.cum_tsn))
            start = prev = tsn
        if start is not None and prev is not None:
            blocks.append((start - self.cum_tsn, prev - self.cum_tsn))
        blocks = [(s, e) for s, e in blocks if e <= 0xFFFF][:room]
        dups = tuple(self._duplicates[: max(0, room - len(blocks))])
        self._duplicates.clear()
        self.packets_unacked = 0
        self.sack_now = False
        return Sack(wrap(self.cum_tsn), self.a_rwnd, tuple(blocks), dups)
