"""A queue of received items that Trio tasks wait on, shared by the in-memory and the
userland SCTP sockets."""

from __future__ import annotations

from collections import deque

import trio


class Inbox:
    """A queue that Trio tasks wait on; reading is cancellation-safe (pop after wake-up)."""

    def __init__(self, burst: int = 1) -> None:
        """``burst``: items read in a row before a schedule point (a reader that finds its
        items waiting handles a batch without a trip through the scheduler each)."""
        self._burst = burst
        self._taken = 0
        self._items: deque[object] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        self.closed = False

    def put(self, item: object) -> None:
        if not self.closed:
            self._items.append(item)
            self._lot.unpark_all()

    def put_front(self, item: object) -> None:
        """Give back an item taken too early: it is the next one read."""
        if not self.closed:
            self._items.appendleft(item)
            self._lot.unpark_all()

    def close(self) -> None:
        self.closed = True
        self._lot.unpark_all()

    def __bool__(self) -> bool:
        return bool(self._items)

    async def get(self) -> object:
        while not self._items:
            if self.closed:
                raise trio.ClosedResourceError("socket was closed")
            await self._lot.park()
        if self.closed:
            raise trio.ClosedResourceError("socket was closed")
        await trio.lowlevel.checkpoint_if_cancelled()
        item = self._items.popleft()
        self._taken += 1
        if self._taken % self._burst == 0:
            await trio.lowlevel.cancel_shielded_checkpoint()
        return item
