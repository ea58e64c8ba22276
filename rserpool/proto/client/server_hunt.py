"""The server hunt of a PE or PU (RFC 5352 §3.6 and SH1-SH6, as RSPLIB does it).

:class:`ServerHunt` keeps the registrar table (Server Announces, each entry outdated by
T7-ENRPoutdate, plus the static list) and finds a home registrar: at most three connects at
once, the first association that comes up wins, T5-serverHunt doubles up to RETRAN-max. It
also holds the core's output (actions, events) and timers. What happens on the home
association is :class:`~rserpool.proto.client.hunt.RegistrarClient`'s business.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from rserpool.proto.client.hunt_types import (
    CancelConnect,
    ConnectRegistrar,
    EndpointAction,
    HomeChangeReason,
    HomeRegistrar,
    RegistrarAnnounced,
    RegistrarConnectFailed,
    RegistrarConnecting,
    RegistrarConnectTimeout,
    RegistrarHuntConfig,
    ServerHuntStarted,
    ServerHuntWaiting,
    T5ServerHunt,
    T7EnrpOutdate,
    TimerKey,
)
from rserpool.proto.common import (
    Abort,
    AssocId,
    Channel,
    Endpoint,
    Event,
    IPAddress,
    MessageIgnored,
    TimerTable,
    TransportAddress,
)
from rserpool.wire import PPID, DecodeError, SctpTransport, ServerAnnounce, decode_message_untrusted


@dataclass(slots=True)
class _Attempt:
    to: TransportAddress
    started: int = 0


@dataclass(slots=True)
class _Announced:
    server_id: int
    last_heard: int


class ServerHunt:
    """Output, timers, the registrar table and the hunt for a home registrar (see the module
    docstring). Subclasses adopt the association that wins (:meth:`_adopt`) and say whether a
    registrar is wanted at all (:meth:`_needs_registrar`)."""

    def __init__(self, hunt: RegistrarHuntConfig, rng: random.Random, now: int) -> None:
        self.hunt_config = hunt
        self._rng = rng
        self._timers: TimerTable[TimerKey] = TimerTable()
        self._actions: list[EndpointAction] = []
        self._events: list[Event] = []
        self._announced: dict[TransportAddress, _Announced] = {}
        self._home: HomeRegistrar | None = None
        self._hunting = False
        self._t5 = hunt.server_hunt_timeout
        self._tried: set[TransportAddress] = set()
        self._attempts: dict[int, _Attempt] = {}
        self._trials: dict[TransportAddress, int] = {}  # connect attempts per address, ever
        self._next_attempt = 1
        self.created = now

    # ------------------------------------------------------------------ queries

    @property
    def home(self) -> HomeRegistrar | None:
        return self._home

    @property
    def hunting(self) -> bool:
        return self._hunting

    def known_registrars(self) -> dict[TransportAddress, int | None]:
        """Announced registrars (address → server id) and the static ones (→ None)."""
        known: dict[TransportAddress, int | None] = {
            a: e.server_id for a, e in self._announced.items()
        }
        for address in self.hunt_config.static_registrars:
            known.setdefault(address, None)
        return known

    # ------------------------------------------------------------------ output

    def next_deadline(self) -> int | None:
        return self._timers.next_deadline()

    def outgoing(self) -> list[EndpointAction]:
        """The actions to perform, in order (drains)."""
        actions, self._actions = self._actions, []
        return actions

    def events(self) -> list[Event]:
        """What happened since the last call (drains)."""
        events, self._events = self._events, []
        return events

    def _act(self, action: EndpointAction) -> None:
        self._actions.append(action)

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    # ------------------------------------------------------------------ input: announces

    def receive_announce(self, data: bytes, source: tuple[IPAddress, int], now: int) -> None:
        """A UDP datagram from the ASAP announce group; ``source`` = (source IP, source port).

        The registrar's address is the first SCTP transport in the announce, or else (as
        RSPLIB does) the datagram's source address and source port.
        """
        try:
            message = decode_message_untrusted(PPID.ASAP, data)
        except DecodeError as exc:
            self._emit(MessageIgnored(Channel.ANNOUNCE, None, exc.reason))
            return
        if not isinstance(message, ServerAnnounce):
            reason = f"{message.NAME} on the announce group"
            self._emit(MessageIgnored(Channel.ANNOUNCE, None, reason))
            return
        sctp = [t for t in message.transports if isinstance(t, SctpTransport)]
        if sctp:
            address = TransportAddress.of(sctp[0])
        else:
            address = TransportAddress((source[0],), source[1])
        if address.port == 0 or not address.addresses:
            reason = "announce without a usable address"
            self._emit(MessageIgnored(Channel.ANNOUNCE, None, reason))
            return
        known = address in self._announced
        self._announced[address] = _Announced(message.server_id, now)
        self._timers.set(T7EnrpOutdate(address), now + self.hunt_config.announce_timeout)
        home = self._home
        if home is not None and home.server_id is None and home.address == address:
            self._home = replace(home, server_id=message.server_id)
        if not known:
            self._emit(RegistrarAnnounced(message.server_id, address))
            if self._hunting:
                self._connect_more(now)

    # ------------------------------------------------------------------ input: connects

    def registrar_connected(
        self, attempt: int, assoc_id: AssocId, now: int, peer: TransportAddress | None = None
    ) -> None:
        """The association of :class:`ConnectRegistrar` ``attempt`` is up (SH3, SH6)."""
        record = self._attempts.pop(attempt, None)
        self._timers.cancel(RegistrarConnectTimeout(attempt))
        if record is None or not self._hunting or self._home is not None:
            self._act(Abort(Endpoint.ASAP, assoc_id))  # lost the race, or given up on
            return
        for other in list(self._attempts):
            self._cancel_attempt(other)
        self._hunting = False
        self._timers.cancel(T5ServerHunt())
        self._t5 = self.hunt_config.server_hunt_timeout
        address = peer if peer is not None else record.to
        entry = self._announced.get(record.to)
        home = HomeRegistrar(assoc_id, address, None if entry is None else entry.server_id)
        self._adopt(home, HomeChangeReason.SERVER_HUNT, now)

    def registrar_connect_failed(
        self, attempt: int, now: int, reason: str = "connection failed"
    ) -> None:
        """The association of ``attempt`` could not be set up (SH4: try another address);
        ``reason`` says why, for the user ("connection refused", ...)."""
        record = self._attempts.pop(attempt, None)
        if record is None:
            return
        self._timers.cancel(RegistrarConnectTimeout(attempt))
        self._emit(RegistrarConnectFailed(attempt, record.to, reason))
        if self._hunting:
            self._connect_more(now)
            self._tell_waiting(now)

    # ------------------------------------------------------------------ timers

    def handle_timers(self, now: int) -> None:
        """Run everything due at or before ``now`` (harmless when nothing is due)."""
        for _ in range(10_000):
            due = self._timers.pop_due(now)
            if not due:
                return
            for key in due:
                self._fire(key, now)

    def _fire(self, key: TimerKey, now: int) -> None:
        """Run one due timer; subclasses handle their own kinds and pass the rest up."""
        match key:
            case T7EnrpOutdate(address):
                self._announced.pop(address, None)
            case RegistrarConnectTimeout(attempt):
                self._connect_timed_out(attempt, now)
            case T5ServerHunt():
                self._t5_expired(now)
            case _:
                raise AssertionError(f"no handler for timer {key}")

    def _connect_timed_out(self, attempt: int, now: int) -> None:
        record = self._attempts.get(attempt)
        if record is None:
            return
        self._cancel_attempt(attempt)
        waited = (now - record.started) / 1000
        self._emit(RegistrarConnectFailed(attempt, record.to, f"timed out ({waited:g} s)"))
        if self._hunting:
            self._connect_more(now)
            self._tell_waiting(now)

    # ------------------------------------------------------------------ the hunt

    def _ensure_hunt(self, now: int) -> None:
        if self._home is not None or self._hunting or not self._needs_registrar():
            return
        self._hunting = True
        self._tried.clear()
        self._emit(ServerHuntStarted(len(self.known_registrars())))
        self._timers.set(T5ServerHunt(), now + self._t5)
        self._connect_more(now)
        self._tell_waiting(now)

    def _stop_hunt(self) -> None:
        self._hunting = False
        self._timers.cancel(T5ServerHunt())
        for attempt in list(self._attempts):
            self._cancel_attempt(attempt)

    def _candidates(self) -> list[TransportAddress]:
        announced = sorted(self._announced.items(), key=lambda item: -item[1].last_heard)
        busy = {a.to for a in self._attempts.values()}
        result: list[TransportAddress] = []
        for address in [a for a, _ in announced] + list(self.hunt_config.static_registrars):
            if address not in self._tried and address not in busy and address not in result:
                result.append(address)
        return result

    def _connect_more(self, now: int) -> None:
        limit = self.hunt_config.max_simultaneous_connects
        for address in self._candidates()[: max(0, limit - len(self._attempts))]:
            attempt = self._next_attempt
            self._next_attempt += 1
            self._attempts[attempt] = _Attempt(address, now)
            self._tried.add(address)
            self._trials[address] = trial = self._trials.get(address, 0) + 1
            entry = self._announced.get(address)
            server_id = None if entry is None else entry.server_id
            self._emit(RegistrarConnecting(attempt, address, server_id, trial))
            self._act(ConnectRegistrar(attempt, address))
            deadline = now + self.hunt_config.connect_timeout
            self._timers.set(RegistrarConnectTimeout(attempt), deadline)

    def _tell_waiting(self, now: int) -> None:
        """Nothing under way in this round: say when the next one starts."""
        if self._hunting and not self._attempts:
            deadline = self._timers.get(T5ServerHunt())
            if deadline is not None:
                self._emit(ServerHuntWaiting(deadline - now, len(self.known_registrars())))

    def _cancel_attempt(self, attempt: int) -> None:
        self._attempts.pop(attempt, None)
        self._timers.cancel(RegistrarConnectTimeout(attempt))
        self._act(CancelConnect(attempt))

    def _t5_expired(self, now: int) -> None:
        """SH5: stop this round's attempts, double T5 (capped), start a new round."""
        if not self._hunting:
            return
        for attempt, record in list(self._attempts.items()):
            self._cancel_attempt(attempt)
            self._emit(RegistrarConnectFailed(attempt, record.to, "no answer in this hunt round"))
        self._t5 = min(2 * self._t5, self.hunt_config.server_hunt_max)
        self._tried.clear()
        if not self._needs_registrar():
            self._hunting = False
            return
        self._timers.set(T5ServerHunt(), now + self._t5)
        self._connect_more(now)
        self._tell_waiting(now)

    # ------------------------------------------------------------------ hooks

    def _needs_registrar(self) -> bool:
        """Whether a home registrar is wanted now (hunting stops when not)."""
        return False

    def _adopt(self, home: HomeRegistrar, reason: HomeChangeReason, now: int) -> None:
        """Make ``home`` the home registrar (the association that won the hunt)."""
        self._home = home
