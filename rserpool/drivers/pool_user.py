"""The pool user's Trio API: :func:`open_pool_user`.

    async with open_pool_user(host, registrars=["198.51.100.1:3863"]) as pu:
        elements = await pu.resolve("EchoPool", items=3)        # Handle Resolution
        async with pu.session("EchoPool") as session:             # fails over by itself
            await session.send(b"hello")                          # PPID 0
            reply = await session.receive_data()                  # DataReceived

The PU (:class:`~rserpool.proto.client.pool_user.PoolUserCore` underneath) finds a home
registrar like a PE does, resolves pool handles (with the 0x803f option, caching answers for
``stale_cache_value`` ms), reports unreachable PEs, and runs sessions: one-to-one SCTP
associations to a PE's user transport that **fail over automatically**. When the association
fails, the session picks another PE (the failed one is avoided for a while), connects, sends the
latest ASAP Cookie as Cookie Echo first, then what the application sent meanwhile.
:meth:`PoolUserSession.receive` also yields the session's notices (``FailoverNecessary``,
``FailoverComplete``, ``CookieReceived``, ...) so that an application can resend what the failed
PE took with it, as RSPLIB's clients do.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import trio

from rserpool.drivers._asap_client import (
    AsapClientDriver,
    Connection,
    registrar_addresses,
)
from rserpool.drivers._pu_session import PoolUserSession, SessionItem
from rserpool.drivers._support import Throttle, background_nursery
from rserpool.errors import ProtocolError
from rserpool.proto.client.hunt import HomeRegistrar, RegistrarHuntConfig
from rserpool.proto.client.pool_user import (
    PoolUserConfig,
    PoolUserCore,
    ResolutionFailed,
    Resolved,
)
from rserpool.proto.client.session import (
    BusinessCardReceived,
    ConnectSession,
    CookieReceived,
    DataReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionClosed,
    SessionConnected,
)
from rserpool.proto.common import Event, TransportAddress
from rserpool.transport import (
    ASAP_ANNOUNCE_GROUP,
    Address,
    AssociationParams,
    Host,
    SctpAssociation,
    SctpMessage,
)
from rserpool.wire import BusinessCard, PoolElement

log = logging.getLogger("rserpool.pu")

__all__ = [
    "PoolUserNode",
    "PoolUserSession",
    "ResolutionError",
    "SessionItem",
    "open_pool_user",
]


class ResolutionError(ProtocolError):
    """A Handle Resolution found no PE: ``cause`` is the registrar's Operation Error cause
    (0x0009: unknown pool handle) or None (empty answer, or no registrar answered)."""

    def __init__(self, pool_handle: bytes, cause: int | None, reason: str) -> None:
        cause_text = "" if cause is None else f" (cause {cause:#06x})"
        super().__init__(f"{pool_handle!r}: {reason}{cause_text}")
        self.pool_handle = pool_handle
        self.cause = cause
        self.reason = reason


@dataclass(eq=False)
class _Query:
    done: trio.Event
    result: Resolved | ResolutionFailed | None = None


class PoolUserNode(AsapClientDriver):
    """A running pool user; made by :func:`open_pool_user`."""

    def __init__(
        self,
        host: Host,
        core: PoolUserCore,
        *,
        addresses: Sequence[str] | None = None,
        announces: bool = True,
        announce_group: Address = ASAP_ANNOUNCE_GROUP,
        session_params: AssociationParams | None = None,
        event_buffer: int = 256,
    ) -> None:
        super().__init__(
            host,
            core,
            log=log,
            addresses=addresses,
            announces=announces,
            announce_group=announce_group,
            session_params=session_params,
            event_buffer=event_buffer,
        )
        self.pu_core = core
        self.sessions: dict[int, PoolUserSession] = {}
        self.session_connection: dict[int, int] = {}  # session -> its current connection
        self._connection_session: dict[int, int] = {}
        self._queries: dict[int, _Query] = {}
        # which core events the node acts on, by type (the rest only go to ``events``)
        self._dispatchers.update(
            {
                Resolved: self._resolution_done,
                ResolutionFailed: self._resolution_done,
                DataReceived: self._to_session,
                BusinessCardReceived: self._to_session,
                CookieReceived: self._cookie_received,
                SessionConnected: self._session_connected,
                FailoverNecessary: self._failover_necessary,
                FailoverComplete: self._failover_complete,
                SessionClosed: self._session_closed,
            }
        )

    @property
    def home(self) -> HomeRegistrar | None:
        return self.pu_core.home

    # ------------------------------------------------------------------ resolution

    async def resolve(self, pool_handle: bytes | str, items: int = 1) -> tuple[PoolElement, ...]:
        """Up to ``items`` PEs of the pool (from the cache while it is fresh, otherwise from
        the home registrar); :class:`ResolutionError` when there is none."""
        handle = _handle(pool_handle)
        query = _Query(trio.Event())
        number = self.pu_core.resolve(handle, self.now(), items)
        self._queries[number] = query
        try:
            await self.flush()
            await query.done.wait()
        finally:
            self._queries.pop(number, None)
        result = query.result
        if isinstance(result, ResolutionFailed):
            raise ResolutionError(handle, result.cause, result.reason)
        assert result is not None
        if not result.pool_elements:
            raise ResolutionError(handle, None, "no pool element")
        return result.pool_elements

    async def report_unreachable(self, pool_handle: bytes | str, pe_id: int) -> None:
        """Endpoint Unreachable to the home registrar; the PE leaves our cache."""
        self.pu_core.report_unreachable(_handle(pool_handle), pe_id, self.now())
        await self.flush()

    def cached(self, pool_handle: bytes | str) -> list[PoolElement]:
        return self.pu_core.cached(_handle(pool_handle), self.now())

    # ------------------------------------------------------------------ sessions

    @asynccontextmanager
    async def session(
        self, pool_handle: bytes | str, *, business_card: BusinessCard | None = None
    ) -> AsyncIterator[PoolUserSession]:
        """A session to the pool for the duration of the block (closed gracefully after)."""
        handle = _handle(pool_handle)
        number = self.pu_core.open_session(handle, self.now(), business_card=business_card)
        session = PoolUserSession(self, number, handle)
        self.sessions[number] = session
        try:
            await self.flush()
            yield session
        finally:
            with trio.CancelScope(shield=True):
                await session.aclose()
            self.sessions.pop(number, None)

    # ------------------------------------------------------------------ driver hooks

    def connect_session(self, action: ConnectSession) -> None:
        conn = Connection(action.connection, peer=action.to)
        self.connections[action.connection] = conn
        old = self.session_connection.get(action.session)
        if old is not None:
            self._connection_session.pop(old, None)
        self.session_connection[action.session] = action.connection
        self._connection_session[action.connection] = action.session
        remote = [(str(a), action.to.port) for a in action.to.addresses]

        async def connect() -> SctpAssociation:
            return await self.host.sctp_connect(remote, self.addresses, self.session_params)

        self.nursery.start_soon(self.run_connection, conn, connect)

    def session_connected(self, conn: Connection) -> None:
        self.pu_core.session_connected(conn.number, self.now())

    def session_connect_failed(self, conn: Connection) -> None:
        self.pu_core.session_connect_failed(conn.number, self.now())

    def session_input(self, conn: Connection, item: SctpMessage) -> None:
        self.pu_core.receive_session(conn.number, item.ppid, item.data, self.now())

    def session_ended(self, conn: Connection) -> None:
        self._connection_session.pop(conn.number, None)
        self.pu_core.session_lost(conn.number, self.now())

    def inbox_room(self, conn: Connection) -> Throttle | None:
        session = self.sessions.get(self._connection_session.get(conn.number, -1))
        return None if session is None else session.inbox

    def _resolution_done(self, event: Event) -> None:
        assert isinstance(event, Resolved | ResolutionFailed)
        query = self._queries.get(event.query)
        if query is not None:
            query.result = event
            query.done.set()

    def _to_session(self, event: Event) -> None:
        assert isinstance(event, DataReceived | BusinessCardReceived)
        session = self.sessions.get(event.session)
        if session is not None:
            session._deliver(event)

    def _cookie_received(self, event: Event) -> None:
        assert isinstance(event, CookieReceived)
        session = self.sessions.get(event.session)
        if session is not None:
            session.cookie = event.cookie
            session._deliver(event)

    def _session_connected(self, event: Event) -> None:
        assert isinstance(event, SessionConnected)
        session = self.sessions.get(event.session)
        if session is not None:
            session._held_went_out()
            session._deliver(event)

    def _failover_necessary(self, event: Event) -> None:
        assert isinstance(event, FailoverNecessary)
        session = self.sessions.get(event.session)
        if session is not None:
            session.epoch += 1
            session._deliver(event)

    def _failover_complete(self, event: Event) -> None:
        assert isinstance(event, FailoverComplete)
        session = self.sessions.get(event.session)
        if session is not None:
            session._held_went_out()
            session.failovers += 1
            session._deliver(event)

    def _session_closed(self, event: Event) -> None:
        assert isinstance(event, SessionClosed)
        session = self.sessions.get(event.session)
        if session is not None:
            session.inbox.close()
            session._notify()
        self.session_connection.pop(event.session, None)


def _handle(pool_handle: bytes | str) -> bytes:
    return pool_handle.encode() if isinstance(pool_handle, str) else pool_handle


@asynccontextmanager
async def open_pool_user(
    host: Host,
    *,
    registrars: Sequence[TransportAddress | str] = (),
    announces: bool = True,
    announce_group: Address = ASAP_ANNOUNCE_GROUP,
    config: PoolUserConfig | None = None,
    hunt: RegistrarHuntConfig | None = None,
    addresses: Sequence[str] | None = None,
    session_params: AssociationParams | None = None,
    event_buffer: int = 256,
    rng: random.Random | None = None,
    close_timeout: float = 2.0,
) -> AsyncIterator[PoolUserNode]:
    """Run a pool user on ``host`` for the duration of the block (module docstring).

    ``registrars`` and ``announces`` as for
    :func:`~rserpool.drivers.pool_element.open_pool_element`;
    ``config``: cache lifetime, session connect timeout, retry delay, ... (RSPLIB's defaults).
    """
    hunt_config = hunt or RegistrarHuntConfig()
    static = registrar_addresses(registrars)
    if static:
        hunt_config = replace(hunt_config, static_registrars=static)
    core = PoolUserCore(
        hunt_config, rng or random.Random(), int(trio.current_time() * 1000), config
    )
    node = PoolUserNode(
        host,
        core,
        addresses=addresses,
        announces=announces,
        announce_group=announce_group,
        session_params=session_params,
        event_buffer=event_buffer,
    )
    async with background_nursery() as nursery:
        try:
            await node.start(nursery)
            yield node
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(close_timeout):
                for session in list(node.sessions.values()):
                    await session.aclose()
                await node.wait_connections_closed()  # the SHUTDOWNs complete
            await node.close_sockets()
