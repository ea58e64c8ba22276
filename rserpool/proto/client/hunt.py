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
from collections.abc import Callable
from dataclasses import dataclass

from rserpool.proto.client.hunt_types import (
    CancelConnect,
    ConnectRegistrar,
    EndpointAction,
    HomeChangeReason,
    HomeRegistrar,
    HomeRegistrarChanged,
    HomeRegistrarLost,
    RegistrarAnnounced,
    RegistrarConnectFailed,
    RegistrarConnecting,
    RegistrarHuntConfig,
    ServerHuntStarted,
    ServerHuntWaiting,
    T1EnrpRequest,
    Timer,
    TimerKey,
)
from rserpool.proto.client.server_hunt import ServerHunt
from rserpool.proto.common import (
    Abort,
    AssocId,
    Endpoint,
    MessageIgnored,
    Send,
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

_Handler = Callable[[AsapMessage, AssocId, bool, TransportAddress | None, int], None]
"""Takes a message from a registrar: (message, assoc id, on the home?, peer, now)."""

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


class RegistrarClient(ServerHunt):
    """Base of :class:`~rserpool.proto.client.pool_element.PoolElementCore` and
    :class:`~rserpool.proto.client.pool_user.PoolUserCore`: see the module docstring.

    Subclasses override the ``_on_*`` hooks and :meth:`_needs_registrar`.
    """

    def __init__(self, hunt: RegistrarHuntConfig, rng: random.Random, now: int) -> None:
        super().__init__(hunt, rng, now)
        self._outstanding: deque[Request] = deque()  # sent on the home association
        self._waiting: deque[Request] = deque()  # for the next home
        responses = dict.fromkeys(RESPONSES, self._response_message)
        # what a message on the home association (or off it) is handed to, by its type
        self._home_handlers: dict[type[AsapMessage], _Handler] = {
            EndpointKeepAlive: self._keep_alive_message,
            AsapError: self._error_message,
            **responses,
        }
        self._off_home_handlers: dict[type[AsapMessage], _Handler] = {
            EndpointKeepAlive: self._keep_alive_message,
        }

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
                reason = f"bad message: {exc.reason}"
                self._emit(MessageIgnored(Endpoint.ASAP, assoc_id, reason))
                self._act(Abort(Endpoint.ASAP, assoc_id))
            return
        assert isinstance(message, AsapMessage)
        handlers = self._home_handlers if on_home else self._off_home_handlers
        handler = handlers.get(type(message))
        if handler is None:
            reason = f"unexpected {message.NAME}" if on_home else f"{message.NAME} off the home"
            self._emit(MessageIgnored(Endpoint.ASAP, assoc_id, reason))
            return
        handler(message, assoc_id, on_home, peer, now)

    def _keep_alive_message(
        self,
        message: AsapMessage,
        assoc_id: AssocId,
        on_home: bool,
        peer: TransportAddress | None,
        now: int,
    ) -> None:
        assert isinstance(message, EndpointKeepAlive)
        self._on_keep_alive(message, assoc_id, on_home, peer, now)

    def _error_message(
        self,
        message: AsapMessage,
        assoc_id: AssocId,
        on_home: bool,
        peer: TransportAddress | None,
        now: int,
    ) -> None:
        assert isinstance(message, AsapError)
        self._drop_home(f"ASAP Error {message.error.code:#06x}", now)

    def _response_message(
        self,
        message: AsapMessage,
        assoc_id: AssocId,
        on_home: bool,
        peer: TransportAddress | None,
        now: int,
    ) -> None:
        """A response: it must answer the oldest outstanding request (strictly FIFO)."""
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

    def _fire(self, key: TimerKey, now: int) -> None:
        if isinstance(key, T1EnrpRequest):
            if self._outstanding:
                name = self._outstanding[0].message.NAME
                self._drop_home(f"no response to {name} (T1-ENRPrequest)", now)
            return
        super()._fire(key, now)

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
        key = T1EnrpRequest()
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
        self._timers.cancel(T1EnrpRequest())
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

    # ------------------------------------------------------------------ hooks

    def _needs_registrar(self) -> bool:
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
        reason = "Endpoint Keep Alive at a pool user"
        self._emit(MessageIgnored(Endpoint.ASAP, assoc_id, reason))
