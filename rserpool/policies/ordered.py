"""Ordered policies: a binary heap keyed by ``policy.key(entry) + (seq_number,)``.

RSPLIB keeps a red-black tree and reads the first *n* nodes
(``poolPolicySelectPoolElementNodesBySortingOrder``). A heap gives the same first *n* in
O(n log N): they are popped, the first ``max_increment`` get a new sequence number and the
policy update, and all are pushed back. Removal and re-keying are lazy: each entry's
``selection_token`` is its live heap record, so a record whose entry points elsewhere is stale
and is dropped when it reaches the top; the heap is rebuilt (amortised O(1)) whenever stale
records outnumber live ones.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator

from rserpool.policies.definitions import KeyFunction, PoolPolicy
from rserpool.policies.storage import E, SelectionStorage
from rserpool.wire.policy import PoolMemberSelectionPolicy

_Record = tuple[int, int, int, E]

_COMPACT_SLACK = 64


class OrderedSelection(SelectionStorage[E]):
    """Selection storage for RR, WRR, Priority and the (non-randomized) Least Used family."""

    __slots__ = ("_heap", "_key")

    def __init__(self, policy: PoolPolicy) -> None:
        if policy.key is None:
            raise ValueError(f"{policy.name} is not an ordered policy")
        super().__init__(policy)
        self._key: KeyFunction = policy.key
        self._heap: list[_Record[E]] = []

    def _record(self, entry: E) -> _Record[E]:
        k1, k2 = self._key(entry)
        record = (k1, k2, entry.seq_number, entry)
        entry.selection_token = record
        return record

    def _link(self, entry: E) -> None:
        heapq.heappush(self._heap, self._record(entry))

    def _unlink(self, entry: E) -> None:
        entry.selection_token = None  # its record goes stale
        if len(self._heap) > 2 * self._live + _COMPACT_SLACK:
            self._compact()

    def _compact(self) -> None:
        heap = [r for r in self._heap if r[3].selection_token is r]
        heapq.heapify(heap)
        self._heap = heap

    def _current_round(self) -> int:
        heap = self._heap
        while heap and heap[0][3].selection_token is not heap[0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else 0

    def select(self, n: int, rng: random.Random, max_increment: int = 0) -> list[E]:
        heap = self._heap
        chosen: list[E] = []
        records: list[_Record[E]] = []
        pop = heapq.heappop
        while len(chosen) < n and heap:
            record = pop(heap)
            entry = record[3]
            if entry.selection_token is record:
                chosen.append(entry)
                records.append(record)
        limit = self._max_increment(max_increment)
        update = self.policy.update
        push = heapq.heappush
        for i, entry in enumerate(chosen):
            if i < limit:
                entry.seq_number = self._take_seq()
                entry.selection_counter += 1
                if update is not None:
                    update(entry)
                push(heap, self._record(entry))
            else:
                push(heap, records[i])
        return chosen

    def __iter__(self) -> Iterator[E]:
        return (r[3] for r in self._heap if r[3].selection_token is r)

    def in_selection_order(self) -> list[E]:
        return [r[3] for r in sorted(r for r in self._heap if r[3].selection_token is r)]


class RotationSelection(SelectionStorage[E]):
    """Round Robin: a rotating queue (RFC 5356 §4.1.2's circular list with a head).

    RR's order is the sequence number alone, and a selected PE always gets the largest one, so
    the order is a queue: new and selected PEs go to the back, selection reads the front. The
    queue is a list plus a head index (smaller than a deque for the many one-PE pools); every
    operation is O(1) amortised (plus O(n) for n selected) and touches only the ends, which
    keeps it fast for pools of millions. Removal is lazy, as in :class:`OrderedSelection`:
    position ``i`` holds the entry ``_queue[i]`` with the sequence number ``_seqs[i]`` it had
    when queued, and is live while the entry is still in this storage with that number.
    """

    __slots__ = ("_head", "_queue", "_seqs")

    def __init__(self, policy: PoolPolicy) -> None:
        if policy.key is None or policy.update is not None or policy.weighted_rounds:
            raise ValueError(f"{policy.name} is not a pure rotation")
        super().__init__(policy)
        # Two parallel lists, not a (seq, entry) tuple per position: saves 48 B per entry.
        self._queue: list[E] = []
        self._seqs: list[int] = []  # the entries' own seq_number objects: no new ints
        self._head = 0  # positions before it are gone

    def _live_at(self, i: int) -> bool:
        entry = self._queue[i]
        return entry.selection_token is self and entry.seq_number == self._seqs[i]

    def _link(self, entry: E) -> None:
        entry.selection_token = self  # sequence numbers are unique within the storage
        self._queue.append(entry)
        self._seqs.append(entry.seq_number)

    def _unlink(self, entry: E) -> None:
        entry.selection_token = None
        if len(self._queue) - self._head > 2 * self._live + _COMPACT_SLACK:
            self._drop_before(self._head, compact=True)

    def _drop_before(self, head: int, *, compact: bool = False) -> None:
        """Forget the positions before ``head`` (and, with ``compact``, the stale ones)."""
        live = [i for i in range(head, len(self._queue)) if self._live_at(i)] if compact else None
        if live is None:
            del self._queue[:head]
            del self._seqs[:head]
        else:
            self._queue = [self._queue[i] for i in live]
            self._seqs = [self._seqs[i] for i in live]
        self._head = 0

    def update(self, entry: E, policy: PoolMemberSelectionPolicy) -> bool:
        # The order depends on the sequence number only: nothing to re-sort.
        changed = policy != entry.policy
        entry.policy = policy
        entry.degradation = 0
        return changed

    def select(self, n: int, rng: random.Random, max_increment: int = 0) -> list[E]:
        queue = self._queue
        size = len(queue)
        head = self._head
        live_at = self._live_at
        while head < size and not live_at(head):
            head += 1
        chosen: list[E] = []
        positions: list[int] = []
        i = head
        while len(chosen) < n and i < size:
            if live_at(i):
                chosen.append(queue[i])
                positions.append(i)
            i += 1
        moved = chosen[: self._max_increment(max_increment)]
        if moved:
            # Everything before the last moved position is gone: the moved ones, stale ones.
            head = positions[len(moved) - 1] + 1
            for entry in moved:
                entry.seq_number = self._take_seq()
                entry.selection_counter += 1
                self._link(entry)
        self._head = head
        if head > _COMPACT_SLACK and 2 * head > len(queue):
            self._drop_before(head)
        return chosen

    def __iter__(self) -> Iterator[E]:
        queue, live_at = self._queue, self._live_at
        return (queue[i] for i in range(self._head, len(queue)) if live_at(i))

    def in_selection_order(self) -> list[E]:
        return list(self)
