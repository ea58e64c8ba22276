"""Handle resolution for a pool user (RFC 5352 §3.3, §3.5, as RSPLIB does it).

:class:`ResolvingClient` answers :meth:`~ResolvingClient.resolve` from its cache while the
entries are younger than ``stale_cache_value`` ms, otherwise it sends a Handle Resolution to
the home registrar (with the 0x803f option as RSPLIB does: only when ``stale_cache_value`` is
0 or all items are wanted), caches the answer and selects locally with the pool's policy
(:func:`rserpool.policies.select_from`). Concurrent resolutions of one pool share one
request; the sessions of :class:`~rserpool.proto.client.pool_user.PoolUserCore` wait on the
same request (:meth:`~ResolvingClient._answer_sessions`).
:meth:`~ResolvingClient.report_unreachable` drops a PE from the cache and sends Endpoint
Unreachable (no response is expected).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from rserpool.proto.client.cache import CachedElement, PoolUserCache
from rserpool.proto.client.hunt import (
    HomeChangeReason,
    RegistrarClient,
    RegistrarHuntConfig,
    Request,
)
from rserpool.proto.common import Event, TransportAddress
from rserpool.wire import (
    AsapMessage,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    PoolElement,
    PoolMemberSelectionPolicy,
    SctpTransport,
)

ALL_ITEMS = 0xFFFFFFFF  # Handle Resolution option: as many PEs as possible


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolUserConfig:
    """PU settings; times in ms, defaults from RSPLIB 3.4.4."""

    stale_cache_value: int = 0  # cache entries live this long (RSPLIB clients: 0)
    session_connect_timeout: int = 5000
    session_retry_delay: int = 250  # no PE available: resolve again after this
    failed_pe_penalty: int = 10_000  # a PE a session failed at is avoided this long
    failover_items: int = 1  # PEs asked for when a session (re)connects (RSPLIB: 1)
    report_unreachable_on_failover: bool = False  # RSPLIB tools: FFF_NONE
    session_queue_limit: int = 1024  # application messages held while failing over

    def __post_init__(self) -> None:
        if min(self.stale_cache_value, self.failed_pe_penalty) < 0:
            raise ValueError("times must not be negative")
        if min(self.session_connect_timeout, self.session_retry_delay, self.failover_items) < 1:
            raise ValueError("session timeouts and failover_items must be at least 1")


# -------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Resolved(Event):
    query: int
    pool_handle: bytes
    pool_elements: tuple[PoolElement, ...]
    from_cache: bool

    def __str__(self) -> str:
        ids = ", ".join(f"{pe.pe_id:#010x}" for pe in self.pool_elements)
        source = "cache" if self.from_cache else "registrar"
        return f"Resolved: query {self.query} {self.pool_handle!r} ({source}): {ids}"


@dataclass(frozen=True, slots=True)
class ResolutionFailed(Event):
    """No PE: ``cause`` is the registrar's Operation Error cause (0x0009 unknown pool) or
    None (empty answer, or no registrar answered)."""

    query: int
    pool_handle: bytes
    cause: int | None
    reason: str

    def __str__(self) -> str:
        cause = "" if self.cause is None else f" cause {self.cause:#06x}"
        return f"ResolutionFailed: query {self.query} {self.pool_handle!r}{cause}: {self.reason}"


@dataclass(frozen=True, slots=True)
class UnreachableReported(Event):
    pool_handle: bytes
    pe_id: int
    sent: bool  # False: queued until a home registrar is found

    def __str__(self) -> str:
        return f"UnreachableReported: {self.pool_handle!r} PE {self.pe_id:#010x}"


@dataclass(slots=True, eq=False)
class PendingResolution:
    """One Handle Resolution under way: the queries and the sessions waiting for it."""

    pool_handle: bytes
    queries: list[tuple[int, int]] = field(default_factory=list)  # (query, items)
    sessions: list[int] = field(default_factory=list)


def session_address(pe: PoolElement) -> TransportAddress | None:
    """Where a session connects to ``pe``: its SCTP user transport (None: it has none)."""
    user = pe.user_transport
    if isinstance(user, SctpTransport) and user.addresses and user.port:
        return TransportAddress(user.addresses, user.port)
    return None


class ResolvingClient(RegistrarClient):
    """The resolving half of a pool user (see the module docstring)."""

    def __init__(
        self,
        hunt: RegistrarHuntConfig,
        rng: random.Random,
        now: int,
        config: PoolUserConfig | None = None,
    ) -> None:
        super().__init__(hunt, rng, now)
        self.config = config or PoolUserConfig()
        self._cache = PoolUserCache(rng)
        self._resolutions: dict[bytes, PendingResolution] = {}
        self._pending_eu: list[EndpointUnreachable] = []
        self._next_query = 1

    # ------------------------------------------------------------------ cache

    def cached(self, pool_handle: bytes, now: int) -> list[PoolElement]:
        """The fresh cache entries of a pool (expired ones are purged)."""
        return self._cache.cached(pool_handle, now)

    def purge_cache(self, pool_handle: bytes | None = None) -> None:
        """RFC 5352 §6.4 CachePurgeRequest: forget one pool, or all."""
        self._cache.purge(pool_handle)

    # ------------------------------------------------------------------ resolution API

    def resolve(self, pool_handle: bytes, now: int, items: int = 1) -> int:
        """Resolve a pool handle into up to ``items`` PEs; returns the query number of the
        :class:`Resolved` or :class:`ResolutionFailed` event that follows."""
        query = self._next_query
        self._next_query += 1
        fresh = self._cache.fresh(pool_handle, now)
        if fresh:
            chosen = self._cache.select(pool_handle, fresh, items)
            self._emit(Resolved(query, pool_handle, tuple(chosen), True))
            return query
        self._resolution(pool_handle, items, now).queries.append((query, items))
        return query

    def _resolution(self, pool_handle: bytes, items: int, now: int) -> PendingResolution:
        pending = self._resolutions.get(pool_handle)
        if pending is not None:
            return pending
        pending = PendingResolution(pool_handle)
        self._resolutions[pool_handle] = pending
        stale = self.config.stale_cache_value
        option = items if stale == 0 or items == ALL_ITEMS else None
        message = HandleResolution(pool_handle=pool_handle, items=option)
        self._request(message, HandleResolutionResponse, pending, now)
        return pending

    def report_unreachable(self, pool_handle: bytes, pe_id: int, now: int) -> None:
        """RFC 5352 §3.5: drop the PE from the cache and tell the home registrar."""
        entry = self._cache.find(pool_handle, pe_id)
        if entry is not None:
            self._cache.remove(pool_handle, entry)
        message = EndpointUnreachable(pool_handle=pool_handle, pe_id=pe_id)
        sent = self._send_home(message)
        if not sent:
            self._pending_eu.append(message)
            self._ensure_hunt(now)
        self._emit(UnreachableReported(pool_handle, pe_id, sent))

    # ------------------------------------------------------------------ hooks

    def _needs_registrar(self) -> bool:
        return super()._needs_registrar() or bool(self._pending_eu)

    def _on_home_established(self, reason: HomeChangeReason, now: int) -> None:
        pending, self._pending_eu = self._pending_eu, []
        for message in pending:
            self._send_home(message)

    def _on_response(self, request: Request, response: AsapMessage, now: int) -> None:
        pending = request.context
        assert isinstance(pending, PendingResolution) and isinstance(
            response, HandleResolutionResponse
        )
        handle = pending.pool_handle
        self._resolutions.pop(handle, None)
        if response.error is not None or not response.pool_elements:
            cause = None if response.error is None else response.error.code
            self._resolution_failed(pending, cause, "no pool element", now)
            return
        policy = response.policy
        if isinstance(policy, PoolMemberSelectionPolicy):
            self._cache.pool_policy[handle] = policy.policy_type
        expires = now + self.config.stale_cache_value
        answered: list[CachedElement] = []
        for pe in response.pool_elements[:128]:
            entry = CachedElement(pe, expires)
            answered.append(entry)
            if expires > now:
                self._cache.put(handle, entry)
        fresh = {e.pool_element.pe_id: e for e in self._cache.fresh(handle, now)}
        fresh.update({e.pool_element.pe_id: e for e in answered})
        entries = list(fresh.values())
        for query, items in pending.queries:
            chosen = self._cache.select(handle, entries, items)
            self._emit(Resolved(query, handle, tuple(chosen), False))
        usable = [e for e in entries if session_address(e.pool_element) is not None]
        self._answer_sessions(pending, usable, now)

    def _resolution_failed(
        self, pending: PendingResolution, cause: int | None, reason: str, now: int
    ) -> None:
        for query, _ in pending.queries:
            self._emit(ResolutionFailed(query, pending.pool_handle, cause, reason))
        self._fail_sessions(pending, cause, reason, now)

    def _on_request_failed(self, request: Request, reason: str, now: int) -> None:
        pending = request.context
        assert isinstance(pending, PendingResolution)
        self._resolutions.pop(pending.pool_handle, None)
        self._resolution_failed(pending, None, reason, now)

    def _answer_sessions(
        self, pending: PendingResolution, usable: list[CachedElement], now: int
    ) -> None:
        """The sessions waiting on ``pending`` get the answer's PEs with a user transport."""

    def _fail_sessions(
        self, pending: PendingResolution, cause: int | None, reason: str, now: int
    ) -> None:
        """The sessions waiting on ``pending`` get no PE."""
