"""Per-PU request rate limits (RSPLIB ``rspregistrar-security.c``, ``timestamphashtable.c``).

For each PU association and each key (a pool handle for Handle Resolution, a (pool handle,
PE id) pair for Endpoint Unreachable) the registrar keeps the last 16 request timestamps. A
request is noted first; then rate = entries / (newest − oldest) in requests per second (no
rate with fewer than two entries; infinite when they share a timestamp). The request is
allowed while rate <= threshold; a negative threshold means unlimited (the default, −1).

RSPLIB hashes keys into 64 buckets per PU (collisions share a bucket); we keep exact keys but
at most :data:`MAX_KEYS_PER_ASSOCIATION` per PU, evicting the least recently used, so that a
PU cannot grow the registrar's memory without bound.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable

from rserpool.proto.common import AssocId

MAX_TIMESTAMPS = 16
MAX_KEYS_PER_ASSOCIATION = 64


class RateLimiter:
    """One limit (requests per second) over (association, key) timestamp windows."""

    __slots__ = ("_tables", "threshold")

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._tables: dict[AssocId, OrderedDict[Hashable, deque[int]]] = {}

    def allow(self, assoc_id: AssocId, key: Hashable, now: int) -> bool:
        """Note a request at ``now`` (ms) and tell whether it is within the limit."""
        if self.threshold < 0:
            return True
        table = self._tables.setdefault(assoc_id, OrderedDict())
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

    def forget(self, assoc_id: AssocId) -> None:
        self._tables.pop(assoc_id, None)
