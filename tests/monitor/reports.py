"""Real CSP datagrams for the monitor tests: a registrar, pool elements and pool users, encoded
with :mod:`rserpool.wire.csp` exactly as a component sends them."""

from __future__ import annotations

from collections.abc import Sequence

from rserpool.wire.constants import PPID
from rserpool.wire.csp import (
    ComponentAssociation,
    ComponentGroup,
    ComponentStatusReport,
    component_id,
    encode_report,
)

INTERVAL_US = 1_000_000  # one report a second


def pr(n: int) -> int:
    return component_id(ComponentGroup.REGISTRAR, n)


def pe(n: int) -> int:
    return component_id(ComponentGroup.POOL_ELEMENT, n)


def pu(n: int) -> int:
    return component_id(ComponentGroup.POOL_USER, n)


def report(
    sender: int,
    *,
    to: Sequence[tuple[int, int]] = (),
    status: str = "",
    location: str = "",
    load: float | None = None,
    final: bool = False,
    uptime_us: int = 5_000_000,
) -> bytes:
    """One datagram from ``sender`` listing associations ``to`` as (receiver id, PPID)."""
    return encode_report(
        ComponentStatusReport(
            sender_id=sender,
            sender_timestamp_us=uptime_us,
            report_interval_us=INTERVAL_US,
            location=location,
            status=status,
            workload=load,
            associations=tuple(
                ComponentAssociation(receiver_id=r, duration_us=1_000_000, ppid=p) for r, p in to
            ),
            final=final,
        )
    )


def registrar_report(n: int, peers: Sequence[int] = (), **kw: object) -> bytes:
    return report(pr(n), to=[(pr(p), PPID.ENRP) for p in peers], **kw)  # type: ignore[arg-type]


def pe_report(n: int, home: int | None, users: Sequence[int] = (), **kw: object) -> bytes:
    to: list[tuple[int, int]] = [] if home is None else [(pr(home), PPID.ASAP)]
    to += [(pu(u), 0) for u in users]
    return report(pe(n), to=to, **kw)  # type: ignore[arg-type]


def pu_report(n: int, registrar: int | None, bound: Sequence[int] = (), **kw: object) -> bytes:
    to: list[tuple[int, int]] = [] if registrar is None else [(pr(registrar), PPID.ASAP)]
    to += [(pe(b), 0) for b in bound]
    return report(pu(n), to=to, **kw)  # type: ignore[arg-type]
