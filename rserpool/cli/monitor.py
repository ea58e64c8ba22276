"""``rserpool monitor``: watch a running RSerPool system, as RSPLIB's ``cspmonitor`` does.

Registrars, pool elements and pool users started with a monitor's address send it a Component
Status Protocol report (:mod:`rserpool.wire.csp`) every report interval over UDP, port 2960.
The monitor lists them live, grouped by role, and forgets a component after a FINAL report or
after ``min(--purge-interval, 10 x its report interval)`` of silence::

    rserpool monitor                              # a live table on the terminal
    rserpool monitor --full --local 198.51.100.1  # every association under its component
    rserpool monitor --json | jq .                # one JSON object per event, for scripts
    cspmonitor -localaddress=0.0.0.0:2960 -full   # RSPLIB's spellings work too

On a terminal the table is redrawn every update interval and at once on a change; written to a
pipe or a file, it becomes plain text snapshots every update interval. ``--json`` prints one
line per report, removal, purge or undecodable datagram instead::

    {"event": "report", "time": 1767225600.123, "component": {...}}

``component`` is :meth:`rserpool.monitor.model.Component.as_json`; ``event`` is ``report``,
``removed`` (a FINAL report), ``purged`` (silent too long) or ``undecodable`` (then
``error`` and ``undecodable``, the count, instead of ``component``). What the monitor tells
besides its display (the address it listens on, a signal) goes to standard error.

``--web HOST:PORT`` serves the table as a web page instead (``rserpool.monitor.web.serve(args,
table)``, given the table this command's receiver keeps); ``--registrar ADDR:PORT`` names the
registrars whose handlespace the page shows, read over the SCTP that ``--transport`` and
``--udp-port`` choose, as for ``rserpool hsdump`` (:mod:`rserpool.cli.transport`). Only the page
shows handlespaces: ``--registrar`` without ``--web`` is a usage error.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import trio

from rserpool.cli import common
from rserpool.cli.common import CommandError, UsageError, add_logging_options, integer, number
from rserpool.cli.hsdump import parse_registrar
from rserpool.cli.options import parse_ip, split_host_port, translate_rsplib
from rserpool.cli.transport import add_transport_options
from rserpool.monitor.model import ComponentTable
from rserpool.monitor.receiver import (
    MonitorEvent,
    Sink,
    bound_name,
    open_csp_socket,
    receive_reports,
)
from rserpool.monitor.terminal import TerminalDisplay, View
from rserpool.proto.common import IPAddress
from rserpool.wire.csp import CSP_PORT
from rserpool.wire.text import endpoint_text

#: cspmonitor's option names → ours (``-full`` and ``-compact`` are flags).
RSPLIB_NAMES = {
    "localaddress": "--local",
    "updateinterval": "--update-interval",
    "purgeinterval": "--purge-interval",
    "maxpr": "--max-pr",
    "maxpe": "--max-pe",
    "maxpu": "--max-pu",
    "maxlocationsize": "--max-location-size",
}
RSPLIB_FLAGS = {"full": "--full", "compact": "--compact"}
#: The JSON ``event`` of each change (:class:`rserpool.monitor.receiver.MonitorEvent` kinds).
JSON_EVENTS = {"added": "report", "updated": "report", "removed": "removed", "purged": "purged"}
MIN_UPDATE_INTERVAL = 100  # ms, as cspmonitor
MIN_PURGE_INTERVAL = 1000  # ms, as cspmonitor
MAX_INTERVAL = 86_400_000  # ms: one day


def translate(argv: list[str]) -> tuple[list[str], list[str]]:
    return translate_rsplib(argv, RSPLIB_NAMES, RSPLIB_FLAGS)


def parse_local(text: str) -> tuple[IPAddress, int]:
    """``ADDR[:PORT]`` (IPv6 in brackets when a port follows); port 2960 unless given, 0 lets
    the kernel choose. ``0.0.0.0`` is every IPv4 address, ``::`` every address."""
    host, port = split_host_port(text, CSP_PORT)
    address = parse_ip(host, text)
    if address.is_multicast or str(address) == "255.255.255.255":
        raise argparse.ArgumentTypeError(f"{text!r}: the monitor listens on a unicast address")
    return address, CSP_PORT if port is None else port


def parse_web(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of the web page (``[::1]:8080`` for IPv6)."""
    host, port = split_host_port(text, None)
    if port is None or not host:
        raise argparse.ArgumentTypeError(f"give HOST:PORT, not {text!r}")
    return host.strip("[]"), port


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "monitor",
        help="watch registrars, PEs and PUs through their CSP status reports",
        description=(
            "Receive Component Status Protocol reports (UDP, port 2960; RSPLIB components "
            "send them when started with -cspserver=ADDR:2960 -cspinterval=MS) and list every "
            "registrar, pool element and pool user live: uptime, when last heard, load, "
            "associations, status. A component is forgotten after a FINAL report or after "
            "min(--purge-interval, 10 x its report interval) of silence. RSPLIB's cspmonitor "
            "spellings (-localaddress=, -full, -updateinterval= ...) are accepted."
        ),
    )
    p.add_argument("--local", type=parse_local, default=parse_local("0.0.0.0"),
                   metavar="ADDR[:PORT]",
                   help="where to receive the reports (default 0.0.0.0:2960; [::]:2960 "
                        "receives IPv6 and IPv4; port 0: any free port)")  # fmt: skip
    p.add_argument("--full", dest="full", action="store_const", const=True, default=False,
                   help="list every association under its component")  # fmt: skip
    p.add_argument("--compact", dest="full", action="store_const", const=False,
                   help="one line per component (the default; the last of the two "
                        "counts)")  # fmt: skip
    p.add_argument("--update-interval", type=number(int, MIN_UPDATE_INTERVAL, MAX_INTERVAL),
                   default=1000, metavar="MS",
                   help="redraw the display every MS milliseconds")  # fmt: skip
    p.add_argument("--purge-interval", type=number(int, MIN_PURGE_INTERVAL, MAX_INTERVAL),
                   default=30000, metavar="MS",
                   help="forget a component after this many milliseconds of silence, or after "
                        "10 of its report intervals if that is sooner")  # fmt: skip
    defaults = View()
    for role, name, default in (("PR", "registrars", defaults.max_pr),
                                ("PE", "pool elements", defaults.max_pe),
                                ("PU", "pool users", defaults.max_pu)):  # fmt: skip
        p.add_argument(f"--max-{role.lower()}", type=integer(0), default=default, metavar="N",
                       help=f"show at most N {name}; the rest are counted")  # fmt: skip
    p.add_argument("--max-location-size", type=integer(3), default=defaults.max_location_size,
                   metavar="N", help="cut locations to N characters")  # fmt: skip
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per line for each report, removal, purge and "
                        "undecodable datagram, instead of the table")  # fmt: skip
    p.add_argument("--web", type=parse_web, default=None, metavar="HOST:PORT",
                   help="serve the component table as a web page at HOST:PORT")  # fmt: skip
    p.add_argument("--registrar", dest="registrars", type=parse_registrar, action="append",
                   default=[], metavar="ADDR[:PORT]",
                   help="a registrar whose handlespace the web page shows (ENRP port 9901 "
                        "unless given; repeat for more; only with --web), read over "
                        "--transport")  # fmt: skip
    add_transport_options(p)
    add_logging_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return common.run(args, main)


