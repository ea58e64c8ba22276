"""The SCTP association model of the in-memory network (one side of an association).

A discrete-event model, driven by the network's timers in Trio time, detailed where RSerPool
cares and simple elsewhere:

* Every message gets a TSN. It goes out on the current path: the primary (first) peer address
  if that path is active, else the next active one, else the one with the fewest errors. A
  message arrives after the path's latency unless the path is down or the seeded loss drops
  it; its acknowledgement returns after another latency. The receiver delivers in TSN order
  (unordered messages at once) and drops duplicates.
* Retransmission timeout (RTO): a message not acknowledged after the path's RTO strikes the path
  (error count +1, RTO doubled up to rto_max) and the association (+1), and every overdue message
  is sent again. A struck path is avoided at once (Linux's potentially-failed state: failover
  after one RTO); more than ``path_max_retrans`` strikes make it UNREACHABLE
  (PeerAddressChange); more than ``max_retrans`` strikes in a row end the association
  (SendFailed for each unacknowledged message, then CommLost). Any acknowledgement clears the
  association's count and the path's.
* Heartbeats every ``heartbeat_interval + RTO`` on every path keep idle associations honest: a
  heartbeat that gets no answer strikes like a timeout; an answer makes an UNREACHABLE path
  AVAILABLE again. A packet that reaches a side whose peer is gone is answered by an ABORT: the
  sender gets CommLost.
* RTO: rto_initial until the first acknowledgement, then three round-trip times clamped to
  [rto_min, rto_max].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from rserpool.transport.abc import (
    Address,
    AddressState,
    AssociationGone,
    AssociationParams,
    CantStartAssociation,
    CommLost,
    PeerAddressChange,
    PeerShutdown,
    Received,
    SctpMessage,
    SendFailed,
    ShutdownComplete,
)

if TYPE_CHECKING:
    from rserpool.transport.memory import MemoryNetwork, Timer

USER_ABORT = 12  # SCTP error cause "User-Initiated Abort", reported in sac_error
PEER_ABORT = 12
NO_ERROR = 0


class Owner(Protocol):
    """The socket an association side reports to."""

    def deliver(self, item: Received) -> None: ...

    def forget(self, side: Side) -> None: ...


@dataclass(frozen=True)
class Settings:
    rto_initial: float
    rto_min: float
    rto_max: float
    heartbeat_interval: float
    path_max_retrans: int
    max_retrans: int

    def updated(self, params: AssociationParams | None) -> Settings:
        if params is None:
            return self
        p = params
        return Settings(
            self.rto_initial if p.rto_initial is None else p.rto_initial,
            self.rto_min if p.rto_min is None else p.rto_min,
            self.rto_max if p.rto_max is None else p.rto_max,
            self.heartbeat_interval if p.heartbeat_interval is None else p.heartbeat_interval,
            self.path_max_retrans if p.path_max_retrans is None else p.path_max_retrans,
            self.max_retrans if p.max_retrans is None else p.max_retrans,
        )


@dataclass(eq=False)
class Path:
    address: str
    rto: float
    errors: int = 0
    unreachable: bool = False
    heartbeat: Timer | None = None


@dataclass
class Chunk:
    tsn: int
    message: SctpMessage | None  # None: a SHUTDOWN
    sent_at: float = 0.0
    path: Path | None = None


@dataclass
class Side:
    """One end of an association."""

    net: MemoryNetwork
    owner: Owner
    assoc_id: int
    local: list[str]
    port: int
    peer_port: int
    settings: Settings
    paths: list[Path] = field(default_factory=list)
    peer: Side | None = None
    alive: bool = True
    established: bool = False
    closing: bool = False  # shutdown requested or received: no more user data
    errors: int = 0
    next_tsn: int = 0
    outstanding: dict[int, Chunk] = field(default_factory=dict)
    early: list[Chunk] = field(default_factory=list)  # sent before COMM_UP
    expected: int = 0
    reorder: dict[int, Chunk] = field(default_factory=dict)
    t3: Timer | None = None
    measured: bool = False

    # --- addresses -------------------------------------------------------------------------
    def peer_addresses(self) -> list[Address]:
        return [(p.address, self.peer_port) for p in self.paths]

    def local_addresses(self) -> list[Address]:
        return [(a, self.port) for a in self.local]

    def current_path(self) -> Path:
        for path in self.paths:
            if not path.errors and not path.unreachable:
                return path
        index = {id(p): i for i, p in enumerate(self.paths)}
        return min(self.paths, key=lambda p: (p.unreachable, p.errors, index[id(p)]))

    def route(self, path: Path) -> tuple[str, float] | None:
        """The source address and one-way delay of a packet on ``path`` (None: it is lost)."""
        for source in self.local:
            if self.net.path_is_up(source, path.address):
                delay = self.net.transmit(source, path.address)
                return None if delay is None else (source, delay)
        return None

    # --- life cycle ------------------------------------------------------------------------
    def start(self, peer: Side, peer_addresses: list[str]) -> None:
        self.peer = peer
        self.paths = [Path(a, self.settings.rto_initial) for a in peer_addresses]

    def establish(self) -> None:
        self.established = True
        for path in self.paths:
            self._arm_heartbeat(path)
        early, self.early = self.early, []
        for chunk in early:
            self._transmit(chunk)

    def end(self, item: Received | None) -> None:
        """Stop everything; report ``item`` (the ending event) unless None."""
        if not self.alive:
            return
        self.alive = False
        for timer in [self.t3, *(p.heartbeat for p in self.paths)]:
            if timer is not None:
                timer.cancel()
        if item is not None:
            self.owner.deliver(item)
        if isinstance(item, CommLost | CantStartAssociation):  # after it, as Linux does
            for chunk in sorted(self.outstanding.values(), key=lambda c: c.tsn) + self.early:
                if chunk.message is not None:
                    m = chunk.message
                    sent = chunk not in self.early
                    self.owner.deliver(SendFailed(self.assoc_id, m.data, m.ppid, m.stream, 0, sent))
        self.outstanding.clear()
        self.owner.forget(self)

    def abort(self) -> None:
        peer = self.peer
        path = self.current_path() if self.paths else None
        hop = self.route(path) if path is not None else None
        self.end(CommLost(self.assoc_id, USER_ABORT))
        if peer is not None and hop is not None:
            self.net.call_later(hop[1], lambda: peer.end(CommLost(peer.assoc_id, PEER_ABORT)))

    def vanish(self) -> None:
        """The host crashed: end without a word to anyone."""
        self.alive = False
        for timer in [self.t3, *(p.heartbeat for p in self.paths)]:
            if timer is not None:
                timer.cancel()

    # --- sending ---------------------------------------------------------------------------
    def send(self, message: SctpMessage | None) -> None:
        if not self.alive or self.closing:
            raise AssociationGone(f"association {self.assoc_id} is gone or shutting down")
        if message is None:
            self.closing = True
        chunk = Chunk(self.next_tsn, message)
        self.next_tsn += 1
        if not self.established:
            self.early.append(chunk)
            return
        self._transmit(chunk)

    def _transmit(self, chunk: Chunk) -> None:
        self.outstanding[chunk.tsn] = chunk
        chunk.sent_at = self.net.now()
        path = self.current_path()
        chunk.path = path
        hop = self.route(path)
        if hop is not None:
            source, delay = hop
            peer = self.peer
            assert peer is not None
            self.net.call_later(delay, lambda: peer.arrive(chunk, source, self, path, delay))
        if self.t3 is None:
            self.t3 = self.net.call_later(path.rto, self._retransmission_timeout)

    def arrive(self, chunk: Chunk, source: str, sender: Side, path: Path, delay: float) -> None:
        if not self.alive:
            if sender.peer is self and sender.alive:  # answered by an ABORT
                sender.net.call_later(delay, lambda: sender.end(CommLost(sender.assoc_id, 0)))
            return
        self.net.call_later(delay, lambda: sender.acknowledged(chunk.tsn, path, 2 * delay))
        if chunk.tsn < self.expected or chunk.tsn in self.reorder:
            return
        message = chunk.message
        if message is not None:
            message = SctpMessage(
                message.data, message.ppid, message.stream, self.assoc_id, message.unordered,
                (source, self.peer_port),
            )  # fmt: skip
            chunk = Chunk(chunk.tsn, message)
            if message.unordered:
                self.owner.deliver(message)
                chunk = Chunk(chunk.tsn, SctpMessage(b"", 0, 0, 0, True))  # delivered already
        self.reorder[chunk.tsn] = chunk
        while self.expected in self.reorder:
            ready = self.reorder.pop(self.expected)
            self.expected += 1
            if ready.message is None:
                self.closing = True
                self.owner.deliver(PeerShutdown(self.assoc_id))
            elif not ready.message.unordered:
                self.owner.deliver(ready.message)

    def acknowledged(self, tsn: int, path: Path, rtt: float) -> None:
        if not self.alive:
            return
        self.errors = 0
        self._heard_on(path, rtt)
        chunk = self.outstanding.pop(tsn, None)
        if chunk is not None and chunk.message is None:  # SHUTDOWN-ACK
            peer = self.peer
            self.end(ShutdownComplete(self.assoc_id))
            if peer is not None:
                self.net.call_later(rtt / 2, lambda: peer.end(ShutdownComplete(peer.assoc_id)))
            return
        if not self.outstanding and self.t3 is not None:
            self.t3.cancel()
            self.t3 = None

    def _heard_on(self, path: Path, rtt: float) -> None:
        path.errors = 0
        s = self.settings
        if path.unreachable:
            path.unreachable = False
            self.owner.deliver(
                PeerAddressChange(
                    self.assoc_id, (path.address, self.peer_port), AddressState.AVAILABLE
                )
            )
        path.rto = min(max(3 * rtt, s.rto_min), s.rto_max)

    def _strike(self, path: Path) -> bool:
        """One timeout on ``path``; False when it ended the association."""
        s = self.settings
        path.errors += 1
        path.rto = min(2 * path.rto, s.rto_max)
        if path.errors > s.path_max_retrans and not path.unreachable:
            path.unreachable = True
            self.owner.deliver(
                PeerAddressChange(
                    self.assoc_id, (path.address, self.peer_port), AddressState.UNREACHABLE
                )
            )
        self.errors += 1
        if self.errors > s.max_retrans:
            self.end(CommLost(self.assoc_id, NO_ERROR))
            return False
        return True

    def _retransmission_timeout(self) -> None:
        """T3-rtx expiry: strike each path with an overdue chunk once, then send every chunk
        that went out on a struck path again (on the path chosen now)."""
        self.t3 = None
        if not self.alive or not self.outstanding:
            return
        now = self.net.now()
        struck: list[Path] = []
        for chunk in self.outstanding.values():
            path = chunk.path
            if path is not None and path not in struck and chunk.sent_at + path.rto <= now + 1e-9:
                struck.append(path)
        for path in struck:
            if not self._strike(path):
                return
        resend = [c for c in self.outstanding.values() if c.path in struck]
        for chunk in sorted(resend, key=lambda c: c.tsn):
            self._transmit(chunk)
        if self.t3 is None and self.outstanding:
            wait = min(
                c.sent_at + (c.path.rto if c.path else 0.0) - now for c in self.outstanding.values()
            )
            self.t3 = self.net.call_later(max(wait, 1e-6), self._retransmission_timeout)

    # --- heartbeats ------------------------------------------------------------------------
    def _arm_heartbeat(self, path: Path) -> None:
        interval = self.settings.heartbeat_interval
        if interval > 0 and self.alive:
            path.heartbeat = self.net.call_later(interval + path.rto, lambda: self._beat(path))

    def _beat(self, path: Path) -> None:
        if not self.alive:
            return
        hop = self.route(path)
        peer = self.peer
        if hop is None or peer is None:
            rto = path.rto
            path.heartbeat = self.net.call_later(rto, lambda: self._missed(path))
            return
        _source, delay = hop
        if not peer.alive:
            self.net.call_later(2 * delay, lambda: self.end(CommLost(self.assoc_id, 0)))
            return

        def answered() -> None:
            if self.alive:
                self.errors = 0
                self._heard_on(path, 2 * delay)
                self._arm_heartbeat(path)

        path.heartbeat = self.net.call_later(2 * delay, answered)

    def _missed(self, path: Path) -> None:
        if self.alive and self._strike(path):
            self._arm_heartbeat(path)
