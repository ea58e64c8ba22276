"""Component Status Protocol reports on Trio: a component tells a monitor how it is.

    reporter = StatusReporter(component_id(2, pe.pe_id), 1_000_000, pool_element_fields(pe))
    async with reporting(reporter, ("198.51.100.9", 2960)):
        ...                                   # the component runs; reports go out meanwhile

:func:`reporting` runs the :class:`~rserpool.proto.csp.StatusReporter` (sans-IO) on a plain
UDP socket: a report at once, then one every interval, and the FINAL report when the block
ends cleanly (normally, or cancelled as by SIGINT/SIGTERM); a block that fails sends none, so
the monitor purges the component once it falls silent. A report that cannot be sent (ICMP port
unreachable from an earlier one, no route) is dropped quietly, as RSPLIB drops it: a monitor
that is away never troubles the component.

The fields of each role's reports, following RSPLIB 3.4.4 (``rspregistrar-global.c``,
``rspenhancedmode.c``):

* :func:`registrar_fields`: ``"%u[%u] PEs in %u Pool(s), %u Peer(s)"``, located by its ASAP
  endpoint, workload unknown, one association per ENRP peer (PPID 12; a static peer whose id
  is not known yet as id 0), Duration unknown;
* :func:`pool_element_fields`: ``"N Sessions"``, located by its user transport, workload the
  PE's load when its policy is load-based, else unknown; one association to its home
  registrar (PPID 11) while it has one (RSPLIB does not list the PUs of a PE's sessions: a PE
  does not know their ids);
* :func:`pool_user_fields`: ``"N Sessions"``, located by its session's association; the home
  registrar (PPID 11) and, per session connected to a PE, that PE (group 2, the PPID of what
  the session last sent), so that a monitor sees which PE serves the PU, across failovers.

While a PE or PU hunts for a registrar its status is ``"Looking for Registrar ..."``.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from rserpool.drivers.pool_element import PoolElementNode
from rserpool.drivers.pool_user import PoolUserNode
from rserpool.drivers.registrar import Registrar
from rserpool.errors import TransportError
from rserpool.proto.client.hunt import RegistrarClient
from rserpool.proto.client.pool_user import SessionState
from rserpool.proto.common import TransportAddress
from rserpool.proto.csp import (
    LOOKING_FOR_REGISTRAR,
    ReportFields,
    StatusReporter,
    Stopwatch,
    component_location,
    registrar_status,
    session_status,
)
from rserpool.wire import PPID, PoolMemberSelectionPolicy
from rserpool.wire.csp import PROTOCOL_SCTP, ComponentAssociation, ComponentGroup, component_id

__all__ = [
    "now_us",
    "pool_element_fields",
    "pool_user_fields",
    "registrar_fields",
    "reporting",
]

log = logging.getLogger("rserpool.csp")

Fields = Callable[[int], ReportFields]
MAX_LOAD = 0xFFFFFFFF  # a policy's load of 100 %


def now_us() -> int:
    """Trio's clock in microseconds (the reporter's unit)."""
    return round(trio.current_time() * 1_000_000)


def hostname() -> str:
    """This machine's node name, as RSPLIB's location starts (``uname``)."""
    return os.uname().nodename


@asynccontextmanager
async def reporting(
    reporter: StatusReporter | None, monitor: tuple[str, int]
) -> AsyncIterator[StatusReporter | None]:
    """Send ``reporter``'s reports to ``monitor`` while the block runs (module docstring);
    ``None``: no reporting, the block just runs."""
    if reporter is None:
        yield None
        return
    family = socket.AF_INET6 if ":" in monitor[0] else socket.AF_INET
    with trio.socket.socket(family, socket.SOCK_DGRAM) as sock:
        clean = False
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_report_every_interval, reporter, sock, monitor)
            try:
                yield reporter
                clean = True
            except BaseException as exc:
                clean = _cancelled_only(exc)
                raise
            finally:
                nursery.cancel_scope.cancel()
                if clean:
                    with trio.CancelScope(shield=True):
                        await _send(sock, monitor, reporter.final(now_us()))


def _cancelled_only(exc: BaseException) -> bool:
    """Whether ``exc`` is a cancellation (a clean end by signal), not a failure."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_cancelled_only(inner) for inner in exc.exceptions)
    return isinstance(exc, trio.Cancelled)


async def _report_every_interval(
    reporter: StatusReporter, sock: trio.socket.SocketType, monitor: tuple[str, int]
) -> None:
    while True:
        due = reporter.next_deadline()
        now = now_us()
        if due is not None and now < due:
            await trio.sleep_until(due / 1_000_000)
            now = max(now_us(), due)
        try:
            data = reporter.poll(now)
        except Exception:  # a bug in a fields function must not end the component
            log.exception("CSP report could not be made")
            await trio.sleep(reporter.interval_us / 1_000_000)
            continue
        if data is not None:
            await _send(sock, monitor, data)


