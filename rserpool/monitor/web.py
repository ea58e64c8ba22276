"""``rserpool monitor --web HOST:PORT``: a live web page that draws the running system.

:func:`serve_page` runs an HTTP server (Hypercorn on Trio) with three routes (:func:`serve`
is the same for the command's options):

``/``
    The page (``static/index.html``: HTML, inline JavaScript and SVG, nothing loaded from
    elsewhere, so it works without Internet access). It draws the registrars in a row, the
    ENRP peerings between them, each pool as a box holding its pool elements, a line from
    every PE to its home registrar, and every pool user with a line to the PE it is bound to;
    beside it, every reporting component with its status text and when it was last heard.
``/state.json``
    The current snapshot (:func:`rserpool.monitor.web_graph.build_snapshot`).
``/events``
    Server-sent events (``text/event-stream``): the snapshot at once, then a new one whenever
    the component table or a handlespace changed (checked every :data:`CHECK_INTERVAL`), and
    a keep-alive comment every :data:`KEEP_ALIVE` seconds otherwise. The page redraws from
    them without reloading; a browser's ``EventSource`` reconnects by itself.

The table is filled by whoever receives the CSP datagrams (``rserpool monitor``'s receiver);
the server only reads it. With ``registrars`` it also reads those registrars' handlespaces over
ENRP (:mod:`rserpool.monitor.web_poll`), which is where pool handles come from.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from functools import partial
from importlib import resources
from typing import Any

import trio
from trio_typing import TaskStatus

from rserpool.monitor.model import ComponentTable
from rserpool.monitor.web_graph import build_snapshot
from rserpool.monitor.web_poll import POLL_INTERVAL, HandlespacePoller, RegistrarEndpoint
from rserpool.transport import Host

CHECK_INTERVAL = 0.15  # seconds between two looks at the revisions
KEEP_ALIVE = 15.0  # seconds of quiet after which /events sends a comment line

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("rserpool.monitor.web")


def page() -> bytes:
    """The page itself, as shipped in the package."""
    return resources.files("rserpool.monitor").joinpath("static/index.html").read_bytes()


class MonitorApp:
    """The ASGI application: the page, the snapshot, and the stream of snapshots.

    ``clock`` is the clock the table's times are on (the receiver's ``trio.current_time``)."""

    def __init__(
        self,
        table: ComponentTable,
        poller: HandlespacePoller | None = None,
        *,
        clock: Callable[[], float] = trio.current_time,
        check_interval: float = CHECK_INTERVAL,
        keep_alive: float = KEEP_ALIVE,
    ) -> None:
        self.table = table
        self.poller = poller
        self.clock = clock
        self.check_interval = check_interval
        self.keep_alive = keep_alive
        self._page = page()

    def revision(self) -> str:
        """Changes whenever the picture may have changed: ``table.poller``."""
        return f"{self.table.revision}.{0 if self.poller is None else self.poller.revision}"

    def snapshot(self) -> dict[str, Any]:
        poller = self.poller
        return build_snapshot(
            self.table,
            self.clock(),
            () if poller is None else poller.polls.values(),
            ignore=() if poller is None else poller.own_ids,
            revision=self.revision(),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no WebSockets here
        path, method = scope["path"], scope["method"]
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"only GET\n", "text/plain", [(b"allow", b"GET, HEAD")])
        elif path in ("/", "/index.html"):
            await _respond(send, 200, self._page, "text/html; charset=utf-8", head=method)
        elif path == "/state.json":
            body = json.dumps(self.snapshot()).encode()
            await _respond(send, 200, body, "application/json", head=method)
        elif path == "/events":
            await self._events(receive, send)
        else:
            await _respond(send, 404, b"not found\n", "text/plain")

    async def _events(self, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_until_disconnect, receive, nursery.cancel_scope)
            await self._stream(send)

    async def _stream(self, send: Send) -> None:
        """One ``data:`` event per new revision, a comment line after each quiet spell."""
        sent, quiet = None, 0.0
        while True:
            revision = self.revision()
            if revision != sent:
                data = json.dumps(self.snapshot())
                body = f"id: {revision}\ndata: {data}\n\n".encode()
                sent, quiet = revision, 0.0
            elif quiet >= self.keep_alive:
                body, quiet = b": keep-alive\n\n", 0.0
            else:
                body = b""
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await trio.sleep(self.check_interval)
            quiet += self.check_interval


async def _until_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: Sequence[tuple[bytes, bytes]] = (),
    *,
    head: str = "GET",
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-cache"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head == "HEAD" else body})


class _QuietStart(logging.Filter):
    """Hypercorn says "Running on ... (CTRL + C to quit)"; the command says the URL itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Running on")


