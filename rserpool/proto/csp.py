"""The reporting side of the Component Status Protocol (CSP), without I/O.

A registrar, pool element or pool user given a monitor's address (``--csp-server``) and an
interval (``--csp-interval``) sends the monitor one report at once and then one every interval,
as RSPLIB's ``componentstatusreporter.c`` does; a clean shutdown sends a last report with the
FINAL flag, an empty status and location, workload 0 and no associations, so that the monitor
drops the component at once instead of waiting for it to fall silent. The report format is
:mod:`rserpool.wire.csp`.

:class:`StatusReporter` keeps the schedule: ``next_deadline()``, ``poll(now)`` (a datagram when
one is due) and ``final(now)``. Times are integer microseconds on the caller's clock; the
SenderTimeStamp counts microseconds since the first report, the ReportInterval field carries
the interval in microseconds. What a report says comes from a callback returning
:class:`ReportFields`, built with the helpers below, which follow RSPLIB's texts:

* :func:`registrar_status`: ``"3[2] PEs in 1 Pool, 1 Peer"`` (all PEs [PEs it is home for]);
* :func:`session_status`: ``"1 Session"``, ``"0 Sessions"``;
* :data:`LOOKING_FOR_REGISTRAR`: what a PE or PU says while it hunts for a registrar;
* :func:`component_location`: ``"host: 198.51.100.1:3863, 203.0.113.1"``, global addresses
  preferred over site-local ones, loopback and link-local never shown (the first with its
  port when the addresses are a socket's); the host name alone when none is left.

:class:`Stopwatch` measures the Duration of each association from the first report that
lists it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from rserpool.scope import AddressScope, address_scope
from rserpool.wire.csp import (
    STATUS_SIZE,
    ComponentAssociation,
    ComponentStatusReport,
    encode_report,
    object_of,
)
from rserpool.wire.text import endpoint_text

MIN_INTERVAL_MS = 250  # RSPLIB's smallest report interval
MAX_INTERVAL_MS = 0xFFFFFFFF // 1000  # the interval in µs must fit the u32 ReportInterval
LOOKING_FOR_REGISTRAR = "Looking for Registrar ..."
TEXT_LIMIT = STATUS_SIZE - 1  # RSPLIB writes C strings: 127 bytes and a NUL


@dataclass(frozen=True, slots=True)
class ReportFields:
    """What one report says about its component."""

    status: str
    location: str
    workload: float | None = None  # 0..1, None: unknown
    associations: tuple[ComponentAssociation, ...] = ()


class StatusReporter:
    """When to report and what the datagram holds (see the module docstring).

    ``fields(now)`` is asked for the current state at every report; ``interval_us`` is the
    report interval in microseconds. The component id's object part must not be 0 (RSPLIB
    sends nothing for such an id)."""

    def __init__(
        self,
        component_id: int,
        interval_us: int,
        fields: Callable[[int], ReportFields],
    ) -> None:
        if object_of(component_id) == 0:
            raise ValueError(f"component id {component_id:#018x} has no object part")
        if not 0 < interval_us <= 0xFFFFFFFF:
            raise ValueError(f"report interval {interval_us} µs is not 1..0xffffffff")
        self.component_id = component_id
        self.interval_us = interval_us
        self.fields = fields
        self.reports = 0  # sent so far, the final one included
        self._first: int | None = None  # when the first report went out
        self._due: int | None = None  # None: at once

    def next_deadline(self) -> int | None:
        """When the next report is due; None: at once (nothing was sent yet)."""
        return self._due

    def poll(self, now: int) -> bytes | None:
        """The report due at ``now``, or None if none is due yet."""
        if self._due is not None and now < self._due:
            return None
        fields = self.fields(now)
        self._due = now + self.interval_us
        return self._report(now, fields, final=False)

    def final(self, now: int) -> bytes:
        """The FINAL report of a clean shutdown; nothing is due after it."""
        self._due = None
        return self._report(now, ReportFields("", "", 0.0), final=True)

    def _report(self, now: int, fields: ReportFields, *, final: bool) -> bytes:
        if self._first is None:
            self._first = now
        self.reports += 1
        report = ComponentStatusReport(
            sender_id=self.component_id,
            sender_timestamp_us=max(0, now - self._first),
            report_interval_us=self.interval_us,
            location=c_text(fields.location),
            status=c_text(fields.status),
            workload=fields.workload,
            associations=fields.associations,
            final=final,
        )
        return encode_report(report)


def c_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` bytes of UTF-8 at a character boundary (RSPLIB's 128-byte
    C strings keep 127 characters and the NUL)."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "ignore")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def registrar_status(pool_elements: int, owned: int, pools: int, peers: int) -> str:
    """A registrar's status: all PEs, [the PEs it is home for], pools and peers."""
    return f"{pool_elements}[{owned}] PEs in {_plural(pools, 'Pool')}, {_plural(peers, 'Peer')}"


def session_status(sessions: int) -> str:
    """A pool element's or pool user's status: how many sessions it has."""
    return _plural(sessions, "Session")


def component_location(
    hostname: str, addresses: Iterable[tuple[str, int]], *, with_port: bool
) -> str:
    """``"host: addr:port, addr2"``: the host name and the addresses of global scope, or if
    there are none those of site-local scope; ``with_port`` writes the first one with its port
    (RSPLIB does when the addresses are a socket's, not the machine's). An IPv4-mapped IPv6
    address is written as IPv4. Neither hostname nor address: ``"(local only)"``."""
    candidates = list(addresses)
    parts: list[str] = []
    for min_scope in (AddressScope.GLOBAL, AddressScope.SITE_LOCAL):
        for address, port in candidates:
            try:
                scope = address_scope(address)
            except ValueError:
                continue
            if scope >= min_scope and scope != AddressScope.UNSPECIFIED:
                parts.append(_address_text(address, port if with_port and not parts else None))
        if parts:
            break
    location = hostname
    if parts:
        location = f"{hostname}: " if hostname else ""
        location += ", ".join(parts)
    return c_text(location) if location else "(local only)"


def _address_text(address: str, port: int | None) -> str:
    ip = ipaddress.ip_address(address.strip("[]"))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if port is None:
        return str(ip)
    return endpoint_text((ip,), port)


class Stopwatch:
    """Microseconds since a key (an association) was first seen; keys not seen in the last
    :meth:`lap` are forgotten, so that a new association under an old key starts at 0."""

    def __init__(self) -> None:
        self._since: dict[Hashable, int] = {}
        self._seen: set[Hashable] = set()

    def elapsed(self, key: Hashable, now: int) -> int:
        """Microseconds since ``key`` was first seen (0 the first time)."""
        self._seen.add(key)
        return now - self._since.setdefault(key, now)

    def lap(self) -> None:
        """One report is complete: forget what it did not mention."""
        self._since = {k: v for k, v in self._since.items() if k in self._seen}
        self._seen = set()
