"""The pool user's cache (RFC 5352 §3.5, §6.4; RSPLIB's PU cache).

Each pool keeps the PEs of the latest Handle Resolution Responses until they are older than
the pool user's ``stale_cache_value``, and a selection storage of the pool's policy
(:mod:`rserpool.policies`), so that the policy's runtime state (a round-robin rotation,
accumulated degradation) persists from one local selection to the next.
"""

from __future__ import annotations

import random
from collections.abc import Collection

from rserpool.policies import PolicyEntry, SelectionStorage, new_selection, select_from
from rserpool.wire import PolicyType, PoolElement, PoolMemberSelectionPolicy


class CachedElement(PolicyEntry):
    """A cached PE: its Pool Element parameter, expiry, and the policies' runtime state."""

    __slots__ = ("expires", "pool_element")

    def __init__(self, pool_element: PoolElement, expires: int) -> None:
        policy = pool_element.policy
        if not isinstance(policy, PoolMemberSelectionPolicy):
            policy = PoolMemberSelectionPolicy(PolicyType.RANDOM)  # unknown policy: any order
        super().__init__(policy)
        self.pool_element = pool_element
        self.expires = expires


class PoolUserCache:
    """Cached PEs per pool handle, with expiry and local selection by the pool's policy."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._cache: dict[bytes, dict[int, CachedElement]] = {}
        self._storage: dict[bytes, SelectionStorage[CachedElement]] = {}
        self.pool_policy: dict[bytes, PolicyType] = {}  # from the latest response's Policy

    def cached(self, pool_handle: bytes, now: int) -> list[PoolElement]:
        """The fresh cache entries of a pool (expired ones are purged)."""
        return [e.pool_element for e in self.fresh(pool_handle, now)]

    def find(self, pool_handle: bytes, pe_id: int) -> CachedElement | None:
        return self._cache.get(pool_handle, {}).get(pe_id)

    def purge(self, pool_handle: bytes | None = None) -> None:
        """RFC 5352 §6.4 CachePurgeRequest: forget one pool, or all."""
        for handle in list(self._cache) if pool_handle is None else [pool_handle]:
            for entry in list(self._cache.get(handle, {}).values()):
                self.remove(handle, entry)

    def fresh(self, pool_handle: bytes, now: int) -> list[CachedElement]:
        pool = self._cache.get(pool_handle)
        if pool is None:
            return []
        for entry in [e for e in pool.values() if e.expires <= now]:
            self.remove(pool_handle, entry)
        return list(pool.values())

    def put(self, pool_handle: bytes, entry: CachedElement) -> None:
        pool = self._cache.setdefault(pool_handle, {})
        old = pool.get(entry.pool_element.pe_id)
        if old is not None:
            self.remove(pool_handle, old)
        pool[entry.pool_element.pe_id] = entry
        storage = self._storage.get(pool_handle)
        if storage is None:
            policy_type = self.pool_policy.get(pool_handle, entry.policy.policy_type)
            try:
                storage = new_selection(policy_type)
            except KeyError:  # a policy we cannot run: any order will do
                storage = new_selection(PolicyType.RANDOM)
            self._storage[pool_handle] = storage
        storage.add(entry)

    def remove(self, pool_handle: bytes, entry: CachedElement) -> None:
        pool = self._cache.get(pool_handle, {})
        if pool.get(entry.pool_element.pe_id) is entry:
            del pool[entry.pool_element.pe_id]
            self._storage[pool_handle].remove(entry)
        if not pool:
            self._cache.pop(pool_handle, None)
            self._storage.pop(pool_handle, None)

    def select(
        self,
        pool_handle: bytes,
        entries: list[CachedElement],
        n: int,
        avoid: Collection[int] = (),
    ) -> list[PoolElement]:
        candidates = [e for e in entries if e.pool_element.pe_id not in avoid]
        if not candidates:
            return []
        storage = self._storage.get(pool_handle)
        pool = self._cache.get(pool_handle, {})
        whole_pool = storage is not None and len(candidates) == len(pool) == len(storage)
        if whole_pool and all(pool.get(e.pool_element.pe_id) is e for e in candidates):
            assert storage is not None  # the pool's rotation persists between selections
            return [e.pool_element for e in storage.select(n, self._rng)]
        policy_type = self.pool_policy.get(pool_handle, candidates[0].policy.policy_type)
        try:
            chosen = select_from(candidates, n, self._rng, policy_type)
        except KeyError:  # a policy we cannot run: any order will do
            chosen = select_from(candidates, n, self._rng, PolicyType.RANDOM)
        return [e.pool_element for e in chosen]
