"""Per-PU request rate limits (RSPLIB ``rspregistrar-security.c``, ``timestamphashtable.c``).

For each reporter and each key (a pool handle for Handle Resolution, a (pool handle,
PE id) pair for Endpoint Unreachable) the registrar keeps the last 16 request timestamps. A
request is noted first; then rate = entries / (newest − oldest) in requests per second (no
rate with fewer than two entries; infinite when they share a timestamp). The request is
allowed while rate <= threshold; a negative threshold means unlimited (the default, −1).

RSPLIB keys the tables by the PU's association; a PU that opens several associations from
one host (or reconnects) then multiplies its allowance. The registrar keys them by the
*reporter*: the association's peer addresses (the host, whatever its ports or associations),
so that several associations from one address set share one window. RSPLIB hashes keys into
64 buckets per PU (collisions share a bucket); we keep exact keys but at most
:data:`MAX_KEYS_PER_ASSOCIATION` per reporter and :data:`MAX_REPORTERS` reporters, evicting
the least recently used, so that nobody can grow the registrar's memory without bound.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable

MAX_TIMESTAMPS = 16
MAX_KEYS_PER_ASSOCIATION = 64  # keys per reporter
MAX_REPORTERS = 4096


class RateLimiter:
    """One limit (requests per second) over (association, key) timestamp windows."""

    __slots__ = ("_tables", "threshold")

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._tables: OrderedDict[Hashable, OrderedDict[Hashable, deque[int]]] = OrderedDict()

    def allow(self, reporter: Hashable, key: Hashable, now: int) -> bool:
        """Note a request at ``now`` (ms) and tell whether it is within the limit.

        ``reporter`` names who asks: an association id, or (the registrar's choice) the
        association's peer addresses."""
        if self.threshold < 0:
            return True
        tables = self._tables
        table = tables.get(reporter)
        if table is None:
            table = tables[reporter] = OrderedDict()
            if len(tables) > MAX_REPORTERS:
                tables.popitem(last=False)
        else:
            tables.move_to_end(reporter)
        stamps = table.get(key)
        if stamps is None:
            stamps = table[key] = deque(maxlen=MAX_TIMESTAMPS)
            if len(table) > MAX_KEYS_PER_ASSOCIATION:
                table.popitem(last=False)
        else:
            table.move_to_end(key)
        stamps.append(max(now, stamps[-1]) if stamps else now)  # keep the window monotonic
        return self.rate(stamps) <= self.threshold

    @staticmethod
    def rate(stamps: deque[int]) -> float:
        if len(stamps) < 2:
            return 0.0
        duration = stamps[-1] - stamps[0]
        if duration <= 0:
            return float("inf")
        return len(stamps) / (duration / 1000.0)

    def forget(self, reporter: Hashable) -> None:
        self._tables.pop(reporter, None)
