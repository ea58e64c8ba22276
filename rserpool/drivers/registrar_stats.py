"""The registrar driver's statistics: counters bumped in the driver loop, and the JSON
document ``rserpool registrar --stats-file`` writes (docs/registrar.md shows one)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rserpool.proto.common import Event
from rserpool.proto.registrar import (
    HandleResolved,
    PoolElementRegistered,
    PoolElementRemoved,
    RateLimited,
    RegistrarCore,
    RegistrationRefused,
)
from rserpool.wire import AsapType, EnrpType
from rserpool.wire.text import cause_text, ident


def _per_type() -> dict[str, list[int]]:
    return {"ASAP": [0] * 256, "ENRP": [0] * 256}


@dataclass
class RegistrarStatistics:
    """Counters for tests and the curious (``Registrar.statistics``); plain ints and counters,
    incremented in the driver loop. :func:`statistics_document` presents them."""

    received: Counter[str] = field(default_factory=Counter)  # "ASAP", "ENRP", "ENRP multicast"
    sent: Counter[str] = field(default_factory=Counter)  # "ASAP", "ENRP"
    #: SCTP messages by message type byte (index), per protocol ("ASAP", "ENRP")
    received_types: dict[str, list[int]] = field(default_factory=_per_type)
    sent_types: dict[str, list[int]] = field(default_factory=_per_type)
    registrations_new: int = 0  # PoolElementRegistered with created=True
    refused: Counter[int] = field(default_factory=Counter)  # Registration refusals by cause
    removed: Counter[str] = field(default_factory=Counter)  # home and learned PEs, by reason
    resolutions_failed: int = 0  # Handle Resolutions answered with an Operation Error
    rate_limited: Counter[str] = field(default_factory=Counter)  # by request name
    multicasts: Counter[str] = field(default_factory=Counter)  # announces/Presences sent
    multicast_failures: int = 0
    connects: int = 0  # associations we started for Send(to=...)
    sends_dropped: int = 0  # the association was gone or the send failed
    send_errors: int = 0  # an action that could not be encoded or performed (logged)
    aborts: int = 0
    associations_up: Counter[str] = field(default_factory=Counter)
    associations_lost: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)  # by event class name
    internal_errors: int = 0  # exceptions inside the core (a bug; logged with traceback)

    def count(self, event: Event) -> None:
        """Count one core event (the driver calls it for every event)."""
        kind = type(event)
        self.events[kind.__name__] += 1
        more = _MORE.get(kind)  # one lookup instead of a chain of isinstance tests
        if more is not None:
            more(self, event)


def _registered(stats: RegistrarStatistics, event: PoolElementRegistered) -> None:
    stats.registrations_new += event.created


def _resolved(stats: RegistrarStatistics, event: HandleResolved) -> None:
    stats.resolutions_failed += event.cause is not None


def _removed(stats: RegistrarStatistics, event: PoolElementRemoved) -> None:
    stats.removed[event.reason.value] += 1


def _refused(stats: RegistrarStatistics, event: RegistrationRefused) -> None:
    stats.refused[event.cause] += 1


def _rate_limited(stats: RegistrarStatistics, event: RateLimited) -> None:
    stats.rate_limited[event.message] += 1


#: What else an event of these types counts, besides its type.
_MORE: dict[type[Event], Callable[[RegistrarStatistics, Any], None]] = {
    PoolElementRegistered: _registered,
    HandleResolved: _resolved,
    PoolElementRemoved: _removed,
    RegistrationRefused: _refused,
    RateLimited: _rate_limited,
}


def statistics_document(
    stats: RegistrarStatistics, core: RegistrarCore, uptime: float
) -> dict[str, object]:
    """The statistics as a JSON-ready document (``rserpool registrar --stats-file``)."""
    handlespace = core.handlespace
    events = stats.events
    registered = events["PoolElementRegistered"]
    resolved = events["HandleResolved"]

    def by_type(counts: list[int], names: type[AsapType] | type[EnrpType]) -> dict[str, int]:
        found: dict[str, int] = {}
        for code, count in enumerate(counts):
            if count:
                try:
                    name = names(code).name
                except ValueError:
                    name = f"type {code:#04x}"
                found[name] = count
        return found

    return {
        "registrar_id": ident(core.server_id),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "uptime_s": round(uptime, 3),
        "handlespace": {
            "pools": sum(1 for _ in handlespace.pools()),
            "pool_elements": len(handlespace),
            "home_pool_elements": handlespace.owned_count(core.server_id),
            "ownership_checksum": f"{handlespace.ownership_checksum(core.server_id):#06x}",
        },
        "peers": len(core.peers()),
        "asap": {
            "received": by_type(stats.received_types["ASAP"], AsapType),
            "sent": by_type(stats.sent_types["ASAP"], AsapType),
        },
        "enrp": {
            "received": by_type(stats.received_types["ENRP"], EnrpType),
            "sent": by_type(stats.sent_types["ENRP"], EnrpType),
            "multicast_presences_received": stats.received["ENRP multicast"],
        },
        "announces_sent": dict(stats.multicasts),
        "registrations": {
            "accepted": registered,
            "new": stats.registrations_new,
            "re_registrations": registered - stats.registrations_new,
            "refused": sum(stats.refused.values()),
            "refused_by_cause": {cause_text(c): n for c, n in sorted(stats.refused.items())},
        },
        "pool_elements_removed": dict(stats.removed),
        "handle_resolutions": {
            "answered": resolved - stats.resolutions_failed,
            "unknown_pool_handle": stats.resolutions_failed,
        },
        "rate_limited": dict(stats.rate_limited),
        "takeovers": {
            "started": events["TakeoverStarted"],
            "completed": events["TakeoverCompleted"],
            "aborted": events["TakeoverAborted"],
        },
        "associations": {
            "up": dict(stats.associations_up),
            "lost": dict(stats.associations_lost),
            "aborted": stats.aborts,
            "started_by_us": stats.connects,
        },
        "messages_not_sent": stats.sends_dropped,
        "send_errors": stats.send_errors,
        "multicast_failures": stats.multicast_failures,
        "internal_errors": stats.internal_errors,
    }
