"""The ENRP peer list (RFC 5353 §3.4, RSPLIB ``peerlistmanagement``): one record per registrar.

A static peer (``-peer=``) starts with server id 0 ("unknown") and only its transport address;
it gets its id from the first Presence whose association comes from that address.

A peer is *verified* once a Presence of it arrived over an SCTP association from its own
addresses; a peer known only from a multicast Presence or a List Response is not, and does not
take part in takeovers (RFC 5353 §3.5: it owes no Init Takeover Ack) until it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rserpool.handlespace import Key
from rserpool.proto.common import AssocId, TransportAddress
from rserpool.proto.registrar.machines import PeerState


@dataclass(slots=True)
class HandleTableDownload:
    """We asked this peer for its handle table (mentor download or checksum audit).

    ``stale`` holds the keys of the peer's PEs marked before an own-children-only audit; each
    one refreshed by a response entry is unmarked. What is left is looked up in the peer's
    whole table (``verifying``): only what the peer does not know at all is purged.
    """

    own_children_only: bool
    started: int
    stale: set[Key] = field(default_factory=set)
    received: int = 0
    verifying: bool = False  # the second, full download of an audit that left marks


@dataclass(slots=True)
class HandleTableContinuation:
    """We answer this peer's Handle Table Requests in pages; where the next page starts."""

    own_children_only: bool
    after: Key
    at: int  # when the page was sent: a continuation older than the peer timeouts has lapsed


@dataclass(slots=True)
class Peer:
    server_id: int  # 0 = a static peer whose id is not known yet
    transport: TransportAddress  # its ENRP SCTP transport address
    static: bool = False
    assoc_id: AssocId | None = None
    last_heard: int | None = None
    state: PeerState = PeerState.NEW  # changed through the ``PEERS`` machine only
    taken_over_by: int | None = None  # BEING_TAKEN_OVER: the registrar taking it over
    list_requested: bool = False
    verified: bool = False  # a Presence came over SCTP from its own addresses
    download: HandleTableDownload | None = None
    continuation: HandleTableContinuation | None = None

    def __str__(self) -> str:
        return f"peer {self.server_id:#010x} at {self.transport}"


class PeerTable:
    """Peers by server id, static peers without id, and the association index."""

    __slots__ = ("_by_assoc", "_by_id", "_configured", "_unknown_static")

    def __init__(self, static_peers: tuple[TransportAddress, ...] = ()) -> None:
        self._configured = static_peers
        self._by_id: dict[int, Peer] = {}
        self._unknown_static: list[Peer] = [Peer(0, t, static=True) for t in static_peers]
        self._by_assoc: dict[AssocId, Peer] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Peer]:
        """Peers with a known id, in id order."""
        by_id = self._by_id
        if not by_id:  # fast path: a lone registrar sorts nothing on every PE change
            return iter(())
        return iter([by_id[server_id] for server_id in sorted(by_id)])

    def __contains__(self, server_id: int) -> bool:
        return server_id in self._by_id

    def configured(self, transport: TransportAddress) -> bool:
        """Whether ``transport`` is one of the configured static peers (``--peer``)."""
        return any(same_endpoint(static, transport) for static in self._configured)

    def everyone(self) -> list[Peer]:
        """Known peers plus static peers whose id is still unknown (all get Presence)."""
        if not self._by_id:  # fast path: no sort, no list of the known ones
            return self._unknown_static.copy()
        return [*self, *self._unknown_static]

    def get(self, server_id: int) -> Peer | None:
        return self._by_id.get(server_id)

    def by_assoc(self, assoc_id: AssocId) -> Peer | None:
        return self._by_assoc.get(assoc_id)

    def add(self, server_id: int, transport: TransportAddress) -> Peer:
        """A new peer; a static peer with id 0 at the same addresses and port is adopted."""
        for static in self._unknown_static:
            if same_endpoint(static.transport, transport):
                self._unknown_static.remove(static)
                static.server_id = server_id
                static.transport = transport
                self._by_id[server_id] = static
                return static
        peer = self._by_id[server_id] = Peer(server_id, transport)
        return peer

    def bind(self, peer: Peer, assoc_id: AssocId) -> None:
        """``assoc_id`` is the ENRP association with ``peer`` (replacing any older one)."""
        if peer.assoc_id is not None and self._by_assoc.get(peer.assoc_id) is peer:
            del self._by_assoc[peer.assoc_id]
        other = self._by_assoc.get(assoc_id)
        if other is not None and other is not peer:
            other.assoc_id = None
        peer.assoc_id = assoc_id
        self._by_assoc[assoc_id] = peer

    def unbind(self, assoc_id: AssocId) -> Peer | None:
        """The association is gone; returns the peer it belonged to."""
        peer = self._by_assoc.pop(assoc_id, None)
        if peer is not None:
            peer.assoc_id = None
            peer.continuation = None
        return peer

    def remove(self, server_id: int) -> Peer | None:
        """Forget a peer; a static one goes back to "id unknown" and is tried again."""
        peer = self._by_id.pop(server_id, None)
        if peer is None:
            return None
        if peer.assoc_id is not None:
            self._by_assoc.pop(peer.assoc_id, None)
        if peer.static:
            self._unknown_static.append(Peer(0, peer.transport, static=True))
        return peer


def same_endpoint(a: TransportAddress, b: TransportAddress) -> bool:
    """The same SCTP endpoint: the same port and at least one address in common."""
    return a.port == b.port and not set(a.addresses).isdisjoint(b.addresses)
