"""The monitor's table of components, built from CSP reports: sans-IO (bytes and ``now`` in).

:class:`ComponentTable` keeps one :class:`Component` per sender id. A report replaces what the
table knew of its sender; a FINAL report removes it; a component that stays silent for
``min(purge_interval, 10 x its report interval)`` is purged (the rule of RSPLIB's
``cspmonitor``). A FINAL report removes its sender at once; as cspmonitor, the table keeps
what the sender's previous report said (RSPLIB's FINAL report has an empty location and
status), only marked final. Times
are seconds on the caller's clock (``trio.current_time()`` or a MockClock's); a datagram that
does not decode is counted and otherwise ignored.

Components sort as cspmonitor lists them: registrars, then pool elements, then pool users;
within a group by location, then id.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rserpool.wire.csp import (
    ComponentAssociation,
    ComponentGroup,
    ComponentStatusReport,
    decode_report_untrusted,
    group_of,
    object_of,
)
from rserpool.wire.errors import DecodeError

DEFAULT_PURGE_INTERVAL = 30.0  # seconds, cspmonitor's -purgeinterval default

_PREFIX = {ComponentGroup.REGISTRAR: "PR", ComponentGroup.POOL_ELEMENT: "PE"}


def describe_id(cid: int) -> str:
    """A component id as cspmonitor prints it: ``PR $0000002a``, ``PE $1234abcd``,
    ``PU $00c0ffee001234`` (a PU's object is 56 random bits), ``ID $...`` otherwise."""
    group, obj = group_of(cid), object_of(cid)
    if group in _PREFIX:
        return f"{_PREFIX[ComponentGroup(group)]} ${obj:08x}"
    if group == ComponentGroup.POOL_USER:
        return f"PU ${obj:014x}"
    return f"ID ${obj:014x}"


def role_of(cid: int) -> str:
    """``registrar``, ``pool-element``, ``pool-user`` or ``unknown``: the JSON spelling."""
    return {1: "registrar", 2: "pool-element", 3: "pool-user"}.get(group_of(cid), "unknown")


@dataclass(slots=True)
class Component:
    """What the monitor knows of one reporting component."""

    cid: int
    source: tuple[str, int]  # the address its last report came from
    report: ComponentStatusReport
    first_seen: float
    last_seen: float
    reports: int = 1

    @property
    def name(self) -> str:
        return describe_id(self.cid)

    @property
    def role(self) -> str:
        return role_of(self.cid)

    @property
    def uptime(self) -> float:
        """Seconds since the component started reporting (its SenderTimeStamp)."""
        return self.report.sender_timestamp_us / 1e6

    @property
    def associations(self) -> tuple[ComponentAssociation, ...]:
        return self.report.associations

    def silence_limit(self, purge_interval: float) -> float:
        """Seconds of silence after which this component is purged."""
        return min(purge_interval, 10 * self.report.report_interval_us / 1e6)

    def as_json(self, now: float) -> dict[str, Any]:
        """A JSON-ready summary (``rserpool monitor --json`` and the web page)."""
        r = self.report
        return {
            "id": f"{self.cid:#018x}",
            "name": self.name,
            "role": self.role,
            "object": f"{object_of(self.cid):#x}",
            "source": f"{self.source[0]}:{self.source[1]}",
            "location": r.location,
            "status": r.status,
            "workload": r.workload,
            "uptime": round(self.uptime, 3),
            "report_interval": r.report_interval_us / 1e6,
            "last_heard": round(now - self.last_seen, 3),
            "final": r.final,
            "associations": [
                {
                    "peer": f"{a.receiver_id:#018x}",
                    "peer_name": describe_id(a.receiver_id),
                    "duration": None if a.duration_us is None else a.duration_us / 1e6,
                    "protocol": a.protocol_id,
                    "ppid": a.ppid,
                    "flags": a.flags,
                }
                for a in r.associations
            ],
        }


@dataclass(slots=True)
class Change:
    """What one datagram did to the table: ``added``/``updated``/``removed`` (FINAL)."""

    kind: str
    component: Component


@dataclass
class ComponentTable:
    """Components by id, updated by :meth:`receive` and purged by :meth:`expire`."""

    purge_interval: float = DEFAULT_PURGE_INTERVAL
    components: dict[int, Component] = field(default_factory=dict)
    undecodable: int = 0
    last_error: str = ""
    revision: int = 0  # counts the changes to the components (for displays that poll)

    def receive(self, data: bytes, source: tuple[str, int], now: float) -> Change | None:
        """Account for one datagram from ``source``; None when it is not a valid report."""
        try:
            report = decode_report_untrusted(data)
        except DecodeError as exc:
            self.undecodable += 1
            self.last_error = f"{source[0]}:{source[1]}: {exc}"
            return None
        return self.apply(report, source, now)

    def apply(self, report: ComponentStatusReport, source: tuple[str, int], now: float) -> Change:
        """Account for a decoded report."""
        cid = report.sender_id
        self.revision += 1
        known = self.components.get(cid)
        if report.final:
            gone = self.components.pop(cid, None)
            if gone is None:
                return Change("removed", Component(cid, source, report, now, now))
            gone.source, gone.last_seen = source, now
            gone.report = replace(gone.report, final=True)
            gone.reports += 1
            return Change("removed", gone)
        if known is None:
            component = self.components[cid] = Component(cid, source, report, now, now)
            return Change("added", component)
        known.source, known.report, known.last_seen = source, report, now
        known.reports += 1
        return Change("updated", known)

    def expire(self, now: float) -> list[Component]:
        """Remove and return the components silent for their limit or longer (so that a
        driver woken at :meth:`next_deadline` always finds something to purge)."""
        gone = [
            c
            for c in self.components.values()
            if now - c.last_seen >= c.silence_limit(self.purge_interval)
        ]
        for c in gone:
            del self.components[c.cid]
        self.revision += bool(gone)
        return gone

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has something to do (None: nothing to purge)."""
        return min(
            (c.last_seen + c.silence_limit(self.purge_interval) for c in self.components.values()),
            default=None,
        )

    def listing(self) -> list[Component]:
        """Every component, in cspmonitor's order: group, location, id."""
        return sorted(
            self.components.values(),
            key=lambda c: (group_of(c.cid), c.report.location, c.cid),
        )

    def counts(self) -> dict[str, int]:
        """How many registrars, pool elements and pool users report."""
        result = {"registrar": 0, "pool-element": 0, "pool-user": 0}
        for c in self.components.values():
            if c.role in result:
                result[c.role] += 1
        return result
