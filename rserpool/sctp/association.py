"""One SCTP association, sans-IO: decoded packets and ``now`` (integer ms) in; datagrams,
events and the next deadline out. Every input is checked against ``state.TRANSITIONS``.

The endpoint (``rserpool.sctp.endpoint``) owns the associations: it answers INIT without
state, authenticates COOKIE ECHO, and hands each association the packets that are its own.
The user calls live in ``rserpool.sctp.user_calls``, the setup handlers in
``rserpool.sctp.initiation`` and the other chunk handlers in ``rserpool.sctp.receiving``; this
module keeps the TCB, the timers, the paths and the packet building (bundling, §6.10).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from rserpool.sctp.causes import ErrorCause
from rserpool.sctp.chunks import Chunk, Heartbeat, Init
from rserpool.sctp.config import SctpConfig
from rserpool.sctp.cookie import CookieJar
from rserpool.sctp.errors import SctpUsageError
from rserpool.sctp.events import (
    CommunicationLost,
    CommunicationUp,
    LostReason,
    NetworkStatusChange,
    SctpEvent,
    Undelivered,
)
from rserpool.sctp.inbound import Inbound
from rserpool.sctp.outbound import Outbound
from rserpool.sctp.packet import assemble
from rserpool.sctp.params import IPAddress
from rserpool.sctp.path import Path
from rserpool.sctp.state import USER_INPUTS, Input, State, transition

SENDING_STATES = (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED)


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP datagram to send: the SCTP packet and the peer's address and UDP port."""

    address: IPAddress
    port: int
    data: bytes


