"""A small HTTP/1.1 client over Trio sockets (h11, which the server side brings along):
enough to GET a page and to read server-sent events as a browser's EventSource does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
import trio


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


async def _open(url: str, method: str) -> tuple[trio.SocketStream, h11.Connection]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    connection = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method=method,
        target=parts.path or "/",
        headers=[("host", parts.netloc), ("accept", "*/*"), ("connection", "close")],
    )
    await stream.send_all(connection.send(request) + connection.send(h11.EndOfMessage()))
    return stream, connection


async def _next(stream: trio.SocketStream, connection: h11.Connection) -> object:
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await stream.receive_some(65536))
            continue
        return event


def _headers(response: h11.Response) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in response.headers}


async def request(url: str, method: str = "GET") -> Response:
    """One request; the whole response."""
    stream, connection = await _open(url, method)
    async with stream:
        response = await _next(stream, connection)
        assert isinstance(response, h11.Response), response
        body = b""
        while True:
            event = await _next(stream, connection)
            if isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return Response(response.status_code, _headers(response), body)


@dataclass
class EventStream:
    """``text/event-stream`` read block by block (a block ends with an empty line)."""

    stream: trio.SocketStream
    connection: h11.Connection
    headers: dict[str, str]
    buffer: bytes = b""

    async def block(self) -> str:
        """The next block: ``id: ...\\ndata: ...`` or a ``: comment``."""
        while b"\n\n" not in self.buffer:
            event = await _next(self.stream, self.connection)
            assert isinstance(event, h11.Data), f"the event stream ended: {event}"
            self.buffer += event.data
        block, self.buffer = self.buffer.split(b"\n\n", 1)
        return block.decode()


@asynccontextmanager
async def events(url: str) -> AsyncIterator[EventStream]:
    stream, connection = await _open(url, "GET")
    async with stream:
        response = await _next(stream, connection)
        assert isinstance(response, h11.Response), response
        assert response.status_code == 200
        yield EventStream(stream, connection, _headers(response))
