"""Which association of a one-to-many endpoint leads where: the driver's side of ``Send(to=)``.

The registrar core names a destination either by association id or, for an ENRP peer whose
association it does not know and for the H-bit Keep Alive after a takeover, by transport
address. :class:`AssociationTable` answers "is there an association to any of these addresses
on that port?" (SCTP allows one association per pair of endpoints, so reusing it is required,
not an optimisation) and keeps each association's peer transport address for ``receive``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from rserpool.proto.common import AssocId, IPAddress, TransportAddress
from rserpool.transport import Address


def parse_ip(text: str) -> IPAddress | None:
    """An address from the socket layer (``fe80::1%eth0`` included), or None."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def transport_of(addresses: Iterable[Address]) -> TransportAddress | None:
    """``[(ip, port), ...]`` as one TransportAddress (the port of the first entry)."""
    ips: list[IPAddress] = []
    port: int | None = None
    for host, p in addresses:
        ip = parse_ip(host)
        if ip is None:
            continue
        if port is None:
            port = p
        if ip not in ips:
            ips.append(ip)
    if port is None:
        return None
    return TransportAddress(tuple(ips), port)


class AssociationTable:
    """Live (or starting) associations of one endpoint and their peer transport addresses."""

    __slots__ = ("_peers", "_starting")

    def __init__(self) -> None:
        self._peers: dict[AssocId, TransportAddress] = {}
        self._starting: set[AssocId] = set()

    def __len__(self) -> int:
        return len(self._peers)

    def __contains__(self, assoc_id: object) -> bool:
        return assoc_id in self._peers

    def peer(self, assoc_id: AssocId) -> TransportAddress | None:
        return self._peers.get(assoc_id)

    def set_peer(self, assoc_id: AssocId, peer: TransportAddress) -> None:
        """The association is up (or its peer addresses changed)."""
        self._peers[assoc_id] = peer
        self._starting.discard(assoc_id)

    def starting(self, assoc_id: AssocId, to: TransportAddress) -> None:
        """We called ``connect``: sends to ``to`` go to this association from now on."""
        self._peers[assoc_id] = to
        self._starting.add(assoc_id)

    def is_starting(self, assoc_id: AssocId) -> bool:
        return assoc_id in self._starting

    def lost(self, assoc_id: AssocId) -> None:
        self._peers.pop(assoc_id, None)
        self._starting.discard(assoc_id)

    def find(self, to: TransportAddress) -> AssocId | None:
        """An association with any of ``to``'s addresses on ``to``'s port (established ones
        first), or None."""
        wanted = set(to.addresses)
        found: AssocId | None = None
        for assoc_id, peer in self._peers.items():
            if peer.port == to.port and wanted.intersection(peer.addresses):
                if assoc_id not in self._starting:
                    return assoc_id
                found = assoc_id if found is None else found
        return found
