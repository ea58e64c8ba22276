"""A pool user's session as its application sees it (:class:`PoolUserSession`): sending
(held while failing over), receiving data and notices, forced failover, closing. The node
that runs it is :class:`rserpool.drivers.pool_user.PoolUserNode`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from rserpool.drivers._asap_client import SessionGone
from rserpool.drivers._support import Mailbox
from rserpool.proto.client.pool_user import SessionState
from rserpool.proto.client.session import (
    BusinessCardReceived,
    CookieReceived,
    DataReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionConnected,
)

if TYPE_CHECKING:
    from rserpool.drivers.pool_user import PoolUserNode

SessionItem = (
    DataReceived
    | CookieReceived
    | BusinessCardReceived
    | SessionConnected
    | FailoverNecessary
    | FailoverComplete
)
"""What :meth:`PoolUserSession.receive` returns: data from the PE, or a notice."""


class PoolUserSession:
    """A session to a pool (made by :meth:`PoolUserNode.session`)."""

    def __init__(self, node: PoolUserNode, number: int, pool_handle: bytes) -> None:
        self.node = node
        self.id = number
        self.pool_handle = pool_handle
        self.inbox: Mailbox[SessionItem] = Mailbox()
        self.failovers = 0  # FailoverComplete so far
        self.epoch = 0  # FailoverNecessary so far: which association data went to
        self.cookie: bytes | None = None  # the latest ASAP Cookie from a PE
        self.held = 0  # messages held now for the next PE (no PE yet, or failing over)
        self.released = 0  # held messages that went out since, in the order they were sent
        self.ppid = 0  # the PPID of the last message sent (what CSP reports, as RSPLIB)
        self._changed = trio.Event()

    def __repr__(self) -> str:
        return f"<PoolUserSession {self.id} {self.pool_handle!r} at PE {self.pe_id}>"

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _held_went_out(self) -> None:
        """(Re)connected: the core has sent what it held."""
        self.released += self.held
        self.held = 0

    def _deliver(self, item: SessionItem) -> None:
        self.inbox.put(item)
        self._notify()

    @property
    def state(self) -> SessionState | None:
        """RESOLVING, WAITING, CONNECTING, ESTABLISHED; None once closed."""
        return self.node.pu_core.session_state(self.id)

    @property
    def pe_id(self) -> int | None:
        """The PE the session is at (or connecting to)."""
        return self.node.pu_core.session_pe(self.id)

    async def wait_connected(self) -> None:
        """Until the session is established (at its first PE, or after a failover)."""
        while self.state is not SessionState.ESTABLISHED:
            if self.state is None:
                raise SessionGone(f"session {self.id} is closed")
            await self._changed.wait()

    async def send(self, data: bytes, ppid: int = 0) -> int | None:
        """Application data to the PE; held while failing over. Waits while too much is
        queued; ``SessionGone`` once the session is closed.

        Returns the :attr:`epoch` of the association it was handed to, or None if it was held
        for the next PE. After reading the *k*-th ``FailoverNecessary``, an application resends
        what it sent in epoch *k* - 1 and got no answer for (the failed PE took it along);
        what was held is delivered after the Cookie Echo anyway.

        What was held goes out, in order, when the session connects (``SessionConnected`` or
        ``FailoverComplete``): :attr:`released` counts those, :attr:`held` what still waits.
        The *n*-th message ``send`` returned None for has gone out once ``released >= n``.
        """
        while True:
            if self.state is None:
                raise SessionGone(f"session {self.id} is closed")
            direct = self.state is SessionState.ESTABLISHED
            epoch = self.epoch
            if self.node.pu_core.send(self.id, data, ppid):
                self.ppid = ppid
                if not direct:
                    self.held += 1
                break
            await self._changed.wait()  # the hold queue is full: wait for a connection
        await self.node.flush()
        conn = self.node.connections.get(self.node.session_connection.get(self.id, -1))
        if conn is not None:
            await conn.outbox.wait_below(self.node.OUTBOX_LIMIT)
        return epoch if direct else None

    async def receive(self) -> SessionItem:
        """The next message or notice; ``trio.EndOfChannel`` once the session is closed."""
        return await self.inbox.get()

    async def receive_data(self) -> DataReceived:
        """The next application message, skipping notices."""
        while True:
            item = await self.receive()
            if isinstance(item, DataReceived):
                return item

    async def force_failover(self, *, report_unreachable: bool = False) -> None:
        """Abort the association and fail over (RSPLIB ``rsp_forcefailover``)."""
        core = self.node.pu_core
        core.force_failover(self.id, self.node.now(), report_unreachable=report_unreachable)
        await self.node.flush()

    async def aclose(self) -> None:
        """Close the session (graceful SHUTDOWN if established)."""
        if self.state is not None:
            self.node.pu_core.close_session(self.id)
            await self.node.flush()
