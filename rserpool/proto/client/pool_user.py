"""``PoolUserCore``: the sans-IO pool user (RFC 5352 §3.3, §3.5, §3.8-3.9, as RSPLIB does it).

* **Resolution.** :meth:`PoolUserCore.resolve` answers from the cache while its entries are
  younger than ``stale_cache_value`` ms, otherwise it sends a Handle Resolution to the home
  registrar (with the 0x803f option as RSPLIB does: only when ``stale_cache_value`` is 0 or all
  items are wanted), caches the answer and selects locally with the pool's policy
  (:func:`rserpool.policies.select_from`). Concurrent resolutions of one pool share one request.
* **Unreachable PEs.** :meth:`PoolUserCore.report_unreachable` drops the PE from the cache and
  sends Endpoint Unreachable (no response is expected).
* **Sessions.** :meth:`PoolUserCore.open_session` picks a PE and asks the driver to connect
  (:class:`~rserpool.proto.client.session.ConnectSession`) to its user transport. When the
  association fails (or :meth:`force_failover`), the session fails over by itself: it emits
  ``FailoverNecessary``, avoids the failed PE for ``failed_pe_penalty`` ms, prefers the PEs of a
  Business Card the PE sent, otherwise resolves again (RSPLIB: one item; retry after 250 ms
  when no PE is available), connects, sends the latest Cookie as Cookie Echo first, then its own
  Business Card if configured, then the application data queued meanwhile, and emits
  ``FailoverComplete``. A failed connect is reported as Endpoint Unreachable (RSPLIB).
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from rserpool.proto.client.cache import CachedElement, PoolUserCache
from rserpool.proto.client.hunt import (
    HomeChangeReason,
    MessageIgnored,
    RegistrarClient,
    RegistrarHuntConfig,
    Request,
    Timer,
)
from rserpool.proto.client.session import (
    BusinessCardReceived,
    CloseSession,
    ConnectSession,
    CookieReceived,
    DataReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionClosed,
    SessionConnected,
    SessionSend,
)
from rserpool.proto.common import Event, TransportAddress
from rserpool.wire import (
    PPID,
    AsapMessage,
    BusinessCard,
    Cookie,
    CookieEcho,
    DecodeError,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    PoolElement,
    PoolMemberSelectionPolicy,
    SctpTransport,
    decode_message_untrusted,
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


@dataclass(frozen=True, slots=True)
class NoPoolElement(Event):
    """A session found no PE to connect to (``cause``: the registrar's Operation Error cause,
    0x0009 unknown pool handle; None: an empty answer, every PE avoided after a failure, or no
    registrar answered); it resolves again in ``retry_in`` ms."""

    session: int
    pool_handle: bytes
    cause: int | None
    reason: str
    retry_in: int

    def __str__(self) -> str:
        cause = "" if self.cause is None else f" cause {self.cause:#06x}"
        return (
            f"NoPoolElement: session {self.session} {self.pool_handle!r}{cause}: {self.reason}, "
            f"retry in {self.retry_in} ms"
        )


# ------------------------------------------------------------------------------- state


class SessionState(enum.Enum):
    RESOLVING = "resolving"
    WAITING = "waiting"  # for the retry delay
    CONNECTING = "connecting"
    ESTABLISHED = "established"


@dataclass(slots=True, eq=False)
class _Session:
    session: int
    pool_handle: bytes
    business_card: BusinessCard | None
    state: SessionState = SessionState.RESOLVING
    connection: int | None = None
    pe: PoolElement | None = None
    cookie: bytes | None = None
    preferred: list[PoolElement] = field(default_factory=list)
    avoid: dict[int, int] = field(default_factory=dict)  # PE id -> until
    queue: deque[tuple[int, bytes]] = field(default_factory=deque)
    connected_once: bool = False
    failing_over: bool = False


@dataclass(slots=True, eq=False)
class _Resolution:
    pool_handle: bytes
    queries: list[tuple[int, int]] = field(default_factory=list)  # (query, items)
    sessions: list[int] = field(default_factory=list)


def _transport(pe: PoolElement) -> TransportAddress | None:
    user = pe.user_transport
    if isinstance(user, SctpTransport) and user.addresses and user.port:
        return TransportAddress(user.addresses, user.port)
    return None


class PoolUserCore(RegistrarClient):
    """A pool user without I/O: resolution, cache, EU reports, fail-over sessions."""

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
        self._resolutions: dict[bytes, _Resolution] = {}
        self._pending_eu: list[EndpointUnreachable] = []
        self._sessions: dict[int, _Session] = {}
        self._by_connection: dict[int, _Session] = {}
        self._next_query = 1
        self._next_session = 1
        self._next_connection = 1

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

    def _resolution(self, pool_handle: bytes, items: int, now: int) -> _Resolution:
        pending = self._resolutions.get(pool_handle)
        if pending is not None:
            return pending
        pending = _Resolution(pool_handle)
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

    # ------------------------------------------------------------------ session API

    def open_session(
        self, pool_handle: bytes, now: int, *, business_card: BusinessCard | None = None
    ) -> int:
        """A session to a pool; ``business_card`` is sent to every PE it connects to (for a
        PU/PE combination, RFC 5352 §3.9). Returns the session number."""
        session = _Session(self._next_session, pool_handle, business_card)
        self._next_session += 1
        self._sessions[session.session] = session
        self._find_pe(session, now)
        return session.session

    def session_state(self, session: int) -> SessionState | None:
        s = self._sessions.get(session)
        return None if s is None else s.state

    def session_pe(self, session: int) -> int | None:
        s = self._sessions.get(session)
        return None if s is None or s.pe is None else s.pe.pe_id

    def send(self, session: int, data: bytes, ppid: int = 0) -> bool:
        """Application data to the session's PE; held while failing over (False: no such
        session, or the hold queue is full). PPID 11 is reserved for ASAP control."""
        if ppid == PPID.ASAP:
            raise ValueError("PPID 11 is ASAP control")
        s = self._sessions.get(session)
        if s is None:
            return False
        if s.state is SessionState.ESTABLISHED and s.connection is not None:
            self._act(SessionSend(s.connection, ppid, data))
            return True
        if len(s.queue) >= self.config.session_queue_limit:
            return False
        s.queue.append((ppid, data))
        return True

    def force_failover(self, session: int, now: int, *, report_unreachable: bool = False) -> None:
        """RSPLIB ``rsp_forcefailover``: abort the association and fail over."""
        s = self._sessions.get(session)
        if s is None or s.connection is None:
            return
        self._act(CloseSession(s.connection, abort=True))
        self._failover(s, "forced", now, report=report_unreachable)

    def close_session(self, session: int) -> None:
        s = self._sessions.pop(session, None)
        if s is None:
            return
        if s.connection is not None:
            self._by_connection.pop(s.connection, None)
            self._timers.cancel((Timer.SESSION_CONNECT, s.connection))
            self._act(CloseSession(s.connection, abort=s.state is not SessionState.ESTABLISHED))
        self._timers.cancel((Timer.SESSION_RETRY, session))
        for pending in self._resolutions.values():
            if session in pending.sessions:
                pending.sessions.remove(session)
        self._emit(SessionClosed(session, "closed by the pool user"))

    # ------------------------------------------------------------------ session input

    def session_connected(self, connection: int, now: int) -> None:
        s = self._by_connection.get(connection)
        if s is None or s.state is not SessionState.CONNECTING:
            self._act(CloseSession(connection, abort=True))  # given up on already
            return
        assert s.pe is not None
        self._timers.cancel((Timer.SESSION_CONNECT, connection))
        s.state = SessionState.ESTABLISHED
        echoed = s.failing_over and s.cookie is not None
        if echoed:
            assert s.cookie is not None
            self._act(SessionSend.control(connection, CookieEcho(cookie=s.cookie)))
        if s.business_card is not None:
            self._act(SessionSend.control(connection, s.business_card))
        while s.queue:
            ppid, data = s.queue.popleft()
            self._act(SessionSend(connection, ppid, data))
        if s.failing_over:
            self._emit(FailoverComplete(s.session, s.pe.pe_id, echoed))
        else:
            self._emit(SessionConnected(s.session, s.pe.pe_id))
        s.connected_once = True
        s.failing_over = False

    def session_connect_failed(self, connection: int, now: int) -> None:
        s = self._by_connection.get(connection)
        if s is None or s.state is not SessionState.CONNECTING:
            return
        self._connect_failed(s, "connect failed", now)

    def session_lost(self, connection: int, now: int) -> None:
        """The session association failed or ended (COMM_LOST, ABORT, SHUTDOWN, failed send)."""
        s = self._by_connection.get(connection)
        if s is None:
            return
        if s.state is SessionState.CONNECTING:
            self._connect_failed(s, "association lost while connecting", now)
        else:
            self._failover(s, "association lost", now, report=None)

    def receive_session(self, connection: int, ppid: int, data: bytes, now: int) -> None:
        """One message from the PE: PPID 11 is ASAP control, anything else application data."""
        s = self._by_connection.get(connection)
        if s is None or s.state is not SessionState.ESTABLISHED:
            self._emit(MessageIgnored("session", connection, "not an established session"))
            return
        if ppid != PPID.ASAP:
            self._emit(DataReceived(s.session, ppid, data))
            return
        try:
            message = decode_message_untrusted(ppid, data)
        except DecodeError as exc:
            self._emit(MessageIgnored("session", connection, f"bad ASAP control: {exc.reason}"))
            return
        if isinstance(message, Cookie):
            s.cookie = message.cookie
            self._emit(CookieReceived(s.session, message.cookie))
        elif isinstance(message, BusinessCard):
            s.preferred = [pe for pe in message.pool_elements if _transport(pe) is not None]
            self._emit(BusinessCardReceived(s.session, message))
        else:
            self._emit(MessageIgnored("session", connection, f"{message.NAME} on a session"))

    # ------------------------------------------------------------------ session internals

    def _failover(self, s: _Session, reason: str, now: int, *, report: bool | None) -> None:
        assert s.connection is not None
        self._by_connection.pop(s.connection, None)
        pe_id = s.pe.pe_id if s.pe is not None else 0
        s.connection = None
        s.failing_over = s.failing_over or s.connected_once
        self._emit(FailoverNecessary(s.session, pe_id, reason))
        if report is None:
            report = self.config.report_unreachable_on_failover
        self._penalize(s, now, report=report)
        self._find_pe(s, now)

    def _connect_failed(self, s: _Session, reason: str, now: int) -> None:
        assert s.connection is not None
        self._timers.cancel((Timer.SESSION_CONNECT, s.connection))
        self._by_connection.pop(s.connection, None)
        s.connection = None
        self._penalize(s, now, report=True)  # RSPLIB reports a PE it cannot connect to
        self._find_pe(s, now)

    def _penalize(self, s: _Session, now: int, *, report: bool) -> None:
        if s.pe is None:
            return
        s.avoid[s.pe.pe_id] = now + self.config.failed_pe_penalty
        s.preferred = [pe for pe in s.preferred if pe.pe_id != s.pe.pe_id]
        if report:
            self.report_unreachable(s.pool_handle, s.pe.pe_id, now)

    def _avoided(self, s: _Session, now: int) -> set[int]:
        for pe_id in [i for i, until in s.avoid.items() if until <= now]:
            del s.avoid[pe_id]
        return set(s.avoid)

    def _find_pe(self, s: _Session, now: int) -> None:
        """Business Card order first, then the cache, then a Handle Resolution."""
        s.state = SessionState.RESOLVING
        avoid = self._avoided(s, now)
        for pe in s.preferred:
            if pe.pe_id not in avoid:
                self._connect(s, pe, now)
                return
        usable = [e for e in self._cache.fresh(s.pool_handle, now) if _transport(e.pool_element)]
        chosen = self._cache.select(s.pool_handle, usable, 1, avoid)
        if chosen:
            self._connect(s, chosen[0], now)
            return
        pending = self._resolution(s.pool_handle, self.config.failover_items, now)
        pending.sessions.append(s.session)

    def _connect(self, s: _Session, pe: PoolElement, now: int) -> None:
        to = _transport(pe)
        assert to is not None
        connection = self._next_connection
        self._next_connection += 1
        s.state, s.connection, s.pe = SessionState.CONNECTING, connection, pe
        self._by_connection[connection] = s
        self._act(ConnectSession(connection, s.session, pe.pe_id, to))
        deadline = now + self.config.session_connect_timeout
        self._timers.set((Timer.SESSION_CONNECT, connection), deadline)

    def _wait(self, s: _Session, now: int, cause: int | None, reason: str) -> None:
        s.state = SessionState.WAITING
        retry = self.config.session_retry_delay
        self._emit(NoPoolElement(s.session, s.pool_handle, cause, reason, retry))
        self._timers.set((Timer.SESSION_RETRY, s.session), now + self.config.session_retry_delay)

    # ------------------------------------------------------------------ hooks

    def _fire(self, timer: Timer, subject: Hashable, now: int) -> None:
        if timer is Timer.SESSION_CONNECT:
            s = self._by_connection.get(subject) if isinstance(subject, int) else None
            if s is not None and s.state is SessionState.CONNECTING and s.connection is not None:
                self._act(CloseSession(s.connection, abort=True))
                self._connect_failed(s, "connect timeout", now)
        elif timer is Timer.SESSION_RETRY:
            s = self._sessions.get(subject) if isinstance(subject, int) else None
            if s is not None and s.state is SessionState.WAITING:
                self._find_pe(s, now)
        else:
            super()._fire(timer, subject, now)

    def _needs_registrar(self) -> bool:
        return super()._needs_registrar() or bool(self._pending_eu)

    def _on_home_established(self, reason: HomeChangeReason, now: int) -> None:
        pending, self._pending_eu = self._pending_eu, []
        for message in pending:
            self._send_home(message)

    def _on_response(self, request: Request, response: AsapMessage, now: int) -> None:
        pending = request.context
        assert isinstance(pending, _Resolution) and isinstance(response, HandleResolutionResponse)
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
        usable = [e for e in entries if _transport(e.pool_element) is not None]
        for session_id in pending.sessions:
            s = self._sessions.get(session_id)
            if s is None or s.state is not SessionState.RESOLVING:
                continue
            chosen = self._cache.select(handle, usable, 1, self._avoided(s, now))
            if chosen:
                self._connect(s, chosen[0], now)
            else:
                reason = "every pool element failed lately" if usable else "no usable address"
                self._wait(s, now, None, reason)

    def _resolution_failed(
        self, pending: _Resolution, cause: int | None, reason: str, now: int
    ) -> None:
        for query, _ in pending.queries:
            self._emit(ResolutionFailed(query, pending.pool_handle, cause, reason))
        for session_id in pending.sessions:
            s = self._sessions.get(session_id)
            if s is not None and s.state is SessionState.RESOLVING:
                self._wait(s, now, cause, reason)

    def _on_request_failed(self, request: Request, reason: str, now: int) -> None:
        pending = request.context
        assert isinstance(pending, _Resolution)
        self._resolutions.pop(pending.pool_handle, None)
        self._resolution_failed(pending, None, reason, now)
