"""Small helpers shared by the transport tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from rserpool.transport import Received, SctpMessage

T = TypeVar("T")


async def wait_for(
    receive: Callable[[], Awaitable[Received]], kind: type[T], skipped: list[Received] | None = None
) -> T:
    """Receive until an item of ``kind``; everything before it goes to ``skipped``."""
    while True:
        item = await receive()
        if isinstance(item, kind):
            return item
        if skipped is not None:
            skipped.append(item)


async def messages(receive: Callable[[], Awaitable[Received]], count: int) -> list[SctpMessage]:
    """The next ``count`` messages, skipping events."""
    found: list[SctpMessage] = []
    while len(found) < count:
        item = await receive()
        if isinstance(item, SctpMessage):
            found.append(item)
    return found
