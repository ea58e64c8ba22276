"""The monitor's Trio driver: one UDP socket, CSP datagrams into a :class:`ComponentTable`.

:func:`receive_reports` owns the socket and the clock and nothing else: each datagram goes to
:meth:`ComponentTable.receive` with ``trio.current_time()``, the table is purged at its
:meth:`~ComponentTable.next_deadline`, and every change is handed to a *sink* (the terminal
display, the JSON printer, the web page) as a :class:`MonitorEvent`. A datagram that is no CSP
report is counted by the table and reported as an ``undecodable`` event; it never ends the loop.

    sock = await open_csp_socket(ipaddress.ip_address("0.0.0.0"), CSP_PORT)
    table = ComponentTable()
    await receive_reports(sock, table, print)
"""

from __future__ import annotations

import ipaddress
import math
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import trio

from rserpool.monitor.model import Component, ComponentTable
from rserpool.proto.common import IPAddress
from rserpool.wire.text import endpoint_text

MAX_DATAGRAM = 65535  # a CSP report's Length is 16 bits: nothing larger is a report


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """What one datagram or one purge did: ``kind`` is ``added``, ``updated``, ``removed``
    (a FINAL report), ``purged`` (silent too long) or ``undecodable`` (``component`` None,
    ``error`` says why). ``now`` is the Trio clock's time."""

    kind: str
    component: Component | None
    now: float
    error: str = ""


Sink = Callable[[MonitorEvent], None]


async def open_csp_socket(address: IPAddress, port: int) -> trio.socket.SocketType:
    """A UDP socket bound to ``address``:``port`` (port 0: the kernel picks one). ``::`` also
    receives IPv4 reports (as IPv4-mapped addresses, which :func:`receive_reports` turns back
    into IPv4). Without SO_REUSEADDR, so that a second monitor on the same port fails with
    EADDRINUSE instead of silently sharing the reports."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_DGRAM)
    try:
        if address.version == 6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        await sock.bind((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


def bound_name(sock: trio.socket.SocketType) -> str:
    """``0.0.0.0:2960`` or ``[::]:2960``: where ``sock`` listens (the real port after 0)."""
    host, port = sock.getsockname()[:2]
    return endpoint_text((ipaddress.ip_address(host),), port)


def source_of(address: tuple[str, int] | tuple[str, int, int, int]) -> tuple[str, int]:
    """A datagram's sender as (host, port); IPv4-mapped IPv6 addresses become IPv4."""
    host, port = address[0], address[1]
    if ":" in host:
        mapped = ipaddress.IPv6Address(host.split("%", 1)[0]).ipv4_mapped
        if mapped is not None:
            host = str(mapped)
    return host, port


async def receive_reports(
    sock: trio.socket.SocketType, table: ComponentTable, sink: Sink
) -> NoReturn:
    """Feed every datagram arriving on ``sock`` into ``table`` and purge silent components
    in time, telling ``sink`` each change; runs until cancelled."""
    while True:
        deadline = table.next_deadline()
        received: tuple[bytes, tuple[str, int]] | None = None
        with trio.move_on_at(math.inf if deadline is None else deadline):
            data, address = await sock.recvfrom(MAX_DATAGRAM)
            received = data, source_of(address)
        now = trio.current_time()
        if received is not None:
            data, source = received
            change = table.receive(data, source, now)
            if change is None:
                sink(MonitorEvent("undecodable", None, now, table.last_error))
            else:
                sink(MonitorEvent(change.kind, change.component, now))
        for gone in table.expire(now):
            sink(MonitorEvent("purged", gone, now))
