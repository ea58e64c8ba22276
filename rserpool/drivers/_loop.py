"""The loop shape every driver of a sans-IO core shares, after each input:

1. drain the core's **events** and hand each to ``on_event`` (log it, count it, publish it);
2. drain its **actions** and ``await perform(action)`` each, in order (or, where the driver
   offers ``perform_now``, carry it out without a coroutine when that is possible);
3. repeat until both are empty (performing an action may feed the core again), then
4. tell the :class:`~rserpool.drivers._clock.CoreClock` the core's next deadline.

One lock per core keeps flushes from interleaving; it is taken without a checkpoint when nobody
else holds it. :class:`EventStream` is the bounded public channel of a driver's events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from rserpool.drivers._clock import CoreClock
from rserpool.proto.common import Core, Event

A = TypeVar("A")


async def flush(
    core: Core[A],
    lock: trio.Lock,
    clock: CoreClock,
    on_event: Callable[[Event], None],
    perform: Callable[[A], Awaitable[None]],
    perform_now: Callable[[A], bool] | None = None,
) -> None:
    """Events to ``on_event``, actions to ``perform``, until both are drained; re-arm ``clock``.

    ``perform_now(action)``, if given, tries first: True when it carried the action out
    without awaiting anything (else ``perform`` does, as usual)."""
    try:
        lock.acquire_nowait()  # no checkpoint when nobody else is flushing
    except trio.WouldBlock:
        await lock.acquire()
    try:
        while True:
            for event in core.events():
                on_event(event)
            actions = core.outgoing()
            if not actions:
                break
            for action in actions:
                if perform_now is None or not perform_now(action):  # saves a coroutine
                    await perform(action)
    finally:
        lock.release()
    clock.deadline_changed(core.next_deadline())


class EventStream:
    """A bounded memory channel of a core's events that never blocks the driver.

    The channel is opened when :attr:`events` is first read: until someone listens, publishing
    costs one attribute test. Events that find the buffer full are counted in ``dropped``.
    """

    def __init__(self, buffer: int = 256) -> None:
        self.buffer = buffer
        self.dropped = 0
        self._send: trio.MemorySendChannel[Event] | None = None
        self._receive: trio.MemoryReceiveChannel[Event] | None = None

    @property
    def events(self) -> trio.MemoryReceiveChannel[Event]:
        if self._receive is None:
            self._send, self._receive = trio.open_memory_channel[Event](self.buffer)
        return self._receive

    def publish(self, event: Event) -> None:
        send = self._send
        if send is None:
            return
        try:
            send.send_nowait(event)
        except trio.WouldBlock:
            self.dropped += 1
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
