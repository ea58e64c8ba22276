"""The picture of a running RSerPool system, as the web monitor draws it: sans-IO.

:func:`build_snapshot` turns what the monitor knows into one JSON-ready document:

* **CSP reports** (:class:`~rserpool.monitor.model.ComponentTable`): every registrar (PR), pool
  element (PE) and pool user (PU) that reports, with the associations it lists. A registrar's
  associations to other registrars (PPID 12, ENRP) are its **peerings**; a PE's association to
  a registrar (PPID 11, ASAP) names its **home registrar**; a PU's association to a PE (a
  receiver in group 2) is the PE it is **bound to**, its association to a registrar the one it
  asks for Handle Resolutions.
* **Handlespaces** read over ENRP (:class:`RegistrarPoll`, filled by
  :mod:`rserpool.monitor.web_poll` the way ``rserpool hsdump`` reads one): CSP carries no pool
  handles, so only a handlespace tells which pool a PE serves. It also brings the PEs, home
  registrars and peers of components that do not report at all.

Both are merged by identifier: the PE with identifier ``$00002001`` in a handlespace is the
component ``PE $00002001`` of the CSP reports (component id = group 2, object = PE id), and
registrar ``$00000101`` is ``PR $00000101``. A PE in no handlespace goes to the pool its status
text names (``"EchoPool"`` in double quotes, or ``pool EchoPool``), else to *pool unknown*.

Every node is named as ``cspmonitor`` prints it (``PR $0000002a``, ``PE $1234abcd``,
``PU $00c0ffee001234``); the page uses these names as its element keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from rserpool.monitor.model import Component, ComponentTable, describe_id
from rserpool.proto.hsdump import HandlespaceDump
from rserpool.wire.constants import PPID
from rserpool.wire.csp import ComponentGroup, component_id, group_of, object_of
from rserpool.wire.text import handle_text, policy_text, transport_text

POOL_UNKNOWN = "pool unknown"
_QUOTED = re.compile(r'"([^"]{1,255})"')
_NAMED = re.compile(r"\bpool[ :=]+([!-~]{0,254}[!-9;-~])", re.IGNORECASE)

PR, PE, PU = ComponentGroup.REGISTRAR, ComponentGroup.POOL_ELEMENT, ComponentGroup.POOL_USER


@dataclass(frozen=True, slots=True)
class RegistrarPoll:
    """What the monitor last read from one registrar's ENRP endpoint.

    ``dump`` is the last complete handlespace (kept when a later try fails, so that a
    registrar that is briefly slow does not empty the picture), ``taken_at`` when it arrived
    (on the snapshot's clock), ``error`` why the latest try failed (empty: it worked)."""

    endpoint: str
    dump: HandlespaceDump | None = None
    taken_at: float | None = None
    error: str = ""


def pool_from_status(status: str) -> str | None:
    """The pool a status text names: the first ``"quoted"`` word, else ``pool NAME``."""
    found = _QUOTED.search(status) or _NAMED.search(status)
    return found.group(1) if found else None


def _peers_of(component: Component, group: int, ppid: int | None = None) -> list[int]:
    """The component ids of ``component``'s associations to ``group`` (of that PPID); an
    object 0 is a peer whose identifier the reporter does not know (a PU's registrar)."""
    found: list[int] = []
    for a in component.associations:
        wanted = group_of(a.receiver_id) == group and (ppid is None or a.ppid == ppid)
        wanted = wanted and object_of(a.receiver_id) != 0
        if wanted and a.receiver_id not in found:
            found.append(a.receiver_id)
    return found


@dataclass(slots=True)
class _Node:
    """One node of the picture while it is being built."""

    cid: int
    component: Component | None = None
    links: list[int] | None = None  # PR: peers; PE: [home]; PU: [bound PE, ...]
    registrar: int | None = None  # PU: the registrar it uses
    pool: str | None = None
    policy: str | None = None
    transport: str | None = None
    registered: bool = False  # a handlespace lists it

    def document(self, now: float) -> dict[str, Any]:
        c = self.component
        report = None if c is None else c.report
        return {
            "id": describe_id(self.cid),
            "object": f"{self.cid & ((1 << 56) - 1):#x}",
            "reported": c is not None,
            "location": report.location if report else (self.transport or ""),
            "status": report.status if report else "",
            "load": report.workload if report else None,
            "uptime": None if c is None else round(c.uptime, 3),
            "last_heard": None if c is None else round(now - c.last_seen, 3),
        }


def build_snapshot(
    table: ComponentTable,
    now: float,
    polls: Iterable[RegistrarPoll] = (),
    *,
    ignore: Collection[int] = (),
    revision: object = None,
) -> dict[str, Any]:
    """The whole picture at ``now`` (the table's clock) as a JSON-ready document.

    ``ignore``: registrar identifiers that are the monitor itself (it poses as a registrar to
    read a handlespace, so registrars list it among their peers). ``revision`` is passed
    through for the page (it tells whether anything changed)."""
    polls = list(polls)
    mine = {component_id(PR, i) for i in ignore}
    mine.update(component_id(PR, p.dump.sender_id) for p in polls if p.dump is not None)
    nodes: dict[int, _Node] = {}

    def node(cid: int) -> _Node:
        found = nodes.get(cid)
        if found is None:
            found = nodes[cid] = _Node(cid)
        return found

    for c in table.components.values():
        group = group_of(c.cid)
        if group not in (PR, PE, PU) or c.cid in mine:
            continue
        n = node(c.cid)
        n.component = c
        if group == PR:
            n.links = [p for p in _peers_of(c, PR, PPID.ENRP) if p not in mine]
        elif group == PE:
            n.links = _peers_of(c, PR)[:1]
            n.pool = pool_from_status(c.report.status)
        else:
            n.links = _peers_of(c, PE)
            n.registrar = next(iter(_peers_of(c, PR)), None)
    for poll in polls:
        _merge_handlespace(poll, node, mine)
    for c in table.components.values():  # a PE's sessions name PUs that do not report
        if group_of(c.cid) == PE:
            for pu in _peers_of(c, PU):
                n = node(pu)
                if n.component is None and c.cid not in (n.links or []):
                    n.links = [*(n.links or []), c.cid]
    for n in list(nodes.values()):  # registrars only named by others are drawn too
        if group_of(n.cid) == PE and n.links:
            node(n.links[0])
        elif group_of(n.cid) == PU and n.registrar is not None:
            node(n.registrar)
        elif group_of(n.cid) == PR:
            for p in n.links or []:
                node(p)
    return _document(table, now, polls, nodes, revision)


def _merge_handlespace(poll: RegistrarPoll, node: Callable[[int], _Node], mine: set[int]) -> None:
    dump = poll.dump
    if dump is None:
        return
    if dump.registrar_id is not None:
        registrar = node(component_id(PR, dump.registrar_id))
        peers = [component_id(PR, s.server_id) for s in dump.peers or ()]
        links = registrar.links or []
        for p in peers:
            if p not in mine and p != registrar.cid and p not in links:
                links.append(p)
        registrar.links = links
    for handle, pool in dump.pools.items():
        for pe_id, pe in pool.items():
            n = node(component_id(PE, pe_id))
            n.registered = True
            n.pool = handle_text(handle)
            n.policy = policy_text(pe.policy)
            n.transport = transport_text(pe.user_transport)
            if not n.links and pe.home_registrar_id:  # a reporting PE tells its home itself
                n.links = [component_id(PR, pe.home_registrar_id)]


def _document(
    table: ComponentTable,
    now: float,
    polls: list[RegistrarPoll],
    nodes: dict[int, _Node],
    revision: object,
) -> dict[str, Any]:
    by_group: dict[int, list[_Node]] = {PR: [], PE: [], PU: []}
    for cid in sorted(nodes):
        by_group[group_of(cid)].append(nodes[cid])
    peerings = sorted(
        {
            tuple(sorted((describe_id(n.cid), describe_id(p))))
            for n in by_group[PR]
            for p in n.links or ()
        }
    )
    registrars = []
    for n in by_group[PR]:
        doc = n.document(now)
        doc["peers"] = [describe_id(p) for p in n.links or ()]
        doc["home_of"] = sum(1 for pe in by_group[PE] if pe.links and pe.links[0] == n.cid)
        registrars.append(doc)
    pools: dict[str, list[str]] = {}
    elements = []
    for n in by_group[PE]:
        doc = n.document(now)
        doc.update(
            pool=n.pool or POOL_UNKNOWN,
            home=describe_id(n.links[0]) if n.links else None,
            registered=n.registered,
            policy=n.policy,
            transport=n.transport,
        )
        pools.setdefault(doc["pool"], []).append(doc["id"])
        elements.append(doc)
    users = []
    for n in by_group[PU]:
        doc = n.document(now)
        doc["bound_to"] = [describe_id(p) for p in n.links or ()]
        doc["registrar"] = None if n.registrar is None else describe_id(n.registrar)
        users.append(doc)
    order = sorted(pools, key=lambda name: (name == POOL_UNKNOWN, name))
    return {
        "revision": revision,
        "registrars": registrars,
        "peerings": [list(pair) for pair in peerings],
        "pools": [
            {"name": name, "known": name != POOL_UNKNOWN, "elements": pools[name]} for name in order
        ],
        "pool_elements": elements,
        "pool_users": users,
        "components": [c.as_json(now) for c in table.listing()],
        "counts": table.counts(),
        "undecodable": table.undecodable,
        "handlespaces": [_poll_document(p, now) for p in polls],
    }


def _poll_document(poll: RegistrarPoll, now: float) -> dict[str, Any]:
    dump = poll.dump
    return {
        "endpoint": poll.endpoint,
        "registrar": (
            None if dump is None or dump.registrar_id is None
            else describe_id(component_id(PR, dump.registrar_id))
        ),
        "pools": None if dump is None else len(dump.pools),
        "pool_elements": None if dump is None else dump.pe_count(),
        "age": None if poll.taken_at is None else round(now - poll.taken_at, 3),
        "error": poll.error,
    }  # fmt: skip
