"""The registrar side of an ASAP endpoint, shared by the PE and PU cores (RSPLIB's ASAP instance).

:class:`RegistrarClient` keeps the registrar table (Server Announces, RFC 5352 §3.6, entries
outdated by T7-ENRPoutdate; plus the static list), runs the server hunt (SH1-SH6: at most
three connects at once, the first association that comes up wins, T5-serverHunt doubles up
to RETRAN-max), holds the home registrar association and matches the requests sent on it
**strictly FIFO** by response type, as RSPLIB does. Anything unexpected from the
home registrar (an ASAP Error, an unsolicited or mismatched response, undecodable bytes, a
wrong PPID) or a response timeout (T1-ENRPrequest, RSPLIB 3 s) ABORTs the association and
hunts again; outstanding requests are re-sent to the new home up to ``max_request_trials``
times (RFC 5352 §3.7).

Connecting is the driver's business: the core asks with :class:`ConnectRegistrar` (a token,
``attempt``, and the registrar's transport address) and is told the outcome with
:meth:`RegistrarClient.registrar_connected` or :meth:`RegistrarClient.registrar_connect_failed`
(with the reason, as the driver words it: "connection refused", ...). The hunt reports its
progress as events: :class:`RegistrarConnecting` for every attempt, :class:`RegistrarConnectFailed`
for every failure (a timeout included), :class:`ServerHuntWaiting` when a round is over.
A late success for an attempt the core gave up on is answered with an :class:`Abort`.
:class:`CancelConnect` withdraws an attempt still under way (the driver may ignore it; the
core aborts the association should it come up anyway).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, replace

from rserpool.proto.client.hunt_types import (
    CancelConnect,
    ConnectRegistrar,
    EndpointAction,
    HomeChangeReason,
    HomeRegistrar,
    HomeRegistrarChanged,
    HomeRegistrarLost,
    MessageIgnored,
    RegistrarAnnounced,
    RegistrarConnectFailed,
    RegistrarConnecting,
    RegistrarHuntConfig,
    ServerHuntStarted,
    ServerHuntWaiting,
    Timer,
    TimerKey,
)
from rserpool.proto.common import (
    Abort,
    AssocId,
    Endpoint,
    Event,
    IPAddress,
    Send,
    TimerTable,
    TransportAddress,
)
from rserpool.wire import (
    PPID,
    AsapError,
    AsapMessage,
    DecodeError,
    DeregistrationResponse,
    EndpointKeepAlive,
    HandleResolutionResponse,
    Message,
    RegistrationResponse,
    SctpTransport,
    ServerAnnounce,
    decode_message_untrusted,
)

__all__ = [
    "RESPONSES",
    "CancelConnect",
    "ConnectRegistrar",
    "EndpointAction",
    "HomeChangeReason",
    "HomeRegistrar",
    "HomeRegistrarChanged",
    "HomeRegistrarLost",
    "MessageIgnored",
    "RegistrarAnnounced",
    "RegistrarClient",
    "RegistrarConnectFailed",
    "RegistrarConnecting",
    "RegistrarHuntConfig",
    "Request",
    "ServerHuntStarted",
    "ServerHuntWaiting",
    "Timer",
    "TimerKey",
]

RESPONSES: tuple[type[AsapMessage], ...] = (
    RegistrationResponse,
    DeregistrationResponse,
    HandleResolutionResponse,
)


# ------------------------------------------------------------------------------ requests


@dataclass(slots=True)
class Request:
    """One request to the home registrar; ``context`` belongs to the owning core."""

    message: AsapMessage
    response: type[AsapMessage]
    context: object
    trials: int = 0
    sent_at: int = 0


@dataclass(slots=True)
class _Attempt:
    to: TransportAddress
    started: int = 0


@dataclass(slots=True)
class _Announced:
    server_id: int
    last_heard: int


class RegistrarClient:
    """Base of :class:`~rserpool.proto.client.pool_element.PoolElementCore` and
    :class:`~rserpool.proto.client.pool_user.PoolUserCore`: see the module docstring.

    Subclasses override the ``_on_*`` hooks and :meth:`_needs_registrar`.
    """

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
        self._outstanding: deque[Request] = deque()  # sent on the home association
        self._waiting: deque[Request] = deque()  # for the next home
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
            self._emit(MessageIgnored("announce", None, exc.reason))
            return
        if not isinstance(message, ServerAnnounce):
            self._emit(MessageIgnored("announce", None, f"{message.NAME} on the announce group"))
            return
        sctp = [t for t in message.transports if isinstance(t, SctpTransport)]
        if sctp:
            address = TransportAddress.of(sctp[0])
        else:
            address = TransportAddress((source[0],), source[1])
        if address.port == 0 or not address.addresses:
            self._emit(MessageIgnored("announce", None, "announce without a usable address"))
            return
        known = address in self._announced
        self._announced[address] = _Announced(message.server_id, now)
        self._timers.set((Timer.T7_ENRP_OUTDATE, address), now + self.hunt_config.announce_timeout)
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
        self._timers.cancel((Timer.REGISTRAR_CONNECT, attempt))
        if record is None or not self._hunting or self._home is not None:
            self._act(Abort(Endpoint.ASAP, assoc_id))  # lost the race, or given up on
            return
        for other in list(self._attempts):
            self._cancel_attempt(other)
        self._hunting = False
        self._timers.cancel((Timer.T5_SERVER_HUNT, None))
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
        self._timers.cancel((Timer.REGISTRAR_CONNECT, attempt))
        self._emit(RegistrarConnectFailed(attempt, record.to, reason))
        if self._hunting:
            self._connect_more(now)
            self._tell_waiting(now)

    # ------------------------------------------------------------------ input: association

    def receive_registrar(
        self,
        assoc_id: AssocId,
        ppid: int,
        data: bytes,
        now: int,
        peer: TransportAddress | None = None,
    ) -> None:
        """One SCTP message on an association of the ASAP endpoint (home or any other)."""
        home = self._home
        on_home = home is not None and home.assoc_id == assoc_id
        try:
            if ppid != PPID.ASAP:
                raise DecodeError(f"PPID {ppid} on a registrar association")
            message = decode_message_untrusted(ppid, data)
        except DecodeError as exc:  # RSPLIB: disconnect (home) or ABORT (hunt socket)
            if on_home:
                self._drop_home(f"bad message: {exc.reason}", now)
            else:
                self._emit(MessageIgnored("registrar", assoc_id, f"bad message: {exc.reason}"))
                self._act(Abort(Endpoint.ASAP, assoc_id))
            return
        assert isinstance(message, AsapMessage)
        if isinstance(message, EndpointKeepAlive):
            self._on_keep_alive(message, assoc_id, on_home, peer, now)
            return
        if not on_home:
            self._emit(MessageIgnored("registrar", assoc_id, f"{message.NAME} off the home"))
            return
        if isinstance(message, AsapError):
            self._drop_home(f"ASAP Error {message.error.code:#06x}", now)
            return
        if not isinstance(message, RESPONSES):
            self._emit(MessageIgnored("registrar", assoc_id, f"unexpected {message.NAME}"))
            return
        if not self._outstanding or not isinstance(message, self._outstanding[0].response):
            self._drop_home(f"unsolicited {message.NAME}", now)
            return
        request = self._outstanding.popleft()
        self._arm_t1()
        self._on_response(request, message, now)

    def registrar_lost(self, assoc_id: AssocId, now: int) -> None:
        """COMM_LOST, SHUTDOWN_COMPLETE, a received ABORT or a failed send (idempotent)."""
        home = self._home
        if home is not None and home.assoc_id == assoc_id:
            self._drop_home("association lost", now, abort=False)

    # ------------------------------------------------------------------ timers

    def handle_timers(self, now: int) -> None:
        """Run everything due at or before ``now`` (harmless when nothing is due)."""
        for _ in range(10_000):
            due = self._timers.pop_due(now)
            if not due:
                return
            for timer, subject in due:
                self._fire(timer, subject, now)

    def _fire(self, timer: Timer, subject: Hashable, now: int) -> None:
        if timer is Timer.T7_ENRP_OUTDATE:
            assert isinstance(subject, TransportAddress)
            self._announced.pop(subject, None)
        elif timer is Timer.REGISTRAR_CONNECT:
            assert isinstance(subject, int)
            record = self._attempts.get(subject)
            if record is not None:
                self._cancel_attempt(subject)
                waited = (now - record.started) / 1000
                self._emit(RegistrarConnectFailed(subject, record.to, f"timed out ({waited:g} s)"))
                if self._hunting:
                    self._connect_more(now)
                    self._tell_waiting(now)
        elif timer is Timer.T5_SERVER_HUNT:
            self._t5_expired(now)
        elif timer is Timer.T1_ENRP_REQUEST and self._outstanding:
            name = self._outstanding[0].message.NAME
            self._drop_home(f"no response to {name} (T1-ENRPrequest)", now)

    # ------------------------------------------------------------------ requests

    def _request(
        self, message: AsapMessage, response: type[AsapMessage], context: object, now: int
    ) -> None:
        """Queue a request; it goes out on the home association (hunting for one if needed)."""
        self._waiting.append(Request(message, response, context))
        self._flush(now)

    def _send_home(self, message: Message) -> bool:
        """Send a message that expects no response (Ack, EU) if there is a home association."""
        if self._home is None:
            return False
        self._act(Send(Endpoint.ASAP, self._home.assoc_id, message))
        return True

    def _flush(self, now: int) -> None:
        if self._home is None:
            self._ensure_hunt(now)
            return
        while self._waiting:
            request = self._waiting.popleft()
            request.trials += 1
            request.sent_at = now
            self._outstanding.append(request)
            self._act(Send(Endpoint.ASAP, self._home.assoc_id, request.message))
        self._arm_t1()

    def _arm_t1(self) -> None:
        key = (Timer.T1_ENRP_REQUEST, None)
        if self._outstanding:
            deadline = self._outstanding[0].sent_at + self.hunt_config.response_timeout
            if self._timers.get(key) != deadline:
                self._timers.set(key, deadline)
        else:
            self._timers.cancel(key)

    def _forget_waiting(self, context: object) -> None:
        """Drop the not yet sent requests whose context is ``context``."""
        self._waiting = deque(r for r in self._waiting if r.context is not context)

    # ------------------------------------------------------------------ home

    def _adopt(self, home: HomeRegistrar, reason: HomeChangeReason, now: int) -> None:
        self._home = home
        self._emit(HomeRegistrarChanged(home, reason))
        self._on_home_established(reason, now)
        self._flush(now)

    def _drop_home(
        self, reason: str, now: int, *, abort: bool = True, replaced: bool = False
    ) -> None:
        """Leave the home registrar (RSPLIB ``asapInstanceDisconnectFromRegistrar``).

        ``replaced``: a new home is adopted right away (takeover), so neither
        ``_on_home_lost`` nor a new hunt.
        """
        home = self._home
        if home is None:
            return
        if abort:
            self._act(Abort(Endpoint.ASAP, home.assoc_id))
        self._home = None
        self._timers.cancel((Timer.T1_ENRP_REQUEST, None))
        self._emit(HomeRegistrarLost(home, reason))
        retry: deque[Request] = deque()
        for request in [*self._outstanding, *self._waiting]:
            if request.trials >= self.hunt_config.max_request_trials:
                self._on_request_failed(request, reason, now)
            else:
                retry.append(request)
        self._outstanding.clear()
        self._waiting = retry
        if not replaced:
            self._on_home_lost(now)
            self._flush(now)

    # ------------------------------------------------------------------ server hunt

    def _ensure_hunt(self, now: int) -> None:
        if self._home is not None or self._hunting or not self._needs_registrar():
            return
        self._hunting = True
        self._tried.clear()
        self._emit(ServerHuntStarted(len(self.known_registrars())))
        self._timers.set((Timer.T5_SERVER_HUNT, None), now + self._t5)
        self._connect_more(now)
        self._tell_waiting(now)

    def _stop_hunt(self) -> None:
        self._hunting = False
        self._timers.cancel((Timer.T5_SERVER_HUNT, None))
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
            self._timers.set((Timer.REGISTRAR_CONNECT, attempt), deadline)

    def _tell_waiting(self, now: int) -> None:
        """Nothing under way in this round: say when the next one starts."""
        if self._hunting and not self._attempts:
            deadline = self._timers.get((Timer.T5_SERVER_HUNT, None))
            if deadline is not None:
                self._emit(ServerHuntWaiting(deadline - now, len(self.known_registrars())))

    def _cancel_attempt(self, attempt: int) -> None:
        self._attempts.pop(attempt, None)
        self._timers.cancel((Timer.REGISTRAR_CONNECT, attempt))
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
        self._timers.set((Timer.T5_SERVER_HUNT, None), now + self._t5)
        self._connect_more(now)
        self._tell_waiting(now)

    # ------------------------------------------------------------------ hooks

    def _needs_registrar(self) -> bool:
        """Whether a home registrar is wanted now (hunting stops when not)."""
        return bool(self._waiting or self._outstanding)

    def _on_home_established(self, reason: HomeChangeReason, now: int) -> None:
        """A new home association is up; queued requests go out right after this."""

    def _on_home_lost(self, now: int) -> None:
        """The home association is gone; a new hunt starts right after this if needed."""

    def _on_response(self, request: Request, response: AsapMessage, now: int) -> None:
        """The response matching ``request`` (FIFO, by type) arrived."""

    def _on_request_failed(self, request: Request, reason: str, now: int) -> None:
        """``request`` will not be sent again (trials exhausted)."""

    def _on_keep_alive(
        self,
        message: EndpointKeepAlive,
        assoc_id: AssocId,
        on_home: bool,
        peer: TransportAddress | None,
        now: int,
    ) -> None:
        """An Endpoint Keep Alive (PEs answer it; a PU ignores it)."""
        self._emit(MessageIgnored("registrar", assoc_id, "Endpoint Keep Alive at a pool user"))
