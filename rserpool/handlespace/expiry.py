"""Per-PE deadlines (RSPLIB's PE timer storage): a heap with lazy deletion.

Each PE's ``expiry_record`` is its live heap record; setting a new deadline or clearing it just
replaces or drops that reference, and stale records are skipped when they surface. The heap is
rebuilt (amortised O(1)) when stale records outnumber live ones.
"""

from __future__ import annotations

import heapq

from rserpool.handlespace.model import PoolElement

_Record = tuple[int, int, PoolElement]

_COMPACT_SLACK = 64


class ExpiryQueue:
    __slots__ = ("_counter", "_heap", "_live")

    def __init__(self) -> None:
        self._heap: list[_Record] = []
        self._counter = 0  # ties: first scheduled, first expired; never compares PEs
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def set(self, pe: PoolElement, deadline: int | None) -> None:
        """(Re)schedule ``pe`` at ``deadline`` ms, or cancel its timer if None."""
        if pe.expiry_record is not None:
            self._live -= 1
        if deadline is None:
            pe.expiry_record = None
            if len(self._heap) > 2 * self._live + _COMPACT_SLACK:
                self._compact()
            return
        self._counter += 1
        record = (deadline, self._counter, pe)
        pe.expiry_record = record
        self._live += 1
        heapq.heappush(self._heap, record)

    def _compact(self) -> None:
        heap = [r for r in self._heap if r[2].expiry_record is r]
        heapq.heapify(heap)
        self._heap = heap

    def _clean_top(self) -> None:
        heap = self._heap
        while heap and heap[0][2].expiry_record is not heap[0]:
            heapq.heappop(heap)

    def next_deadline(self) -> int | None:
        self._clean_top()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> list[PoolElement]:
        """Unschedule and return the PEs whose deadline is at or before ``now``, earliest first."""
        due: list[PoolElement] = []
        heap = self._heap
        while True:
            self._clean_top()
            if not heap or heap[0][0] > now:
                return due
            pe = heapq.heappop(heap)[2]
            pe.expiry_record = None
            self._live -= 1
            due.append(pe)