class Timer(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's own hash is slow

    T1_INIT = Input.T1_INIT
    T1_COOKIE = Input.T1_COOKIE
    T2_SHUTDOWN = Input.T2_SHUTDOWN
    T3_RTX = Input.T3_RTX  # one per path
    HEARTBEAT = Input.HEARTBEAT_TIMER  # one per path
    DELAYED_SACK = Input.DELAYED_SACK


TimerKey = tuple[Timer, IPAddress | None]


class StateTableViolation(AssertionError):
    """The code tried a change of state that ``state.TRANSITIONS`` does not list: a bug."""


class AssociationBase:
    """The TCB (RFC 9260 §14.2) and everything but the chunk handlers."""

    def __init__(
        self,
        assoc_id: int,
        config: SctpConfig,
        rng: random.Random,
        jar: CookieJar,
        local_port: int,
        peer_port: int,
        local_addresses: tuple[IPAddress, ...],
    ) -> None:
        self.assoc_id = assoc_id
        self.config = config
        self.rng = rng
        self.jar = jar
        self.local_port = local_port
        self.peer_port = peer_port
        self.local_addresses = local_addresses
        self.state = State.CLOSED
        self.my_tag = 0
        self.peer_tag = 0
        self.tie_tags = (0, 0)  # (local, peer) Tie-Tags, §5.2.2
        self.local_tsn = 0  # our Initial TSN
        self.paths: dict[IPAddress, Path] = {}
        self.primary: IPAddress | None = None
        self.outbound: Outbound | None = None
        self.inbound: Inbound | None = None
        self.error_count = 0  # the association's, §8.1
        self.init_tries = 0
        self.init_chunk: Init | None = None
        self.cookie: bytes | None = None
        self.cookie_increment = 0
        self.sack_due = False
        self.sack_to: IPAddress | None = None
        self._early: list[tuple[int, int, bytes, bool]] = []  # sent before ESTABLISHED
        self._timers: dict[TimerKey, int] = {}
        self._control: list[tuple[Chunk, IPAddress | None]] = []  # None: the data path
        self._fast_rtx: set[Path] = set()
        self._datagrams: list[Datagram] = []
        self._events: list[SctpEvent] = []

    # ----------------------------------------------------------------- state table

    def accepts(self, event: Input) -> bool:
        return transition(self.state, event) is not None

    def enter(self, event: Input, new: State) -> None:
        entry = transition(self.state, event)
        if entry is None or new not in entry.to:
            raise StateTableViolation(f"{self.state.value} --{event.value}--> {new.value}")
        self.state = new

    def _user(self, event: Input) -> None:
        assert event in USER_INPUTS
        if not self.accepts(event):
            raise SctpUsageError(f"{event.value} is not possible in {self.state.value}")

    # --------------------------------------------------------------------- outputs

    def datagrams(self) -> list[Datagram]:
        out, self._datagrams = self._datagrams, []
        return out

    def events(self) -> list[SctpEvent]:
        out, self._events = self._events, []
        return out

    def emit(self, event: SctpEvent) -> None:
        self._events.append(event)

    def queue(self, chunk: Chunk, to: IPAddress | None = None) -> None:
        self._control.append((chunk, to))

    def send_alone(self, chunks: list[Chunk], to: IPAddress, port: int, tag: int) -> None:
        """A packet of its own (INIT, INIT ACK, SHUTDOWN COMPLETE, OOTB answers)."""
        data = assemble(self.local_port, self.peer_port, tag, [c.encode() for c in chunks])
        self._datagrams.append(Datagram(to, port, data))

    # ---------------------------------------------------------------------- timers

    def set_timer(self, timer: Timer, at: int, path: IPAddress | None = None) -> None:
        self._timers[(timer, path)] = at

    def cancel_timer(self, timer: Timer, path: IPAddress | None = None) -> None:
        self._timers.pop((timer, path), None)

    def timer_running(self, timer: Timer, path: IPAddress | None = None) -> bool:
        return (timer, path) in self._timers

    def next_deadline(self) -> int | None:
        return min(self._timers.values(), default=None)

    def handle_timers(self, now: int) -> None:
        due = sorted((at, i, key) for i, (key, at) in enumerate(self._timers.items()) if at <= now)
        for at, _, key in due:
            if self._timers.get(key) != at:
                continue  # cancelled or moved by an earlier handler
            del self._timers[key]
            timer, address = key
            if self.accepts(timer.value):
                self.on_timer(timer, address, now)
        self.flush(now)

    def on_timer(self, timer: Timer, address: IPAddress | None, now: int) -> None:
        raise NotImplementedError

    def reconfigure(self, config: SctpConfig) -> None:
        """New protocol parameters for this association alone (RTO bounds, retransmission
        budgets, heartbeat interval); a path's current RTO is clamped to the new bounds."""
        self.config = config
        for path in self.paths.values():
            path.config = path.rto.config = config
            path.rto.rto = min(config.rto_max, max(config.rto_min, path.rto.rto))
        for part in (self.outbound, self.inbound):
            if part is not None:
                part.config = config

    # ----------------------------------------------------------------------- paths

    def add_path(self, address: IPAddress, port: int, confirmed: bool) -> Path:
        path = self.paths.get(address)
        if path is None:
            path = self.paths[address] = Path(address, port, self.config, confirmed=confirmed)
        path.confirmed = path.confirmed or confirmed
        return path

    def data_path(self) -> Path:
        """The primary if it is usable, else the first active confirmed path (§6.4)."""
        assert self.primary is not None
        primary = self.paths[self.primary]
        if primary.active and primary.confirmed:
            return primary
        for path in self.paths.values():
            if path.active and path.confirmed:
                return path
        return primary

    def alternate(self, path: Path) -> Path:
        """Another active confirmed path for a retransmission (§6.4), else ``path``."""
        for other in self.paths.values():
            if other is not path and other.active and other.confirmed:
                return other
        return path

    def path_error(self, path: Path, now: int, event: Input) -> bool:
        """Count a T3-rtx or heartbeat failure (§8.1, §8.2); False if the association died."""
        path.error_count += 1
        if path.active and path.error_count > self.config.path_max_retrans:
            path.active = False
            self.emit(NetworkStatusChange(self.assoc_id, path.address, False))
        if not path.confirmed:
            return True  # §5.4: probing an unconfirmed address never ends the association
        self.error_count += 1
        if self.error_count > self.config.association_max_retrans:
            self.lose(event, LostReason.RETRANSMISSIONS)
            return False
        return True

    def path_ok(self, path: Path) -> None:
        """An acknowledgement came back for ``path``: clear the error counters."""
        path.error_count = 0
        self.error_count = 0
        if not path.active:
            path.active = True
            self.emit(NetworkStatusChange(self.assoc_id, path.address, True))

    def send_heartbeat(self, path: Path, now: int) -> None:
        nonce = self.rng.getrandbits(64)
        info = bytes([path.address.version]) + path.address.packed.rjust(16, b"\0")
        info += now.to_bytes(8, "big") + nonce.to_bytes(8, "big")
        path.heartbeat_outstanding = True
        path.heartbeat_nonce = nonce
        self.queue(Heartbeat(info), path.address)
        self.schedule_heartbeat(path, now)

    def schedule_heartbeat(self, path: Path, now: int) -> None:
        """§8.3: every HB.interval plus the path's RTO, jittered by ±50% of the RTO."""
        if not self.config.hb_enabled:
            return
        rto = path.rto.rto
        jitter = round(rto * self.rng.uniform(-0.5, 0.5))
        interval = self.config.hb_interval if path.confirmed else 0
        self.set_timer(Timer.HEARTBEAT, now + interval + rto + jitter, path.address)

    # ------------------------------------------------------------------- lifecycle

    def setup(
        self,
        *,
        peer_tag: int,
        peer_tsn: int,
        outbound_streams: int,
        inbound_streams: int,
        peer_rwnd: int,
        addresses: tuple[IPAddress, ...],
        source: IPAddress,
        port: int,
    ) -> None:
        """Fill the TCB once the peer's parameters are known (INIT ACK or cookie)."""
        self.peer_tag = peer_tag
        for address in addresses:
            # §5.4: the source of the packet and the addresses the user gave are confirmed
            self.add_path(address, port, confirmed=address == source)
        if self.primary is None or self.primary not in self.paths:
            self.primary = source
        self.outbound = Outbound(self.config, self.local_tsn, outbound_streams, peer_rwnd)
        for path in self.paths.values():
            path.reset_congestion(peer_rwnd)
        self.inbound = Inbound(self.config, peer_tsn, inbound_streams)
        for stream, ppid, data, unordered in self._early:
            if stream < outbound_streams:  # a stream the peer did not allow: dropped
                self.outbound.enqueue(stream, ppid, data, unordered)
        self._early.clear()

    def is_closed(self) -> bool:
        return self.state is State.CLOSED

    def established(self, now: int, notify: bool = True) -> None:
        """Entering ESTABLISHED: tell the user, start heartbeats (§8.3, §5.4)."""
        assert self.outbound is not None and self.inbound is not None
        self.init_tries = 0
        self.cancel_timer(Timer.T1_INIT)
        self.cancel_timer(Timer.T1_COOKIE)
        if notify:
            outbound, inbound = self.outbound.outbound_streams, self.inbound.inbound_streams
            self.emit(CommunicationUp(self.assoc_id, outbound, inbound))
        for path in self.paths.values():
            if not self.config.hb_enabled:
                break
            if path.confirmed:
                self.schedule_heartbeat(path, now)
            else:
                self.send_heartbeat(path, now)

    def lose(self, event: Input, reason: LostReason, causes: tuple[ErrorCause, ...] = ()) -> None:
        unsent, unacked = self.outbound.lost_messages() if self.outbound else (0, 0)
        undelivered = self.outbound.undelivered() if self.outbound else []
        undelivered += [Undelivered(s, p, data, False) for s, p, data, _ in self._early]
        self.enter(event, State.CLOSED)
        self._timers.clear()
        self._control.clear()
        self.emit(
            CommunicationLost(
                self.assoc_id,
                reason,
                causes,
                unsent + len(self._early),
                unacked,
                tuple(undelivered),
            )
        )

    def closed(self, event: Input) -> None:
        self.enter(event, State.CLOSED)
        self._timers.clear()
        self._control.clear()

    # ------------------------------------------------------------- packet building

    def flush(self, now: int) -> None:
        """Send everything due: control chunks first, then DATA, bundled to the MTU."""
        if self.state is State.CLOSED or self.primary is None or self.peer_tag == 0:
            return
        mtu = self.config.mtu
        sending = self.state in SENDING_STATES and self.outbound is not None
        # A SACK the delayed SACK timer holds rides along with outgoing DATA (§6.2 allows a
        # SACK at any time; this is how Linux and FreeBSD answer a request at once): a peer
        # that waits for its data to be acknowledged before it sends more (Nagle) need not
        # wait for our timer.
        if (
            not self.sack_due
            and sending
            and self.outbound is not None
            and self.outbound.has_new()
            and self.timer_running(Timer.DELAYED_SACK)
        ):
            self.sack_due = True
        if self.sack_due and self.inbound is not None:
            self.queue(self.inbound.make_sack(), self.sack_to)
            self.sack_due = False
            self.cancel_timer(Timer.DELAYED_SACK)
        main = self.data_path()
        groups: dict[IPAddress, list[bytes]] = {}
        for chunk, to in self._control:
            address = to if to is not None and to in self.paths else main.address
            groups.setdefault(address, []).append(chunk.encode())
        self._control.clear()
        if sending and main.address not in groups and self._fast_rtx:
            groups[main.address] = []
        for address, encoded in groups.items():
            path = self.paths[address]
            packet: list[bytes] = []
            size = 12
            for enc in encoded:
                if packet and size + len(enc) > mtu:
                    self._emit(path, packet)
                    packet, size = [], 12
                packet.append(enc)
                size += len(enc)
            if sending and path is main:
                fast = bool(self._fast_rtx)
                data = self._fill(path, mtu - size, now, fast)
                packet.extend(d.encode() for d in data)
            self._emit(path, packet)
        if not sending or self.outbound is None:
            return
        if self._fast_rtx:  # §7.2.4 step 3: one packet, cwnd ignored
            self._emit(main, [d.encode() for d in self._fill(main, mtu - 12, now, True)])
        for _ in range(self.config.max_burst):  # §6.1 D
            data = self._fill(main, mtu - 12, now, False)
            if not data:
                break
            self._emit(main, [d.encode() for d in data])

    def _fill(self, path: Path, room: int, now: int, fast: bool) -> list[Chunk]:
        assert self.outbound is not None
        if fast:
            self._fast_rtx.clear()
        data = self.outbound.fill(path, room, now, ignore_cwnd=fast)
        if data and not self.timer_running(Timer.T3_RTX, path.address):
            self.set_timer(Timer.T3_RTX, now + path.rto.rto, path.address)  # §6.3.2 R1
        return list(data)

    def _emit(self, path: Path, chunks: list[bytes]) -> None:
        if chunks:
            data = assemble(self.local_port, self.peer_port, self.peer_tag, chunks)
            self._datagrams.append(Datagram(path.address, path.udp_port, data))
