"""RSPLIB's standard services on a pool element session: Echo, Discard, Daytime, CharGen,
PingPong (the sans-IO state is in :mod:`rserpool.apps.services`).

    async with open_pool_element(host, "EchoPool", handler=service_handler("echo")) as pe:
        ...
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import trio

from rserpool.apps.services import (
    CharGenService,
    Close,
    DaytimeService,
    DiscardService,
    EchoService,
    PingPongService,
    Reply,
    SendCookie,
    Service,
    ServiceOutput,
)
from rserpool.drivers.pool_element import PoolElementSession, SessionHandler
from rserpool.proto.client.session import CookieEchoReceived, DataReceived

#: Service name (rspserver's option) -> a new per-session service object.
SERVICES: dict[str, Callable[[], Service]] = {
    "echo": EchoService,
    "discard": DiscardService,
    "daytime": lambda: DaytimeService(datetime.datetime.now()),
    "chargen": CharGenService,
    "pingpong": PingPongService,
}

#: RSPLIB's default pool handle per service.
DEFAULT_POOL_HANDLES = {
    "echo": "EchoPool",
    "discard": "DiscardPool",
    "daytime": "DaytimePool",
    "chargen": "CharGenPool",
    "pingpong": "PingPongPool",
}


async def _perform(session: PoolElementSession, outputs: list[ServiceOutput]) -> bool:
    """Carry the service's outputs out; False once it closed the session."""
    for output in outputs:
        if isinstance(output, Reply):
            await session.send(output.data, output.ppid)
        elif isinstance(output, SendCookie):
            await session.send_cookie(output.cookie)
        elif isinstance(output, Close):
            await session.close(abort=output.abort)
            return False
    return True


async def serve_session(session: PoolElementSession, service: Service) -> None:
    """Run ``service`` on ``session`` until either side ends it."""
    if not await _perform(session, service.opened()):
        return
    if isinstance(service, CharGenService):
        async with trio.open_nursery() as nursery:  # send for as long as the session lasts
            nursery.start_soon(_drain, session)
            while not session.closed:
                await session.send(service.next_block().data)
            nursery.cancel_scope.cancel()
        return
    async for item in session:
        if isinstance(item, DataReceived):
            outputs = service.received(item.ppid, item.data)
        elif isinstance(item, CookieEchoReceived):
            outputs = service.cookie_echo(item.cookie)
        else:
            continue
        if not await _perform(session, outputs):
            return


async def _drain(session: PoolElementSession) -> None:
    async for _ in session:
        pass


def service_handler(name: str, factory: Callable[[], Service] | None = None) -> SessionHandler:
    """A session handler for ``open_pool_element(handler=...)`` running service ``name``."""
    make = factory or SERVICES[name]

    async def handler(session: PoolElementSession) -> None:
        await serve_session(session, make())

    return handler
