"""Who is who in a capture: the nodes (lifelines) of a sequence diagram, named by their role.

A *node* is one RSerPool component: a registrar (PR), a pool element (PE), a pool user (PU).
On the wire it shows as SCTP endpoints, an address and a port each, and one component may have
several: a multi-homed one sends from each of its addresses, a PE talks ASAP to its registrar
from one port and serves its users on another, a registrar listens for ASAP on 3863 and for
ENRP on 9901. :func:`find_nodes` joins the endpoints that belong together, from what the
messages themselves say:

* **Associations**: SCTP packets of one direction of one association carry the same ports and
  verification tag whichever addresses they take, so all their source addresses are one
  endpoint's, and all their destination addresses another's (multi-homing).
* **Identifiers**: a PE identifier (Registration, Keep Alive, ...), a registrar's server id
  (ENRP sender and receiver ids, Keep Alive, Server Announce) names one node, whatever
  endpoint it was seen at.
* **Transport parameters**: a PE's user and ASAP transports (Registration, Handle Update,
  Handle Resolution Response), a registrar's (Presence, List Response, Server Announce): the
  addresses and port of an endpoint of that node.
* **Roles**: who sends what. The destination of a Registration is a registrar, the source of a
  Handle Resolution a pool user, and so on. What has no identifier and is neither registrar
  nor PE is a pool user; the pool user endpoints of one address are one pool user.

Sans-IO: records in, nodes out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from rserpool.capture import Record
from rserpool.wire import (
    BusinessCard,
    CookieEcho,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    EnrpMessage,
    HandleResolution,
    HandleResolutionResponse,
    HandleTableResponse,
    HandleUpdate,
    ListResponse,
    Presence,
    Registration,
    RegistrationResponse,
    ServerAnnounce,
)
from rserpool.wire.params import PoolElement
from rserpool.wire.text import ident
from rserpool.wire.transports import OpaqueTransport, Transport

#: An endpoint: an IP address (as text) and a port.
Endpoint = tuple[str, int]
#: What the union-find joins: ("ep", address, port), ("pe", id) or ("pr", id).
_Token = tuple[str, str, int] | tuple[str, int]

ROLES = ("PU", "PR", "PE", "group")  # the order of the lifelines, left to right


@dataclass(frozen=True, slots=True)
class Participant:
    """One lifeline: ``id`` is a plain identifier (``pr1``) for renderers that need one."""

    id: str
    role: str  # "PU", "PR", "PE" or "group" (a multicast address)
    name: str  # "PR $00000101", "PE $00002001", "PU 198.51.100.7", "multicast 239.0.0.50"
    addresses: tuple[str, ...]  # the IP addresses: those seen on the wire first


class _Joiner:
    """Union-find over tokens, remembering which endpoints were on the wire and role hints."""

    def __init__(self) -> None:
        self.parent: dict[_Token, _Token] = {}
        self.order: dict[_Token, int] = {}  # first appearance
        self.on_wire: set[_Token] = set()
        self.hints: dict[_Token, set[str]] = {}

    def find(self, token: _Token) -> _Token:
        if token not in self.parent:
            self.parent[token] = token
            self.order[token] = len(self.order)
        root = token
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[token] != root:  # path compression
            self.parent[token], token = root, self.parent[token]
        return root

    def join(self, a: _Token, b: _Token) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the older token stays the root: components keep their first appearance
            if self.order[rb] < self.order[ra]:
                ra, rb = rb, ra
            self.parent[rb] = ra

    def hint(self, token: _Token, role: str) -> None:
        self.find(token)
        self.hints.setdefault(token, set()).add(role)


def is_multicast(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_multicast
    except ValueError:
        return False


def _endpoint(endpoint: Endpoint) -> _Token:
    return ("ep", endpoint[0], endpoint[1])


def _transport_endpoints(transport: Transport | None) -> list[_Token]:
    if transport is None or isinstance(transport, OpaqueTransport):
        return []
    return [("ep", str(a), transport.port) for a in transport.addresses]


def _join_all(joiner: _Joiner, token: _Token, others: Iterable[_Token]) -> None:
    for other in others:
        joiner.join(token, other)


def _join_pe(joiner: _Joiner, pe: PoolElement) -> None:
    token: _Token = ("pe", pe.pe_id)
    _join_all(joiner, token, _transport_endpoints(pe.user_transport))
    _join_all(joiner, token, _transport_endpoints(pe.asap_transport))


def _learn(joiner: _Joiner, r: Record, src: _Token, dst: _Token | None) -> None:
    """What one message says about who its source and destination are."""
    m = r.message
    registrar_to_pe = RegistrationResponse | DeregistrationResponse
    if isinstance(m, Registration):
        joiner.join(src, ("pe", m.pool_element.pe_id))
        _join_pe(joiner, m.pool_element)
    elif isinstance(m, registrar_to_pe) and dst is not None:
        joiner.join(dst, ("pe", m.pe_id))
    elif isinstance(m, Deregistration | EndpointKeepAliveAck):
        joiner.join(src, ("pe", m.pe_id))
    elif isinstance(m, EndpointKeepAlive):
        joiner.join(src, ("pr", m.server_id))
        if m.pe_id is not None and dst is not None:
            joiner.join(dst, ("pe", m.pe_id))
    elif isinstance(m, ServerAnnounce):
        joiner.join(src, ("pr", m.server_id))
        for transport in m.transports:
            _join_all(joiner, ("pr", m.server_id), _transport_endpoints(transport))
    elif isinstance(m, HandleResolutionResponse | BusinessCard):
        for pe in m.pool_elements:
            _join_pe(joiner, pe)
    if isinstance(m, EnrpMessage):
        if m.sender_id:
            joiner.join(src, ("pr", m.sender_id))
        if m.receiver_id and dst is not None:
            joiner.join(dst, ("pr", m.receiver_id))
    if isinstance(m, Presence) and m.server_information is not None:
        info = m.server_information
        _join_all(joiner, ("pr", info.server_id), _transport_endpoints(info.transport))
    elif isinstance(m, HandleUpdate):
        _join_pe(joiner, m.pool_element)
    elif isinstance(m, HandleTableResponse):
        for entry in m.entries:
            for pe in entry.pool_elements:
                _join_pe(joiner, pe)
    elif isinstance(m, ListResponse):
        for server in m.servers:
            if server.server_id:
                _join_all(joiner, ("pr", server.server_id), _transport_endpoints(server.transport))
    _hint_roles(joiner, r, src, dst)


def _hint_roles(joiner: _Joiner, r: Record, src: _Token, dst: _Token | None) -> None:
    """Roles without identifiers: who sends such a message, who receives it."""
    m = r.message
    to_registrar = Registration | Deregistration | EndpointKeepAliveAck | HandleResolution
    if isinstance(m, to_registrar | EndpointUnreachable) and dst is not None:
        joiner.hint(dst, "PR")
    if isinstance(m, RegistrationResponse | DeregistrationResponse | HandleResolutionResponse):
        joiner.hint(src, "PR")
    if isinstance(m, HandleResolution | EndpointUnreachable):
        joiner.hint(src, "PU")
    if isinstance(m, CookieEcho | BusinessCard) and dst is not None:
        joiner.hint(dst, "PE")
    if isinstance(m, EnrpMessage):
        joiner.hint(src, "PR")


@dataclass(frozen=True, slots=True)
class Nodes:
    """The lifelines, and which one each endpoint (or multicast address) belongs to."""

    participants: tuple[Participant, ...]
    of_endpoint: dict[Endpoint, str]  # endpoint -> participant id

    def of(self, endpoint: Endpoint) -> str:
        if is_multicast(endpoint[0]):
            return self.of_endpoint[(endpoint[0], 0)]
        return self.of_endpoint[endpoint]


@dataclass
class _Component:
    root: _Token
    order: int
    endpoints: list[Endpoint]  # on the wire
    declared: list[str]  # addresses only seen in transport parameters
    pe_ids: list[int]
    pr_ids: list[int]
    hints: set[str]

    @property
    def role(self) -> str:
        if self.pe_ids:
            return "PE"
        if self.pr_ids or "PR" in self.hints:
            return "PR"
        return "PE" if "PE" in self.hints else "PU"

    @property
    def addresses(self) -> list[str]:
        seen = dict.fromkeys(address for address, _ in self.endpoints)
        seen.update(dict.fromkeys(self.declared))
        return list(seen)

    def name(self) -> str:
        ids = self.pe_ids if self.role == "PE" else self.pr_ids if self.role == "PR" else []
        if ids:
            return f"{self.role} {' / '.join(ident(i) for i in ids)}"
        return f"{self.role} {self.addresses[0]}"


def find_nodes(records: Iterable[Record]) -> Nodes:
    """The nodes of the messages ``records`` hold, ordered pool users, registrars, pool
    elements, multicast groups; undecodable records count for their endpoints only."""
    joiner = _Joiner()
    directions: dict[tuple[str, int, int, int, str], _Token] = {}
    groups: dict[str, None] = {}
    for r in records:
        if r.incomplete:
            continue
        src = _endpoint(r.src)
        joiner.find(src)
        joiner.on_wire.add(src)
        dst: _Token | None = None
        if is_multicast(r.dst[0]):
            groups.setdefault(r.dst[0])
        else:
            dst = _endpoint(r.dst)
            joiner.find(dst)
            joiner.on_wire.add(dst)
        if r.transport == "sctp":  # one direction of one association: one source endpoint
            for side, token in (("src", src), ("dst", dst)):
                if token is not None:
                    key = (r.transport, r.src[1], r.dst[1], r.vtag, side)
                    joiner.join(directions.setdefault(key, token), token)
        if r.message is not None:
            _learn(joiner, r, src, dst)
    return _participants(joiner, groups)


def _participants(joiner: _Joiner, groups: dict[str, None]) -> Nodes:
    components: dict[_Token, _Component] = {}
    for token in sorted(joiner.parent, key=joiner.order.__getitem__):
        root = joiner.find(token)
        c = components.get(root)
        if c is None:
            c = components[root] = _Component(root, joiner.order[root], [], [], [], [], set())
        c.hints |= joiner.hints.get(token, set())
        if token[0] == "ep":
            endpoint = (str(token[1]), int(token[2]))  # type: ignore[misc]
            if token in joiner.on_wire:
                c.endpoints.append(endpoint)
            else:
                c.declared.append(endpoint[0])
        elif token[0] == "pe":
            c.pe_ids.append(int(token[1]))
        else:
            c.pr_ids.append(int(token[1]))
    on_wire = [c for c in components.values() if c.endpoints]
    # the pool user endpoints of one address are one pool user (it has no identifier)
    users: dict[str, _Component] = {}
    kept: list[_Component] = []
    for c in on_wire:
        if c.role != "PU":
            kept.append(c)
            continue
        first = c.endpoints[0][0]
        if first in users:
            users[first].endpoints.extend(c.endpoints)
        else:
            users[first] = c
            kept.append(c)
    rank = {role: n for n, role in enumerate(ROLES)}

    def order(c: _Component) -> tuple[int, int, int]:
        ids = c.pe_ids if c.role == "PE" else []
        return rank[c.role], min(ids) if ids else 0, c.order

    participants: list[Participant] = []
    of_endpoint: dict[Endpoint, str] = {}
    counts: dict[str, int] = {}
    for c in sorted(kept, key=order):
        counts[c.role] = counts.get(c.role, 0) + 1
        pid = f"{c.role.lower()}{counts[c.role]}"
        participants.append(Participant(pid, c.role, c.name(), tuple(c.addresses)))
        for endpoint in c.endpoints:
            of_endpoint[endpoint] = pid
    for n, group in enumerate(groups, 1):
        pid = f"group{n}"
        participants.append(Participant(pid, "group", f"multicast {group}", (group,)))
        of_endpoint[(group, 0)] = pid
    return Nodes(tuple(participants), of_endpoint)
