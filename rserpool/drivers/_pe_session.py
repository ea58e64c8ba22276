"""A pool element's session as its application sees it (:class:`PoolElementSession`); the
node that runs it is :class:`rserpool.drivers.pool_element.PoolElementNode`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import trio

from rserpool.drivers._session_io import SessionGone
from rserpool.drivers._support import Mailbox
from rserpool.proto.client.session import (
    BusinessCardReceived,
    CookieEchoReceived,
    DataReceived,
)
from rserpool.proto.common import TransportAddress
from rserpool.wire import BusinessCard

if TYPE_CHECKING:
    from rserpool.drivers.pool_element import PoolElementNode

SessionItem = DataReceived | CookieEchoReceived | BusinessCardReceived
"""What :meth:`PoolElementSession.receive` returns: application data (any PPID but 11), the
Cookie Echo of a PU that failed over to us, or a PU's Business Card."""


class PoolElementSession:
    """One session: a PU's association with our user transport."""

    def __init__(self, node: PoolElementNode, number: int, peer: TransportAddress | None) -> None:
        self.node = node
        self.id = number
        self.peer = peer
        self.inbox: Mailbox[SessionItem] = Mailbox()

    def __repr__(self) -> str:
        return f"<PoolElementSession {self.id} from {self.peer}>"

    @property
    def closed(self) -> bool:
        return self.id not in self.node.pe_core.sessions

    async def receive(self) -> SessionItem:
        """The next message; ``trio.EndOfChannel`` once the session ended and all was read."""
        return await self.inbox.get()

    def __aiter__(self) -> AsyncIterator[SessionItem]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[SessionItem]:
        while True:
            try:
                yield await self.receive()
            except trio.EndOfChannel:
                return

    async def _sent(self, ok: bool) -> None:
        if not ok:
            raise SessionGone(f"session {self.id} is closed")
        await self.node.flush()
        conn = self.node.connections.get(self.id)
        if conn is not None:
            await conn.outbox.wait_below(self.node.OUTBOX_LIMIT)

    async def send(self, data: bytes, ppid: int = 0) -> None:
        """Application data to the PU (waits while too much is queued; ``SessionGone``)."""
        await self._sent(self.node.pe_core.send(self.id, data, ppid))

    async def send_cookie(self, cookie: bytes) -> None:
        """An ASAP Cookie: the PU echoes the latest one to the PE it fails over to."""
        await self._sent(self.node.pe_core.send_cookie(self.id, cookie))

    async def send_business_card(self, card: BusinessCard) -> None:
        await self._sent(self.node.pe_core.send_business_card(self.id, card))

    async def close(self, *, abort: bool = False) -> None:
        """End the session: SHUTDOWN after what is queued, or ABORT."""
        self.node.pe_core.close_session(self.id, abort=abort)
        await self.node.flush()
