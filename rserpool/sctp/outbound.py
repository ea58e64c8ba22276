"""The sending side of an association (RFC 9260 §6.1-§6.3, §7.2): fragmentation and TSNs,
the retransmission queue, SACK processing, fast retransmit, T3-rtx marking, and the choice of
DATA chunks for the next packet under the peer's rwnd and the path's cwnd."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rserpool.sctp.chunks import Data, Sack
from rserpool.sctp.config import SctpConfig
from rserpool.sctp.events import Undelivered
from rserpool.sctp.path import Path
from rserpool.sctp.serial import SSN_MOD, unwrap, wrap


def chunk_size(payload: int) -> int:
    """Bytes a DATA chunk takes in a packet, header and padding included."""
    return (16 + payload + 3) & ~3


@dataclass(slots=True, eq=False)
class OutChunk:
    tsn: int  # unwrapped
    chunk: Data
    message: int  # which user message (for counting what was lost)
    size: int
    sent_count: int = 0
    sent_at: int = 0
    path: Path | None = None
    acked: bool = False  # by a gap block (the cumulative ack removes it)
    in_flight: bool = False
    retransmit: bool = False
    misses: int = 0
    fast_retransmitted: bool = False


@dataclass(slots=True)
class SackOutcome:
    valid: bool = True
    cum_advanced: bool = False
    acked_paths: set[Path] = field(default_factory=set)
    fast_retransmit: set[Path] = field(default_factory=set)


class Outbound:
    def __init__(
        self, config: SctpConfig, initial_tsn: int, outbound_streams: int, peer_rwnd: int
    ) -> None:
        self.config = config
        self.next_tsn = initial_tsn  # unwrapped
        self.cum_ack = initial_tsn - 1  # the cumulative TSN ack point
        self.outbound_streams = outbound_streams
        self._ssn = [0] * outbound_streams
        self._queue: deque[OutChunk] = deque()  # not sent yet
        self.sent: dict[int, OutChunk] = {}  # sent, above the cumulative ack, TSN order
        self.peer_rwnd = peer_rwnd
        self.fast_recovery_exit: int | None = None
        self.highest_sent = initial_tsn - 1  # the highest TSN ever sent (unwrapped)
        self._messages = 0
        self._buffered = 0  # user data bytes queued or not cumulatively acknowledged
        self._flight = 0  # bytes of the chunks in flight, on all paths
        self._gap_acked = 0  # chunks in ``sent`` acknowledged by a gap block
        self._rtx_marked = False  # a chunk may be marked for retransmission (else none is)

    # ---------------------------------------------------------------- queueing

    def enqueue(self, stream: int, ppid: int, data: bytes, unordered: bool) -> None:
        """Fragment one user message into DATA chunks of consecutive TSNs (§6.9)."""
        ssn = 0
        if not unordered:
            ssn = self._ssn[stream]
            self._ssn[stream] = wrap(ssn + 1, SSN_MOD)
        self._messages += 1
        self._buffered += len(data)
        step = self.config.max_data_size
        pieces = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
        for i, piece in enumerate(pieces):
            chunk = Data(
                wrap(self.next_tsn),
                stream,
                ssn,
                ppid,
                piece,
                beginning=i == 0,
                ending=i == len(pieces) - 1,
                unordered=unordered,
            )
            self._queue.append(
                OutChunk(self.next_tsn, chunk, self._messages, chunk_size(len(piece)))
            )
            self.next_tsn += 1

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing unacknowledged."""
        return not self._queue and not self.sent

    @property
    def flight_size(self) -> int:
        return self._flight  # kept as chunks enter and leave the flight: no walk per call

    def lost_messages(self) -> tuple[int, int]:
        """(unsent, unacked) user messages, for a Communication Lost notification."""
        unsent = {c.message for c in self._queue if c.chunk.beginning}
        unacked = {c.message for c in self.sent.values()} - unsent
        return len(unsent), len(unacked)

    def undelivered(self) -> list[Undelivered]:
        """What the peer has not acknowledged, one entry per user message, oldest first."""
        pieces: dict[int, list[OutChunk]] = {}
        for c in sorted([*self.sent.values(), *self._queue], key=lambda c: c.tsn):
            pieces.setdefault(c.message, []).append(c)
        return [
            Undelivered(
                p[0].chunk.stream,
                p[0].chunk.ppid,
                b"".join(c.chunk.data for c in p),
                any(c.sent_count for c in p),
            )
            for p in pieces.values()
        ]

    @property
    def buffered(self) -> int:
        """Bytes of user data queued or unacknowledged (what a sender waits on)."""
        return self._buffered

    def has_retransmissions(self) -> bool:
        return self._rtx_marked and any(c.retransmit for c in self.sent.values())

    def _mark_for_retransmission(self, c: OutChunk) -> None:
        c.retransmit = True
        self._rtx_marked = True

    def has_new(self) -> bool:
        return bool(self._queue)

    # ---------------------------------------------------------------- sending

    def _leave_flight(self, c: OutChunk) -> None:
        if c.in_flight:
            self._flight -= c.size
            if c.path is not None:
                c.path.flight_size -= c.size
        c.in_flight = False

    def fill(self, path: Path, room: int, now: int, *, ignore_cwnd: bool = False) -> list[Data]:
        """DATA chunks for one packet to ``path`` with ``room`` bytes: retransmissions first
        (§6.1 C), then new data within the peer's rwnd (A) and the path's cwnd (B)."""
        taken: list[Data] = []

        def cwnd_open() -> bool:
            return ignore_cwnd or path.flight_size < path.cwnd

        for c in self.sent.values() if self._rtx_marked else ():  # none marked: no walk
            if not c.retransmit:
                continue
            if c.size > room or not cwnd_open():
                return taken
            room -= c.size
            if path.rtt_tsn == c.tsn or (c.path is not None and c.path.rtt_tsn == c.tsn):
                path.rtt_tsn = None  # Karn: no RTT sample from a retransmitted chunk
                if c.path is not None:
                    c.path.rtt_tsn = None
            c.retransmit = False
            c.misses = 0
            self._send(c, path, now)
            taken.append(c.chunk)
        self._rtx_marked = self.has_retransmissions()
        if ignore_cwnd or self._rtx_marked:
            return taken  # a fast retransmission packet carries retransmissions only
        while self._queue:
            c = self._queue[0]
            if c.size > room or not cwnd_open():
                break
            if self.peer_rwnd < c.size and (self.flight_size > 0 or taken):
                break  # rule A; with nothing in flight one chunk may probe a zero window
            self._queue.popleft()
            room -= c.size
            self.sent[c.tsn] = c
            self.highest_sent = c.tsn
            if path.rtt_tsn is None:
                path.rtt_tsn = c.tsn
            self._send(c, path, now)
            taken.append(c.chunk)
        return taken

    def _send(self, c: OutChunk, path: Path, now: int) -> None:
        c.sent_count += 1
        c.sent_at = now
        c.path = path
        if not c.in_flight:
            self._flight += c.size
        c.in_flight = True
        path.flight_size += c.size
        self.peer_rwnd = max(0, self.peer_rwnd - c.size)

    # ---------------------------------------------------------------- SACK

    def on_sack(self, sack: Sack, now: int, rtt_sample: list[tuple[Path, int]]) -> SackOutcome:
        """§6.2.1 and §7.2: free acked chunks, count miss indications, update windows."""
        out = SackOutcome()
        cum = unwrap(sack.cumulative_tsn_ack, self.cum_ack)
        if cum < self.cum_ack or cum > self.highest_sent:
            out.valid = False  # an old, reordered SACK, or one acking what was never sent
            return out
        flight_before: dict[Path, int] = {}  # per path, before this SACK took anything off
        newly: dict[Path, int] = {}
        htna: int | None = None

        def ack(c: OutChunk) -> None:
            nonlocal htna
            if c.path is not None:
                flight_before.setdefault(c.path, c.path.flight_size)
                newly[c.path] = newly.get(c.path, 0) + c.size
                if c.path.rtt_tsn == c.tsn:
                    c.path.rtt_tsn = None
                    if c.sent_count == 1:
                        rtt_sample.append((c.path, now - c.sent_at))
            self._leave_flight(c)
            c.retransmit = False
            htna = c.tsn if htna is None else max(htna, c.tsn)

        out.cum_advanced = cum > self.cum_ack
        for tsn in range(self.cum_ack + 1, cum + 1):
            c = self.sent.pop(tsn, None)
            if c is None:
                continue
            self._buffered -= len(c.chunk.data)
            if c.acked:
                self._gap_acked -= 1
            else:
                ack(c)
        self.cum_ack = cum
        gap_acked: set[int] = set()
        highest_gap = cum
        for start, end in sack.gap_blocks:
            for tsn in range(cum + start, min(cum + end, self.highest_sent) + 1):
                c = self.sent.get(tsn)
                if c is None or c.sent_count == 0:
                    continue
                gap_acked.add(tsn)
                highest_gap = max(highest_gap, tsn)
                if not c.acked:
                    c.acked = True
                    self._gap_acked += 1
                    ack(c)
        if self._gap_acked > len(gap_acked):  # some acked before are not any more: look
            for c in self.sent.values():
                if c.acked and c.tsn not in gap_acked:  # reneged (§6.2.1): send it again
                    c.acked = False
                    self._gap_acked -= 1
                    self._mark_for_retransmission(c)
        in_recovery = self.fast_recovery_exit is not None
        limit = highest_gap if in_recovery and out.cum_advanced else htna
        if limit is not None:
            for c in self.sent.values():
                if c.tsn >= limit:
                    break
                if c.acked or not c.in_flight or c.fast_retransmitted:
                    continue
                c.misses += 1
                if c.misses >= 3:  # §7.2.4: the third miss indication
                    c.fast_retransmitted = True
                    self._mark_for_retransmission(c)
                    if c.path is not None:
                        out.fast_retransmit.add(c.path)
                    self._leave_flight(c)
        for path, acked in newly.items():
            path.on_acked(acked, flight_before.get(path, 0), in_recovery)
            out.acked_paths.add(path)
        if in_recovery and self.fast_recovery_exit is not None and cum >= self.fast_recovery_exit:
            self.fast_recovery_exit = None
        if out.fast_retransmit and self.fast_recovery_exit is None:
            for path in out.fast_retransmit:
                path.on_loss()
            self.fast_recovery_exit = self.highest_sent
        self.peer_rwnd = max(0, sack.a_rwnd - self.flight_size)
        return out

    def on_t3_expired(self, path: Path) -> None:
        """§6.3.3 E1-E3: slow start, back off, mark everything in flight to ``path``."""
        path.on_timeout()
        path.rtt_tsn = None
        for c in self.sent.values():
            if c.path is path and c.in_flight and not c.acked:
                self._leave_flight(c)
                self._mark_for_retransmission(c)
                c.misses = 0

    def earliest_in_flight(self, path: Path) -> int | None:
        for c in self.sent.values():
            if c.path is path and c.in_flight:
                return c.tsn
        return None
