"""``PoolElementCore``: the sans-IO pool element (RFC 5352 §3.1-3.4, §3.8, as RSPLIB does it).

One core per PE process, like RSPLIB's ASAP instance: one or more PEs share one home
registrar association (:class:`~rserpool.proto.client.hunt.RegistrarClient` finds it and
matches responses). Each PE registers, re-registers every ``reregistration_interval``
(T4-reregistration; the registration life is 3 × the interval, as RSPLIB's), answers Endpoint
Keep Alives, adopts a registrar that sends a Keep Alive with the H flag on a new association
(takeover), re-homes and re-registers when the registrar association fails, and deregisters on
:meth:`PoolElementCore.close`.

It also serves sessions: associations from PUs to the PE's user transport. Their PPID 11
messages are ASAP control (Cookie Echo, Business Card → events); everything else is
application data (:class:`~rserpool.proto.client.session.DataReceived`).
:meth:`send_cookie` sends an ASAP Cookie on a session.

Driver contract (see :mod:`rserpool.proto.common`): feed ``receive_announce``,
``registrar_connected``/``registrar_connect_failed``, ``receive_registrar``,
``registrar_lost``, ``session_accepted``, ``receive_session``, ``session_lost`` and
``handle_timers``; drain ``outgoing()`` (:data:`~rserpool.proto.client.hunt.EndpointAction`)
and ``events()``; sleep until ``next_deadline()``. Once ``closed`` is true after
:meth:`close`, the driver may shut the registrar association down.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from rserpool.proto.client.hunt import (
    HomeChangeReason,
    HomeRegistrar,
    RegistrarClient,
    RegistrarHuntConfig,
    Request,
)
from rserpool.proto.client.hunt_types import T4Reregistration, TimerKey
from rserpool.proto.client.pool_element_types import (
    REHUNT_CAUSES,
    Deregistered,
    KeepAliveAnswered,
    PoolElementConfig,
    Registered,
    RegistrationFailed,
)
from rserpool.proto.client.session import (
    BusinessCardReceived,
    CloseSession,
    CookieEchoReceived,
    DataReceived,
    SessionAccepted,
    SessionClosed,
    SessionSend,
    session_control,
)
from rserpool.proto.common import AssocId, Channel, Endpoint, MessageIgnored, TransportAddress
from rserpool.wire import (
    PPID,
    AsapMessage,
    BusinessCard,
    Cookie,
    CookieEcho,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    Message,
    PoolElement,
    Registration,
    RegistrationResponse,
)

__all__ = [
    "REHUNT_CAUSES",
    "Deregistered",
    "KeepAliveAnswered",
    "PoolElementConfig",
    "PoolElementCore",
    "Registered",
    "RegistrationFailed",
]


@dataclass(slots=True, eq=False)
class _OwnPE:
    config: PoolElementConfig
    pe_id: int
    registered: bool = False
    pending: bool = False  # a Registration is queued or outstanding
    leaving: bool = False  # a Deregistration is queued or outstanding
    ever_registered: bool = False  # some registrar accepted it once


class PoolElementCore(RegistrarClient):
    """The PEs of one process and their sessions, without I/O (see the module docstring)."""

    def __init__(self, hunt: RegistrarHuntConfig, rng: random.Random, now: int) -> None:
        super().__init__(hunt, rng, now)
        self._pes: dict[int, _OwnPE] = {}
        self._sessions: dict[int, TransportAddress | None] = {}
        self._closing = False
        # ASAP control on a session, by message type
        self._session_handlers: dict[type[Message], Callable[[AssocId, Message], None]] = {
            CookieEcho: self._cookie_echo_message,
            BusinessCard: self._business_card_message,
        }

    # ------------------------------------------------------------------ queries

    @property
    def closed(self) -> bool:
        """True after :meth:`close` once every PE has left."""
        return self._closing and not self._pes

    def pool_elements(self) -> dict[int, PoolElementConfig]:
        return {pe_id: pe.config for pe_id, pe in self._pes.items()}

    def is_registered(self, pe_id: int) -> bool:
        pe = self._pes.get(pe_id)
        return pe is not None and pe.registered

    @property
    def sessions(self) -> list[int]:
        return list(self._sessions)

    # ------------------------------------------------------------------ registration API

    def register(self, config: PoolElementConfig, now: int) -> int:
        """Add a PE and register it; returns its PE id."""
        if self._closing:
            raise RuntimeError("the pool element core is closing")
        pe_id = config.pe_id
        if pe_id == 0:
            pe_id = 1 + self._rng.randrange(0xFFFFFFFE)
            while pe_id in self._pes:
                pe_id = 1 + self._rng.randrange(0xFFFFFFFE)
        elif pe_id in self._pes:
            raise ValueError(f"PE id {pe_id:#010x} is in use")
        pe = _OwnPE(config, pe_id)
        self._pes[pe_id] = pe
        self._send_registration(pe, now)
        return pe_id

    def deregister(self, pe_id: int, now: int) -> None:
        """Deregister one PE (RFC 5352 §3.2); :class:`Deregistered` follows."""
        pe = self._pes.get(pe_id)
        if pe is None or pe.leaving:
            return
        pe.leaving = True
        self._timers.cancel(T4Reregistration(pe_id))
        self._forget_waiting(pe)
        pe.pending = False
        if self.home is None:  # nobody to tell: the registration life runs out
            self._forget(pe, confirmed=False)
            return
        message = Deregistration(pool_handle=pe.config.pool_handle, pe_id=pe_id)
        self._request(message, DeregistrationResponse, pe, now)

    def close(self, now: int) -> None:
        """Deregister every PE; ``closed`` becomes true when all have left."""
        self._closing = True
        for pe_id in list(self._pes):
            self.deregister(pe_id, now)
        if self.closed:
            self._stop_hunt()

    # ------------------------------------------------------------------ session API

    def session_accepted(
        self, session: AssocId, now: int, peer: TransportAddress | None = None
    ) -> None:
        """A PU associated with the user transport (SCTP COMM_UP)."""
        if session not in self._sessions:
            self._sessions[session] = peer
            self._emit(SessionAccepted(session, peer))

    def receive_session(self, session: AssocId, ppid: int, data: bytes, now: int) -> None:
        """One message on a session: PPID 11 is ASAP control, anything else application data."""
        self.session_accepted(session, now)
        if ppid != PPID.ASAP:
            self._emit(DataReceived(session, ppid, data))
            return
        control = session_control(data, self._session_handlers)
        if isinstance(control, str):
            self._emit(MessageIgnored(Channel.SESSION, session, control))
            return
        self._session_handlers[type(control)](session, control)

    def _cookie_echo_message(self, session: AssocId, message: Message) -> None:
        assert isinstance(message, CookieEcho)
        self._emit(CookieEchoReceived(session, message.cookie))

    def _business_card_message(self, session: AssocId, message: Message) -> None:
        assert isinstance(message, BusinessCard)
        self._emit(BusinessCardReceived(session, message))

    def session_lost(self, session: AssocId, now: int) -> None:
        """The session association ended (COMM_LOST, SHUTDOWN_COMPLETE, ABORT)."""
        if self._sessions.pop(session, 0) != 0:
            self._emit(SessionClosed(session, "association ended"))

    def send(self, session: AssocId, data: bytes, ppid: int = 0) -> bool:
        """Application data to the PU (False: no such session). PPID 11 is reserved."""
        if ppid == PPID.ASAP:
            raise ValueError("PPID 11 is ASAP control; use send_cookie or send_business_card")
        if session not in self._sessions:
            return False
        self._act(SessionSend(session, ppid, data))
        return True

    def send_cookie(self, session: AssocId, cookie: bytes) -> bool:
        """ASAP Cookie to the PU (RFC 5352 §3.8); it echoes the latest one after a failover."""
        if session not in self._sessions:
            return False
        self._act(SessionSend.control(session, Cookie(cookie=cookie)))
        return True

    def business_card(self, pe_id: int, others: tuple[PoolElement, ...] = ()) -> BusinessCard:
        """A Business Card naming PE ``pe_id``, then ``others`` as the failover order."""
        config = self._pes[pe_id].config
        elements = (config.pool_element(pe_id), *others)
        return BusinessCard(
            pool_handle=config.pool_handle, policy=config.policy, pool_elements=elements
        )

    def send_business_card(self, session: AssocId, card: BusinessCard) -> bool:
        if session not in self._sessions:
            return False
        self._act(SessionSend.control(session, card))
        return True

    def close_session(self, session: AssocId, *, abort: bool = False) -> None:
        if self._sessions.pop(session, 0) != 0:
            self._act(CloseSession(session, abort))
            self._emit(SessionClosed(session, "closed by the pool element"))

    # ------------------------------------------------------------------ internals

    def _send_registration(self, pe: _OwnPE, now: int) -> None:
        config = pe.config
        interval = config.reregistration_interval
        self._timers.set(T4Reregistration(pe.pe_id), now + interval)
        if pe.pending:  # still queued or unanswered: one at a time
            return
        pe.pending = True
        message = Registration(
            pool_handle=config.pool_handle, pool_element=config.pool_element(pe.pe_id)
        )
        self._request(message, RegistrationResponse, pe, now)

    def _forget(self, pe: _OwnPE, *, confirmed: bool) -> None:
        if self._pes.pop(pe.pe_id, None) is None:
            return
        self._timers.cancel(T4Reregistration(pe.pe_id))
        self._emit(Deregistered(pe.config.pool_handle, pe.pe_id, confirmed, pe.ever_registered))
        if self.closed:
            self._stop_hunt()

    def _fire(self, key: TimerKey, now: int) -> None:
        if isinstance(key, T4Reregistration):
            pe = self._pes.get(key.pe_id)
            if pe is not None and not pe.leaving:
                self._send_registration(pe, now)
            return
        super()._fire(key, now)

    def _needs_registrar(self) -> bool:
        return super()._needs_registrar() or any(not pe.leaving for pe in self._pes.values())

    def _on_home_established(self, reason: HomeChangeReason, now: int) -> None:
        if reason is HomeChangeReason.TAKEOVER:
            return  # the new home took our registrations over (RSPLIB does not re-register)
        for pe in self._pes.values():
            if not pe.leaving:
                self._send_registration(pe, now)

    def _on_home_lost(self, now: int) -> None:
        for pe in self._pes.values():
            pe.registered = False  # the registrar drops PEs with their association

    def _on_response(self, request: Request, response: AsapMessage, now: int) -> None:
        pe = request.context
        assert isinstance(pe, _OwnPE)
        if isinstance(response, DeregistrationResponse):
            self._forget(pe, confirmed=True)
        else:
            assert isinstance(response, RegistrationResponse)
            self._registration_answered(pe, response, now)

    def _registration_answered(self, pe: _OwnPE, response: RegistrationResponse, now: int) -> None:
        pe.pending = False
        if pe.leaving or pe.pe_id not in self._pes:
            return
        home = self.home
        assert home is not None
        handle = pe.config.pool_handle
        if response.reject:
            cause = None if response.error is None else response.error.code
            pe.registered = False
            self._emit(RegistrationFailed(handle, pe.pe_id, cause, "rejected"))
            if cause in REHUNT_CAUSES:
                self._drop_home(f"registration rejected with {cause:#06x}", now)
            return
        self._emit(Registered(handle, pe.pe_id, home, pe.registered))
        pe.registered = pe.ever_registered = True

    def _on_request_failed(self, request: Request, reason: str, now: int) -> None:
        pe = request.context
        assert isinstance(pe, _OwnPE)
        if isinstance(request.message, Deregistration):
            self._forget(pe, confirmed=False)
        else:
            pe.pending = False
            self._emit(RegistrationFailed(pe.config.pool_handle, pe.pe_id, None, reason))

    def _on_keep_alive(
        self,
        message: EndpointKeepAlive,
        assoc_id: AssocId,
        on_home: bool,
        peer: TransportAddress | None,
        now: int,
    ) -> None:
        """RSPLIB ``asapInstanceHandleEndpointKeepAlive`` and RFC 5352 KA1-KA2.4."""
        home = self.home
        if on_home:
            assert home is not None
            if home.server_id != message.server_id:  # learn (or correct) the home's id
                self._home = HomeRegistrar(home.assoc_id, home.address, message.server_id)
        elif message.home:  # a takeover: adopt the new association as home
            if home is not None:
                self._drop_home(
                    f"registrar {message.server_id:#010x} took over", now, replaced=True
                )
            self._stop_hunt()
            new_home = HomeRegistrar(assoc_id, peer, message.server_id)
            self._adopt(new_home, HomeChangeReason.TAKEOVER, now)
        elif home is None:
            self._emit(MessageIgnored(Endpoint.ASAP, assoc_id, "Keep Alive off the home, no home"))
            return
        # else: RSPLIB acks on the home association, ignoring where it came from
        if message.pe_id is not None:
            pe = self._pes.get(message.pe_id)
            if pe is None or pe.config.pool_handle != message.pool_handle:
                self._emit(MessageIgnored(Endpoint.ASAP, assoc_id, "Keep Alive for an unknown PE"))
                return
            targets = [pe]
        else:  # RFC KA1: every PE of that pool (RSPLIB acks all PEs with this handle)
            targets = [p for p in self._pes.values() if p.config.pool_handle == message.pool_handle]
        for pe in targets:
            ack = EndpointKeepAliveAck(pool_handle=pe.config.pool_handle, pe_id=pe.pe_id)
            if self._send_home(ack):
                self._emit(KeepAliveAnswered(pe.config.pool_handle, pe.pe_id, message.server_id))