def _check(args: argparse.Namespace) -> None:
    if args.registrars and args.web is None:
        raise UsageError(
            f"argument {common.spelled('--registrar')}: needs --web (the web page shows the "
            "handlespace)"
        )
    if args.udp_port is not None and not args.registrars:
        raise UsageError("argument --udp-port: only with --registrar (the handlespace reads)")


def _web_server() -> Callable[[argparse.Namespace, ComponentTable], Awaitable[Any]]:
    """``rserpool.monitor.web.serve``, or a one-line failure where it is not installed."""
    try:
        module = importlib.import_module("rserpool.monitor.web")
        serve: Callable[[argparse.Namespace, ComponentTable], Awaitable[Any]] = module.serve
    except (ImportError, AttributeError):
        raise CommandError(
            "--web: this installation has no web page (rserpool.monitor.web)"
        ) from None
    return serve


def _tell_on_stderr() -> None:
    """Standard output is the display (or JSON): what the command tells goes to stderr."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def json_sink(table: ComponentTable) -> Sink:
    """Print each event as one JSON line (flushed at once, for a script at the other end)."""

    def sink(event: MonitorEvent) -> None:
        line: dict[str, Any] = {"event": JSON_EVENTS.get(event.kind, event.kind),
                                "time": round(time.time(), 3)}  # fmt: skip
        if event.component is None:
            line.update(error=event.error, undecodable=table.undecodable)
        else:
            line["component"] = event.component.as_json(event.now)
        print(json.dumps(line), flush=True)

    return sink


async def main(args: argparse.Namespace) -> NoReturn:
    """Listen on ``args.local`` and show what arrives until interrupted (``common.run``
    turns SIGINT and SIGTERM into exit status 0)."""
    _check(args)
    _tell_on_stderr()
    serve = _web_server() if args.web is not None else None
    address, port = args.local
    try:
        sock = await open_csp_socket(address, port)
    except OSError as exc:
        where = endpoint_text((address,), port)
        reason = "address in use" if exc.errno == errno.EADDRINUSE else common.describe_failure(exc)
        raise CommandError(f"cannot listen on {where}: {reason}") from None
    table = ComponentTable(purge_interval=args.purge_interval / 1000)
    header = (
        f"rserpool monitor: listening for CSP reports on {bound_name(sock)} (UDP); components "
        f"report here when started with -cspserver=ADDR:{sock.getsockname()[1]}"
    )
    with sock:
        async with trio.open_nursery() as nursery:
            sink: Sink
            if args.json or serve is not None:
                print(header, file=sys.stderr, flush=True)
                sink = json_sink(table) if args.json else _ignore
            else:
                view = View(
                    full=args.full,
                    max_pr=args.max_pr,
                    max_pe=args.max_pe,
                    max_pu=args.max_pu,
                    max_location_size=args.max_location_size,
                )
                display = TerminalDisplay(table, view, header, args.update_interval / 1000)
                sink = display.sink
                nursery.start_soon(display.run)
            if serve is not None:
                nursery.start_soon(serve, args, table)
            await receive_reports(sock, table, sink)


def _ignore(event: MonitorEvent) -> None:
    """The sink when only the web page shows the table."""
