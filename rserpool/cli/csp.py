"""``--csp-server`` and ``--csp-interval``: status reports to a Component Status Protocol monitor.

Every role (``registrar``, ``server``, ``terminal``, ``pingpong``) can tell a monitor such as
RSPLIB's ``cspmonitor`` how it is: a report at start, then one every interval, and a last one
when it ends cleanly (:mod:`rserpool.drivers.csp`). Reporting needs both a monitor and an
interval, as in RSPLIB; each comes from its option, or else from the environment variables
RSPLIB reads, ``CSP_SERVER`` and ``CSP_INTERVAL``:

    rserpool registrar --csp-server 198.51.100.9 --csp-interval 1000
    CSP_SERVER=198.51.100.9:2960 CSP_INTERVAL=1000 rserpool server --echo

RSPLIB's spellings ``-cspserver=ADDR:PORT`` and ``-cspinterval=MS`` work too, and for pool
elements and pool users ``-cspidentifier=ID``: the object part of the id the component reports
under (by default a PE reports its PE identifier, a PU a random 56-bit number). An interval
below RSPLIB's minimum of 250 ms is a usage error, from an option or from the environment.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TypeVar

import trio

from rserpool.cli.common import UsageError, integer
from rserpool.cli.options import parse_identifier, parse_ip, split_host_port
from rserpool.proto.csp import MAX_INTERVAL_MS, MIN_INTERVAL_MS, ReportFields, StatusReporter
from rserpool.wire.csp import CSP_PORT, ComponentGroup, component_id
from rserpool.wire.text import endpoint_text

ENV_SERVER = "CSP_SERVER"
ENV_INTERVAL = "CSP_INTERVAL"
#: RSPLIB spelling → our option, for every role; pool elements and users add the identifier.
RSPLIB_NAMES = {"cspserver": "--csp-server", "cspinterval": "--csp-interval"}
RSPLIB_CLIENT_NAMES = {**RSPLIB_NAMES, "cspidentifier": "--csp-identifier"}

Monitor = tuple[str, int]
T = TypeVar("T")


def parse_monitor(text: str) -> Monitor:
    """A monitor's UDP address: ``ADDR[:PORT]``, port 2960 unless given."""
    host, port = split_host_port(text, CSP_PORT, text, low=1)
    address = parse_ip(host, text)
    if address.is_unspecified or address.is_multicast:
        raise argparse.ArgumentTypeError(f"{text!r}: {address} is no address to report to")
    return str(address), CSP_PORT if port is None else port


parse_monitor.__name__ = "monitor address"
parse_interval = integer(MIN_INTERVAL_MS, MAX_INTERVAL_MS)


def add_csp_options(parser: argparse.ArgumentParser, *, identifier: bool) -> None:
    group = parser.add_argument_group(
        "status reports (Component Status Protocol)",
        "report to a monitor such as RSPLIB's cspmonitor; both a monitor and an interval are "
        f"needed, from the options or from {ENV_SERVER} and {ENV_INTERVAL}",
    )
    group.add_argument("--csp-server", type=parse_monitor, default=None, metavar="ADDR[:PORT]",
                       help=f"the monitor's UDP address (port {CSP_PORT} unless given; "
                       f"default: ${ENV_SERVER}, else no reports)")  # fmt: skip
    group.add_argument("--csp-interval", type=parse_interval, default=None, metavar="MS",
                       help=f"ms between two reports, at least {MIN_INTERVAL_MS} (default: "
                       f"${ENV_INTERVAL}, else no reports)")  # fmt: skip
    if identifier:
        group.add_argument("--csp-identifier", type=parse_identifier, default=None, metavar="ID",
                           help="the object part of the id reported under (default: a PE's "
                           "identifier, a random number for a PU)")  # fmt: skip


@dataclass(frozen=True, slots=True)
class CspSettings:
    monitor: Monitor
    interval_ms: int
    identifier: int | None = None  # the object part asked for (--csp-identifier)


def csp_settings(
    args: argparse.Namespace, environ: Mapping[str, str] = os.environ
) -> CspSettings | None:
    """What ``args`` and the environment say; None: no reporting. Raises :class:`UsageError`
    for a bad environment value."""
    monitor = getattr(args, "csp_server", None)
    interval = getattr(args, "csp_interval", None)
    if monitor is None and environ.get(ENV_SERVER):
        monitor = _from_env(ENV_SERVER, environ[ENV_SERVER], parse_monitor)
    if interval is None and environ.get(ENV_INTERVAL):
        interval = _from_env(ENV_INTERVAL, environ[ENV_INTERVAL], parse_interval)
    if monitor is None or interval is None:
        return None
    return CspSettings(monitor, interval, getattr(args, "csp_identifier", None))


def _from_env(name: str, value: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(value)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"environment variable {name}={value!r}: {exc}") from None


def check(args: argparse.Namespace) -> None:
    """Resolve the settings once, before anything starts (``args.csp``); a bad environment
    value is a usage error."""
    args.csp = csp_settings(args)


def reporter(
    settings: CspSettings | None,
    group: ComponentGroup,
    object_id: int | None,
    fields: Callable[[int], ReportFields],
) -> StatusReporter | None:
    """The reporter for a component of ``group`` (None when not reporting). ``object_id``:
    the registrar's or PE's identifier; None for a PU: 56 random bits, as RSPLIB's clients."""
    if settings is None:
        return None
    object_id = settings.identifier or object_id
    while not object_id:
        object_id = random.getrandbits(56)
    return StatusReporter(component_id(group, object_id), settings.interval_ms * 1000, fields)


def report(
    args: argparse.Namespace,
    group: ComponentGroup,
    object_id: int | None,
    fields: Callable[[int], ReportFields],
) -> AbstractAsyncContextManager[StatusReporter | None]:
    """``async with report(...)``: the component reports while the block runs (if asked)."""
    from rserpool.drivers.csp import reporting

    settings: CspSettings | None = getattr(args, "csp", None)
    made = reporter(settings, group, object_id, fields)
    return reporting(made, settings.monitor if settings else ("", 0))


async def report_until_cancelled(
    args: argparse.Namespace,
    group: ComponentGroup,
    object_id: int | None,
    fields: Callable[[int], ReportFields],
) -> None:
    """:func:`report` as a task of its own: the FINAL report goes out when it is cancelled."""
    async with report(args, group, object_id, fields):
        await trio.sleep_forever()


def told(settings: CspSettings | None) -> str | None:
    """The line saying where reports go, or None."""
    if settings is None:
        return None
    host, port = settings.monitor
    where = endpoint_text((ipaddress.ip_address(host),), port)
    return f"CSP: a status report to {where} every {settings.interval_ms} ms"
