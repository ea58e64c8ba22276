"""``PoolUserCore``: the sans-IO pool user (RFC 5352 §3.3, §3.5, §3.8-3.9, as RSPLIB does it).

* **Resolution.** :meth:`PoolUserCore.resolve`, :meth:`~PoolUserCore.report_unreachable` and
  the cache come from :class:`~rserpool.proto.client.resolution.ResolvingClient`.
* **Sessions.** :meth:`PoolUserCore.open_session` picks a PE and asks the driver to connect
  (:class:`~rserpool.proto.client.session.ConnectSession`) to its user transport. When the
  association fails (or :meth:`force_failover`), the session fails over by itself: it emits
  ``FailoverNecessary``, avoids the failed PE for ``failed_pe_penalty`` ms, prefers the PEs of a
  Business Card the PE sent, otherwise resolves again (RSPLIB: one item; retry after 250 ms
  when no PE is available), connects, sends the latest Cookie as Cookie Echo first, then its own
  Business Card if configured, then the application data queued meanwhile, and emits
  ``FailoverComplete``. A failed connect is reported as Endpoint Unreachable (RSPLIB).

Every change of a session's state goes through the table of
:mod:`rserpool.proto.client.session_states` (printed in ``docs/client.md``). The session record
and the ``NoPoolElement`` event are in :mod:`rserpool.proto.client.pool_user_types`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from rserpool.proto.client.cache import CachedElement
from rserpool.proto.client.hunt_types import (
    RegistrarHuntConfig,
    SessionConnectTimeout,
    SessionRetry,
    TimerKey,
)
from rserpool.proto.client.pool_user_types import NoPoolElement, SessionRecord
from rserpool.proto.client.resolution import (
    ALL_ITEMS,
    PendingResolution,
    PoolUserConfig,
    ResolutionFailed,
    Resolved,
    ResolvingClient,
    UnreachableReported,
    session_address,
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
    session_control,
)
from rserpool.proto.client.session_states import (
    CONNECTING_STATES,
    SessionInput,
    SessionState,
    SessionStateError,
)
from rserpool.proto.common import Channel, MessageIgnored
from rserpool.wire import (
    PPID,
    BusinessCard,
    Cookie,
    CookieEcho,
    Message,
    PoolElement,
)

__all__ = [
    "ALL_ITEMS",
    "NoPoolElement",
    "PoolUserConfig",
    "PoolUserCore",
    "ResolutionFailed",
    "Resolved",
    "SessionInput",
    "SessionState",
    "SessionStateError",
    "UnreachableReported",
]


class PoolUserCore(ResolvingClient):
    """A pool user without I/O: resolution, cache, EU reports, fail-over sessions."""

    def __init__(
        self,
        hunt: RegistrarHuntConfig,
        rng: random.Random,
        now: int,
        config: PoolUserConfig | None = None,
    ) -> None:
        super().__init__(hunt, rng, now, config)
        self._sessions: dict[int, SessionRecord] = {}
        self._by_connection: dict[int, SessionRecord] = {}
        self._next_session = 1
        self._next_connection = 1
        # ASAP control from the PE on a session, by message type
        self._session_handlers: dict[type[Message], Callable[[SessionRecord, Message], None]] = {
            Cookie: self._cookie_message,
            BusinessCard: self._business_card_message,
        }

    # ------------------------------------------------------------------ session API

    def open_session(
        self, pool_handle: bytes, now: int, *, business_card: BusinessCard | None = None
    ) -> int:
        """A session to a pool; ``business_card`` is sent to every PE it connects to (for a
        PU/PE combination, RFC 5352 §3.9). Returns the session number. A session starts in
        ``RESOLVING``."""
        session = SessionRecord(self._next_session, pool_handle, business_card)
        self._next_session += 1
        self._sessions[session.session] = session
        self._find_pe(session, now)
        return session.session

    def session_state(self, session: int) -> SessionState | None:
        """The session's state (None: no such session, or closed)."""
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
        if s is None:
            return
        connection = s.connection
        if not s.apply(SessionInput.FORCE_FAILOVER):
            return  # no association to abort
        assert connection is not None
        self._act(CloseSession(connection, abort=True))
        self._failover(s, "forced", now, report=report_unreachable)

    def close_session(self, session: int) -> None:
        s = self._sessions.pop(session, None)
        if s is None:
            return
        was = s.state
        s.apply(SessionInput.CLOSE)
        if s.connection is not None:
            self._by_connection.pop(s.connection, None)
            self._timers.cancel(SessionConnectTimeout(s.connection))
            abort = was is not SessionState.ESTABLISHED
            self._act(CloseSession(s.connection, abort=abort))
        self._timers.cancel(SessionRetry(session))
        for pending in self._resolutions.values():
            if session in pending.sessions:
                pending.sessions.remove(session)
        self._emit(SessionClosed(session, "closed by the pool user"))

    # ------------------------------------------------------------------ session input

    def session_connected(self, connection: int, now: int) -> None:
        s = self._by_connection.get(connection)
        was = None if s is None else s.state
        if s is None or not s.apply(SessionInput.CONNECTED):
            self._act(CloseSession(connection, abort=True))  # given up on already
            return
        assert s.pe is not None
        self._timers.cancel(SessionConnectTimeout(connection))
        failover = was is SessionState.FAILOVER_CONNECTING
        echoed = failover and s.cookie is not None
        if echoed:
            assert s.cookie is not None
            self._act(SessionSend.control(connection, CookieEcho(cookie=s.cookie)))
        if s.business_card is not None:
            self._act(SessionSend.control(connection, s.business_card))
        while s.queue:
            ppid, data = s.queue.popleft()
            self._act(SessionSend(connection, ppid, data))
        if failover:
            self._emit(FailoverComplete(s.session, s.pe.pe_id, echoed))
        else:
            self._emit(SessionConnected(s.session, s.pe.pe_id))

    def session_connect_failed(self, connection: int, now: int) -> None:
        s = self._by_connection.get(connection)
        if s is not None and s.apply(SessionInput.CONNECT_FAILED):
            self._connect_failed(s, now)

    def session_lost(self, connection: int, now: int) -> None:
        """The session association failed or ended (COMM_LOST, ABORT, SHUTDOWN, failed send)."""
        s = self._by_connection.get(connection)
        if s is None:
            return
        was = s.state
        s.apply(SessionInput.ASSOCIATION_LOST)
        if was in CONNECTING_STATES:
            self._connect_failed(s, now)
        else:
            self._failover(s, "association lost", now, report=None)

    def receive_session(self, connection: int, ppid: int, data: bytes, now: int) -> None:
        """One message from the PE: PPID 11 is ASAP control, anything else application data."""
        s = self._by_connection.get(connection)
        if s is None or s.state is not SessionState.ESTABLISHED:
            reason = "not an established session"
            self._emit(MessageIgnored(Channel.SESSION, connection, reason))
            return
        if ppid != PPID.ASAP:
            self._emit(DataReceived(s.session, ppid, data))
            return
        control = session_control(data, self._session_handlers)
        if isinstance(control, str):
            self._emit(MessageIgnored(Channel.SESSION, connection, control))
            return
        self._session_handlers[type(control)](s, control)

    def _cookie_message(self, s: SessionRecord, message: Message) -> None:
        assert isinstance(message, Cookie)
        s.cookie = message.cookie
        self._emit(CookieReceived(s.session, message.cookie))

    def _business_card_message(self, s: SessionRecord, message: Message) -> None:
        assert isinstance(message, BusinessCard)
        s.preferred = [pe for pe in message.pool_elements if session_address(pe) is not None]
        self._emit(BusinessCardReceived(s.session, message))

    # ------------------------------------------------------------------ session internals

    def _failover(self, s: SessionRecord, reason: str, now: int, *, report: bool | None) -> None:
        """The association is gone (the state has moved already): find another PE."""
        assert s.connection is not None
        self._by_connection.pop(s.connection, None)
        self._timers.cancel(SessionConnectTimeout(s.connection))
        pe_id = s.pe.pe_id if s.pe is not None else 0
        s.connection = None
        self._emit(FailoverNecessary(s.session, pe_id, reason))
        if report is None:
            report = self.config.report_unreachable_on_failover
        self._penalize(s, now, report=report)
        self._find_pe(s, now)

    def _connect_failed(self, s: SessionRecord, now: int) -> None:
        """The connect did not succeed (the state has moved already): find another PE."""
        assert s.connection is not None
        self._timers.cancel(SessionConnectTimeout(s.connection))
        self._by_connection.pop(s.connection, None)
        s.connection = None
        self._penalize(s, now, report=True)  # RSPLIB reports a PE it cannot connect to
        self._find_pe(s, now)

    def _penalize(self, s: SessionRecord, now: int, *, report: bool) -> None:
        if s.pe is None:
            return
        s.avoid[s.pe.pe_id] = now + self.config.failed_pe_penalty
        s.preferred = [pe for pe in s.preferred if pe.pe_id != s.pe.pe_id]
        if report:
            self.report_unreachable(s.pool_handle, s.pe.pe_id, now)

    def _avoided(self, s: SessionRecord, now: int) -> set[int]:
        for pe_id in [i for i, until in s.avoid.items() if until <= now]:
            del s.avoid[pe_id]
        return set(s.avoid)

    def _find_pe(self, s: SessionRecord, now: int) -> None:
        """Business Card order first, then the cache, then a Handle Resolution."""
        avoid = self._avoided(s, now)
        for pe in s.preferred:
            if pe.pe_id not in avoid:
                self._connect(s, pe, now)
                return
        usable = [
            e for e in self._cache.fresh(s.pool_handle, now) if session_address(e.pool_element)
        ]
        chosen = self._cache.select(s.pool_handle, usable, 1, avoid)
        if chosen:
            self._connect(s, chosen[0], now)
            return
        pending = self._resolution(s.pool_handle, self.config.failover_items, now)
        pending.sessions.append(s.session)

    def _connect(self, s: SessionRecord, pe: PoolElement, now: int) -> None:
        to = session_address(pe)
        assert to is not None
        s.apply(SessionInput.PE_CHOSEN)
        connection = self._next_connection
        self._next_connection += 1
        s.connection, s.pe = connection, pe
        self._by_connection[connection] = s
        self._act(ConnectSession(connection, s.session, pe.pe_id, to))
        deadline = now + self.config.session_connect_timeout
        self._timers.set(SessionConnectTimeout(connection), deadline)

    def _wait(self, s: SessionRecord, now: int, cause: int | None, reason: str) -> None:
        s.apply(SessionInput.NO_PE)
        retry = self.config.session_retry_delay
        self._emit(NoPoolElement(s.session, s.pool_handle, cause, reason, retry))
        self._timers.set(SessionRetry(s.session), now + self.config.session_retry_delay)

    # ------------------------------------------------------------------ hooks

    def _fire(self, key: TimerKey, now: int) -> None:
        match key:
            case SessionConnectTimeout(connection):
                s = self._by_connection.get(connection)
                if s is not None and s.apply(SessionInput.CONNECT_FAILED):
                    self._act(CloseSession(connection, abort=True))
                    self._connect_failed(s, now)
            case SessionRetry(session):
                s = self._sessions.get(session)
                if s is not None and s.apply(SessionInput.RETRY_TIMER):
                    self._find_pe(s, now)
            case _:
                super()._fire(key, now)

    def _answer_sessions(
        self, pending: PendingResolution, usable: list[CachedElement], now: int
    ) -> None:
        for session_id in pending.sessions:
            s = self._sessions.get(session_id)
            if s is None:
                continue
            chosen = self._cache.select(pending.pool_handle, usable, 1, self._avoided(s, now))
            if chosen:
                self._connect(s, chosen[0], now)
            else:
                reason = "every pool element failed lately" if usable else "no usable address"
                self._wait(s, now, None, reason)

    def _fail_sessions(
        self, pending: PendingResolution, cause: int | None, reason: str, now: int
    ) -> None:
        for session_id in pending.sessions:
            s = self._sessions.get(session_id)
            if s is not None:
                self._wait(s, now, cause, reason)
