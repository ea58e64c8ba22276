"""The time side of driving a sans-IO core: milliseconds that never go back, and the task that
runs the core's timers when its next deadline comes.

    clock = CoreClock()
    nursery.start_soon(clock.run, core, timers_due)   # awaits timers_due(now) when due
    ...
    core.receive(..., clock.now())                    # every input carries clock.now()
    clock.deadline_changed(core.next_deadline())      # after every flush
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import NoReturn, Protocol

import trio


class TimedCore(Protocol):
    def next_deadline(self) -> int | None: ...


class CoreClock:
    """Trio's clock in integer milliseconds (the cores' unit), never decreasing."""

    def __init__(self) -> None:
        self._last = -1
        self._armed: int | None = None
        self._wake = trio.Event()

    def now(self) -> int:
        now = max(self._last, int(trio.current_time() * 1000))
        self._last = now
        return now

    def deadline_changed(self, deadline: int | None) -> None:
        """Re-arm the timer task if the core's next deadline is not the one it sleeps for."""
        if deadline != self._armed:
            self._wake.set()

    async def run(self, core: TimedCore, timers_due: Callable[[int], Awaitable[None]]) -> NoReturn:
        """Sleep until the core's next deadline (or a re-arm), then ``await timers_due(now)``."""
        while True:
            deadline = core.next_deadline()
            self._armed = deadline
            self._wake = trio.Event()
            when = math.inf if deadline is None else deadline / 1000
            with trio.move_on_at(when) as scope:
                await self._wake.wait()
            if scope.cancelled_caught and deadline is not None:
                # trio's float clock may land a hair before the deadline in milliseconds
                self._last = max(self._last, deadline)
            now = self.now()
            due = core.next_deadline()
            if due is not None and due <= now:
                await timers_due(now)
