"""Small Trio pieces the PE and PU drivers are built from: a nursery that outer cancellation
does not reach (so that a component can leave properly), and a never-blocking mailbox with
backpressure by waiting for room."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Generic, Protocol, TypeVar

import trio
from trio_typing import TaskStatus

T = TypeVar("T")


@asynccontextmanager
async def background_nursery() -> AsyncIterator[trio.Nursery]:
    """A nursery for a component's own tasks that an outer cancellation does not reach: when
    the caller's block is cancelled, the component still needs its receive tasks to leave
    properly (deregister, shut sessions down). The tasks end when the block is left; an
    exception in one of them propagates (and cancels the block)."""
    scope = trio.CancelScope(shield=True)

    async def hold(task_status: TaskStatus[trio.Nursery]) -> None:
        with scope:
            async with trio.open_nursery() as inner:
                task_status.started(inner)
                await trio.sleep_forever()

    async with trio.open_nursery() as outer:
        inner: trio.Nursery = await outer.start(hold)
        try:
            yield inner
        finally:
            scope.cancel()


class Throttle(Protocol):
    def __len__(self) -> int: ...

    async def wait_below(self, limit: int) -> None: ...


class Mailbox(Generic[T]):
    """An unbounded FIFO that never blocks the producer, with a way to wait for room.

    Producers (the flush under the lock) ``put`` without waiting; consumers ``get``; whoever
    wants backpressure waits with :meth:`wait_below` before producing more.
    """

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._closed = False
        self._changed = trio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def put(self, item: T) -> bool:
        if self._closed:
            return False
        self._items.append(item)
        self._notify()
        return True

    def close(self) -> None:
        """No more items; :meth:`get` raises ``trio.EndOfChannel`` once the rest was read."""
        self._closed = True
        self._notify()

    async def get(self) -> T:
        await trio.lowlevel.checkpoint()
        while True:
            if self._items:
                item = self._items.popleft()
                self._notify()
                return item
            if self._closed:
                raise trio.EndOfChannel
            await self._changed.wait()

    async def wait_below(self, limit: int) -> None:
        """Wait until fewer than ``limit`` items are queued (or the mailbox is closed)."""
        await trio.lowlevel.checkpoint()
        while len(self._items) >= limit and not self._closed:
            await self._changed.wait()
