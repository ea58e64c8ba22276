"""The home PEs' Endpoint Keep Alive timers (RFC 5352 §3.4): transmission and timeout.

A registrar supervises every home PE with one of these two timers (both, while an Endpoint
Unreachable check overlaps a transmission); with 10^5 PEs, a record per timer costs more than
the PE. So each PE holds its own deadline (a slot of the handlespace's PE, ``None`` when the
timer is off) and the PEs due in the same millisecond share one list: a bucket per deadline,
the distinct deadlines in a heap. Re-arming or cancelling a timer only changes the PE's slot;
a bucket entry whose PE holds another deadline by now is skipped when the bucket comes due
(every bucket does, within one interval, so stale entries do not pile up).
"""

from __future__ import annotations

import heapq

from rserpool.handlespace import PoolElement


class PeDeadlines:
    """One kind of per-PE timer; ``slot`` names the PE attribute that holds its deadline."""

    __slots__ = ("_buckets", "_heap", "_last", "slot")

    def __init__(self, slot: str) -> None:
        self.slot = slot
        self._buckets: dict[int, list[PoolElement]] = {}
        self._heap: list[int] = []  # the buckets' deadlines
        self._last = 0  # the last deadline armed (see ``set``)

    def __len__(self) -> int:
        """Entries kept, stale ones included (for tests and the curious)."""
        return sum(len(b) for b in self._buckets.values())

    def get(self, pe: PoolElement) -> int | None:
        deadline: int | None = getattr(pe, self.slot)
        return deadline

    def set(self, pe: PoolElement, deadline: int) -> None:
        """(Re)arm ``pe``'s timer at ``deadline`` ms."""
        if getattr(pe, self.slot) == deadline:
            return  # armed there already: one bucket entry is enough
        if deadline == self._last:  # a burst of PEs due in the same ms: one int object for
            deadline = self._last  # their slots, not one each (saves 32 B per PE)
        else:
            self._last = deadline
        setattr(pe, self.slot, deadline)
        bucket = self._buckets.get(deadline)
        if bucket is None:
            self._buckets[deadline] = [pe]
            heapq.heappush(self._heap, deadline)
        else:
            bucket.append(pe)

    def cancel(self, pe: PoolElement) -> None:
        setattr(pe, self.slot, None)

    def next_deadline(self) -> int | None:
        heap, buckets, slot = self._heap, self._buckets, self.slot
        while heap:
            deadline = heap[0]
            bucket = buckets[deadline]
            if getattr(bucket[0], slot) == deadline:  # fast path: the head is live
                return deadline
            for i, pe in enumerate(bucket):
                if getattr(pe, slot) == deadline:
                    if i:  # the stale entries before the first live one: gone for good
                        del bucket[:i]
                    return deadline
            del buckets[heapq.heappop(heap)]  # nothing live in it: gone for good
        return None

    def pop_due(self, now: int) -> list[tuple[int, PoolElement]]:
        """(deadline, PE) of every timer at or before ``now``, in deadline order, then in the
        order they were armed (a PE re-armed at the same deadline keeps its first place);
        each is off now."""
        due: list[tuple[int, PoolElement]] = []
        heap, buckets, slot = self._heap, self._buckets, self.slot
        while heap and heap[0] <= now:
            deadline = heapq.heappop(heap)
            for pe in buckets.pop(deadline):
                if getattr(pe, slot) == deadline:  # live (a second entry finds it off)
                    setattr(pe, slot, None)
                    due.append((deadline, pe))
        return due
