"""The session side of the PE and PU drivers: one one-to-one SCTP association per session.

Each :class:`Connection` has a receive task and a send task fed in order from an outbox, so
that a slow peer never blocks the core or another session. :class:`SessionConnections` is the
part of :class:`~rserpool.drivers._asap_client.AsapClientDriver` that runs them and carries
out the core's session actions (:class:`SessionSend`, :class:`CloseSession`,
:class:`ConnectSession`); the PE and PU drivers fill in the hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field

import trio

from rserpool.drivers._support import Mailbox, Throttle
from rserpool.proto.client.hunt_types import EndpointAction
from rserpool.proto.client.session import CloseSession, ConnectSession, SessionSend
from rserpool.proto.common import TransportAddress
from rserpool.transport import (
    ENDING_EVENTS,
    CannotConnect,
    Restart,
    SctpAssociation,
    SctpMessage,
    TransportError,
)

GONE = (TransportError, trio.BrokenResourceError, trio.ClosedResourceError, OSError)
"""What a send or receive on an association that is gone may raise."""


class SessionGone(TransportError, trio.BrokenResourceError):
    """The session is closed (by either side) and cannot carry data any more."""


@dataclass(eq=False)
class Connection:
    """One session association and its tasks' state (the core's ``connection`` number)."""

    number: int
    assoc: SctpAssociation | None = None
    outbox: Mailbox[SessionSend | CloseSession] = field(default_factory=Mailbox)
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    abort: bool = False  # ABORT (not SHUTDOWN) when the connection is torn down
    peer: TransportAddress | None = None


class SessionConnections:
    """The session connections of a driver (see the module docstring)."""

    #: session messages queued for sending before a sender waits (backpressure)
    OUTBOX_LIMIT = 64

    log: logging.Logger
    connections: dict[int, Connection]
    _connections_changed: trio.Event

    async def flush(self) -> None:
        """Dispatch the core's events and perform its actions (the driver)."""
        raise NotImplementedError

    def guarded(self, call: Callable[..., None], *args: object) -> None:
        """Run a core method, logging an exception (the driver)."""
        raise NotImplementedError

    async def wait_connections_closed(self) -> None:
        """Until every session connection has ended."""
        while self.connections:
            await self._connections_changed.wait()

    async def perform_session(self, action: EndpointAction) -> None:
        """Carry out a session action of the core."""
        if isinstance(action, ConnectSession):
            self.connect_session(action)
            return
        assert isinstance(action, SessionSend | CloseSession)
        conn = self.connections.get(action.connection)
        if isinstance(action, SessionSend):
            if conn is None or not conn.outbox.put(action):
                self.log.debug("dropped %s: no such session connection", action)
        elif conn is not None:
            if action.abort:
                conn.abort = True
                conn.outbox.close()
                conn.scope.cancel()
            else:
                conn.outbox.put(action)
                conn.outbox.close()

    def connect_session(self, action: ConnectSession) -> None:
        """PU only: set up a session association (subclasses)."""
        self.log.warning("unexpected %s", action)

    def session_input(self, conn: Connection, item: SctpMessage) -> None:
        """One message on a session association (subclasses feed their core)."""

    def session_ended(self, conn: Connection) -> None:
        """The session association is gone (subclasses tell their core)."""

    def inbox_room(self, conn: Connection) -> Throttle | None:
        """The mailbox whose length throttles reading from ``conn`` (subclasses)."""
        return None

    def session_connected(self, conn: Connection) -> None:
        """PU only: the association of ``conn`` is up (subclasses tell their core)."""

    def session_connect_failed(self, conn: Connection) -> None:
        """PU only: the association of ``conn`` could not be set up."""

    async def run_connection(
        self, conn: Connection, connect: Callable[[], Awaitable[SctpAssociation]] | None = None
    ) -> None:
        """Set the association up with ``connect`` if ``conn`` has none yet, then receive and
        send on it until it ends; tell the core how it went."""
        try:
            with conn.scope:
                if conn.assoc is None:
                    assert connect is not None
                    try:
                        conn.assoc = await connect()
                    except (CannotConnect, *GONE) as exc:
                        self.log.debug("session connection %d: %s", conn.number, exc)
                        self.guarded(self.session_connect_failed, conn)
                        return
                    self.guarded(self.session_connected, conn)
                    await self.flush()
                assoc = conn.assoc
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._send_loop, conn, assoc)
                    await self._receive_loop(conn, assoc)
                    nursery.cancel_scope.cancel()
        finally:
            self.connections.pop(conn.number, None)
            self._connections_changed.set()
            self._connections_changed = trio.Event()
            conn.outbox.close()
            if conn.assoc is not None:
                with trio.CancelScope(shield=True), suppress(*GONE):
                    if conn.abort:
                        await conn.assoc.abort()
                    else:
                        await conn.assoc.aclose()
                self.guarded(self.session_ended, conn)
            with trio.CancelScope(shield=True):
                await self.flush()

    async def _receive_loop(self, conn: Connection, assoc: SctpAssociation) -> None:
        while True:
            inbox = self.inbox_room(conn)
            # only when full: receive() checkpoints anyway (saves a scheduler round per message)
            if inbox is not None and len(inbox) >= self.OUTBOX_LIMIT:
                await inbox.wait_below(self.OUTBOX_LIMIT)
            try:
                item = await assoc.receive()
            except (trio.EndOfChannel, *GONE):
                return
            if isinstance(item, SctpMessage):
                self.guarded(self.session_input, conn, item)
                await self.flush()
            elif isinstance(item, (*ENDING_EVENTS, Restart)):
                conn.abort = conn.abort or not isinstance(item, ENDING_EVENTS)
                return

    async def _send_loop(self, conn: Connection, assoc: SctpAssociation) -> None:
        while True:
            try:
                item = await conn.outbox.get()
            except trio.EndOfChannel:
                return
            try:
                if isinstance(item, CloseSession):
                    await assoc.shutdown()  # graceful: the receive loop sees it complete
                    return
                await assoc.send(item.data, item.ppid)
            except GONE as exc:
                self.log.debug("session connection %d: %s", conn.number, exc)
                conn.scope.cancel()
                return