def url_of(host: str, port: int) -> str:
    """``http://HOST:PORT/`` with an IPv6 address in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


async def serve(
    args: argparse.Namespace,
    table: ComponentTable,
    *,
    task_status: TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """``rserpool monitor --web HOST:PORT [--registrar ADDR[:PORT]]...``: :func:`serve_page`
    for the command's table, as its options say.

    ``args.web`` is ``(host, port)``, ``args.registrars`` the ENRP endpoints (``(addresses,
    port)``); ``args.transport`` and ``args.udp_port``, where the command has them, choose the
    SCTP the handlespaces are read over. Tells the page's URL on standard error; an address
    that cannot be bound is one line (:class:`rserpool.cli.common.CommandError`)."""
    from rserpool.cli.common import CommandError, describe_failure

    host, port = args.web
    registrars: list[RegistrarEndpoint] = list(getattr(args, "registrars", None) or ())
    sctp_host = _sctp_host(args, registrars) if registrars else None
    failure: OSError | None = None
    async with trio.open_nursery() as nursery:
        try:
            url = await nursery.start(
                partial(serve_page, sctp_host=sctp_host), table, host, port, registrars
            )
        except OSError as exc:
            failure = exc
        else:
            print(f"rserpool monitor: the web page is at {url}", file=sys.stderr, flush=True)
            task_status.started(url)
    if failure is not None:
        where = url_of(host, port).removeprefix("http://").rstrip("/")
        raise CommandError(f"--web {where}: {describe_failure(failure)}")


async def serve_page(
    table: ComponentTable,
    host: str,
    port: int,
    registrars: Sequence[RegistrarEndpoint] = (),
    *,
    sctp_host: Host | None = None,
    poll_interval: float = POLL_INTERVAL,
    task_status: TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the monitor's page for ``table`` on ``host``:``port`` until cancelled.

    ``registrars``: ENRP endpoints (``(addresses, port)``, as
    :func:`rserpool.monitor.web_poll.parse_endpoint` returns them) whose handlespaces are read
    every ``poll_interval`` seconds over ``sctp_host`` (without one, a client host chosen as
    ``rserpool hsdump`` chooses it by default). ``port`` 0 takes a free port.

    Reports ``task_status.started(url)`` once the server listens, with the port it got, e.g.
    ``http://127.0.0.1:8080/``. Raises :class:`OSError` when the address cannot be bound.
    """
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    poller = None
    if registrars:
        if sctp_host is None:
            sctp_host = _sctp_host(argparse.Namespace(), registrars)
        poller = HandlespacePoller(sctp_host, registrars, interval=poll_interval)
    app = MonitorApp(table, poller)
    config = Config()
    config.bind = [f"fd://{_listening_socket(host, port).detach()}"]
    http_log = logging.getLogger("rserpool.monitor.http")
    if not any(isinstance(f, _QuietStart) for f in http_log.filters):
        http_log.addFilter(_QuietStart())
    config.errorlog = http_log
    config.accesslog = None
    config.graceful_timeout = 0.5  # /events never ends by itself
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(hypercorn_serve, app, config)
        bound = binds[0].removeprefix("http://")
        where, _, got = bound.rpartition(":")
        url = url_of(where.strip("[]"), int(got))
        if poller is not None:
            nursery.start_soon(poller.run)
        task_status.started(url)


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bound here rather than by Hypercorn, so that a taken port is a clean :class:`OSError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _sctp_host(args: argparse.Namespace, registrars: Sequence[RegistrarEndpoint]) -> Host:
    """The client host the handlespaces are read over: ``--transport`` (default auto)."""
    from rserpool.cli.transport import make_host

    choice = argparse.Namespace(
        transport=getattr(args, "transport", "auto"), udp_port=getattr(args, "udp_port", None)
    )
    toward = [str(a) for a in registrars[0][0]]
    host, line = make_host(choice, [], role="client", toward=toward)
    log.info("handlespace reads: %s", line)
    return host