async def _send(sock: trio.socket.SocketType, monitor: tuple[str, int], data: bytes) -> None:
    try:
        await sock.sendto(data, monitor)
    except OSError as exc:  # refused (ICMP), no route, ...: the next report tries again
        log.debug("CSP report to %s:%d not sent: %s", monitor[0], monitor[1], exc)


# ------------------------------------------------------------------------ what roles report


def _transport_pairs(transport: TransportAddress) -> list[tuple[str, int]]:
    return [(str(a), transport.port) for a in transport.addresses]


def registrar_fields(registrar: Registrar, host_name: str | None = None) -> Fields:
    """A registrar's reports (module docstring)."""
    name = hostname() if host_name is None else host_name

    def fields(now: int) -> ReportFields:
        core = registrar.core
        handlespace = core.handlespace
        peers = core.peer_list()
        status = registrar_status(
            len(handlespace),
            handlespace.owned_count(core.server_id),
            sum(1 for _ in handlespace.pools()),
            len(peers),
        )
        associations = tuple(
            ComponentAssociation(
                component_id(ComponentGroup.REGISTRAR, peer.server_id), ppid=PPID.ENRP
            )
            for peer in peers
        )
        location = component_location(
            name, _transport_pairs(registrar.asap_address), with_port=True
        )
        return ReportFields(status, location, None, associations)

    return fields


def _home_association(
    core: RegistrarClient, watch: Stopwatch, now: int
) -> list[ComponentAssociation]:
    home = core.home
    if home is None:
        return []
    return [
        ComponentAssociation(
            component_id(ComponentGroup.REGISTRAR, home.server_id or 0),
            duration_us=watch.elapsed(("home", home.assoc_id), now),
            protocol_id=PROTOCOL_SCTP,
            ppid=PPID.ASAP,
        )
    ]


def _status(core: RegistrarClient, sessions: int) -> str:
    return LOOKING_FOR_REGISTRAR if core.hunting else session_status(sessions)


def pool_element_fields(pe: PoolElementNode, host_name: str | None = None) -> Fields:
    """A pool element's reports (module docstring)."""
    name = hostname() if host_name is None else host_name
    watch = Stopwatch()

    def fields(now: int) -> ReportFields:
        associations = _home_association(pe.pe_core, watch, now)
        watch.lap()
        policy = pe.config.policy
        workload = None  # RSPLIB: the load of a load-based ("adaptive") policy, else unknown
        if isinstance(policy, PoolMemberSelectionPolicy) and "load" in policy.fields:
            workload = policy.load / MAX_LOAD
        location = component_location(name, _transport_pairs(pe.user_transport), with_port=True)
        status = _status(pe.pe_core, len(pe.sessions_by_id))
        return ReportFields(status, location, workload, tuple(associations))

    return fields


def pool_user_fields(pu: PoolUserNode, host_name: str | None = None) -> Fields:
    """A pool user's reports (module docstring)."""
    name = hostname() if host_name is None else host_name
    watch = Stopwatch()

    def fields(now: int) -> ReportFields:
        associations = _home_association(pu.pu_core, watch, now)
        location = ""
        for session in list(pu.sessions.values()):
            pe_id = session.pe_id
            if session.state is not SessionState.ESTABLISHED or pe_id is None:
                continue
            number = pu.session_connection.get(session.id)
            associations.append(
                ComponentAssociation(
                    component_id(ComponentGroup.POOL_ELEMENT, pe_id),
                    duration_us=watch.elapsed((session.id, number), now),
                    protocol_id=PROTOCOL_SCTP,
                    ppid=session.ppid,
                )
            )
            location = _session_location(pu, number, name) or location
        watch.lap()
        if not location:  # no session connected: the machine's addresses (RSPLIB)
            pairs = [(a, 0) for a in pu.host.addresses()]
            location = component_location(name, pairs, with_port=False)
        status = _status(pu.pu_core, len(pu.sessions))
        return ReportFields(status, location, None, tuple(associations))

    return fields


def _session_location(pu: PoolUserNode, number: int | None, name: str) -> str:
    """Where a session's association is: its local addresses, the first with its port."""
    conn = pu.connections.get(-1 if number is None else number)
    if conn is None or conn.assoc is None:
        return ""
    try:
        local = conn.assoc.local_addresses()
    except (OSError, TransportError):
        return ""
    return component_location(name, [(a, p) for a, p in local], with_port=True)
