"""``RegistrarCore``: the sans-IO registrar (ENRP server) — dispatch, bad input, timers, outbox.

Like RSPLIB's ``rspregistrar-core.c``: PPID checks per endpoint, decoding with the right
error reply, and the timer loop; the protocol work is in ``asap``, ``enrp`` and ``takeover``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import assert_never

from rserpool.handlespace import PoolElement as StoredPE
from rserpool.handlespace import PoolHandlespace
from rserpool.proto.common import (
    Abort,
    Action,
    AssocId,
    Endpoint,
    Event,
    IPAddress,
    Send,
    TransportAddress,
)
from rserpool.proto.registrar.asap import AsapServer
from rserpool.proto.registrar.config import RegistrarConfig
from rserpool.proto.registrar.enrp import EnrpServer
from rserpool.proto.registrar.events import (
    AssociationAborted,
    MessageIgnored,
    MessageRejected,
    RegistrationRefused,
    RemovalReason,
)
from rserpool.proto.registrar.machines import StartupState
from rserpool.proto.registrar.peers import Peer
from rserpool.proto.registrar.state import RegistrarState, Timer, TimerKey
from rserpool.proto.registrar.takeover import TakeoverManager
from rserpool.wire import (
    PPID,
    AsapError,
    AsapType,
    DecodeError,
    EnrpError,
    EnrpType,
    Message,
    OperationError,
    ParamType,
    Presence,
    RegistrationResponse,
    decode_message_untrusted,
)

_EXPECTED_PPID = {Endpoint.ASAP: PPID.ASAP, Endpoint.ENRP: PPID.ENRP}
_ERROR_TYPE = {Endpoint.ASAP: AsapType.ERROR, Endpoint.ENRP: EnrpType.ERROR}
_MAX_CAUSE_DATA = 0xFFFF - 32  # room for the headers of the Error message around it
_TIMER_ROUNDS = 10_000  # guard against a handler re-arming at ``now`` forever


class RegistrarCore:
    """An RSerPool registrar without I/O. See :mod:`rserpool.proto.common` for the contract.

    ``rng`` drives the server id (if the configuration has none), timer jitter and the random
    selection policies. ``now`` is integer milliseconds.
    """

    def __init__(self, config: RegistrarConfig, rng: random.Random, now: int) -> None:
        self._state = RegistrarState(config, rng, now)
        self._takeover = TakeoverManager(self._state)
        self._enrp = EnrpServer(self._state, self._takeover)
        self._asap = AsapServer(self._state)
        self._receivers: dict[Endpoint, Callable[[Message, AssocId, TransportAddress, int], None]]
        self._receivers = {Endpoint.ASAP: self._asap.handle, Endpoint.ENRP: self._enrp.handle}
        self._losses: dict[Endpoint, Callable[[AssocId], None]] = {
            Endpoint.ASAP: self._asap.association_lost,
            Endpoint.ENRP: self._enrp.association_lost,
        }
        self._enrp.start(now)

    # ------------------------------------------------------------------ queries

    @property
    def server_id(self) -> int:
        return self._state.server_id

    @property
    def config(self) -> RegistrarConfig:
        return self._state.config

    @property
    def handlespace(self) -> PoolHandlespace:
        """The handlespace (read it; do not modify it behind the core's back)."""
        return self._state.handlespace

    @property
    def in_startup(self) -> bool:
        """True until the mentor's handle table arrived or the mentor discovery timed out."""
        return self._state.startup is not StartupState.IN_SERVICE

    @property
    def startup_state(self) -> StartupState:
        """Where the startup phase is (RFC 5353 §3.2; the table is in docs/registrar.md)."""
        return self._state.startup

    @property
    def mentor_id(self) -> int | None:
        return self._state.mentor_id

    def peers(self) -> list[Peer]:
        """The peer list (snapshot of the records; read only), known ids in order."""
        return list(self._state.peers)

    def peer_list(self) -> list[Peer]:
        """Every peer, as RSPLIB's peer list holds them: static peers whose id is not known
        yet (id 0) first, then the known ones in id order (snapshot; read only)."""
        known = list(self._state.peers)
        unknown = [p for p in self._state.peers.everyone() if p.server_id == 0]
        return [*unknown, *known]

    def pe_association(self, pool_handle: bytes, pe_id: int) -> AssocId | None:
        """The ASAP association a home PE is supervised on (None: not home, or unknown)."""
        pe = self._state.handlespace.find(pool_handle, pe_id)
        return None if pe is None else pe.registration_assoc

    def takeovers_in_progress(self) -> list[int]:
        return sorted(self._takeover.processes)

    # ------------------------------------------------------------------ input

    def receive(
        self,
        endpoint: Endpoint,
        assoc_id: AssocId,
        ppid: int,
        data: bytes,
        peer: TransportAddress,
        now: int,
    ) -> None:
        """One SCTP message on ``endpoint``'s association ``assoc_id``.

        ``peer`` is the association's peer transport address (all ``sctp_getpaddrs``
        addresses and the peer port); it decides which PE addresses are accepted.
        """
        state = self._state
        expected = _EXPECTED_PPID[endpoint]
        if ppid != expected:
            if ppid in (PPID.ASAP, PPID.ENRP):  # RSPLIB: "PPID on wrong socket" -> ABORT
                self._abort(endpoint, assoc_id, f"PPID {ppid} on the {endpoint.value} endpoint")
            else:  # RSPLIB parses nothing and ignores it
                state.emit(MessageIgnored(endpoint, assoc_id, f"PPID {ppid}"))
            return
        try:
            message = decode_message_untrusted(ppid, data)
        except DecodeError as exc:
            self._bad_input(endpoint, assoc_id, data, exc)
            return
        self._receivers[endpoint](message, assoc_id, peer, now)

    def receive_multicast(
        self, endpoint: Endpoint, data: bytes, source: tuple[IPAddress, int], now: int
    ) -> None:
        """One UDP datagram from a multicast group; only ENRP Presence is of interest.

        ``source`` is the datagram's source (address, port). Bad datagrams are never answered.
        """
        state = self._state
        if endpoint is Endpoint.ASAP:  # Server Announces are for PEs and PUs
            state.emit(MessageIgnored(endpoint, None, "ASAP announce at a registrar"))
            return
        try:
            message = decode_message_untrusted(PPID.ENRP, data)
        except DecodeError as exc:
            state.emit(MessageRejected(endpoint, None, exc.reason, exc.cause, False))
            return
        if type(message) is not Presence:
            state.emit(MessageIgnored(endpoint, None, f"multicast {message.NAME}"))
            return
        self._enrp.multicast_presence(message, source, now)

    def association_lost(self, endpoint: Endpoint, assoc_id: AssocId, now: int) -> None:
        """COMM_LOST, SHUTDOWN_COMPLETE, a received ABORT, or a failed send (idempotent)."""
        self._losses[endpoint](assoc_id)

    # ------------------------------------------------------------------ timers

    def next_deadline(self) -> int | None:
        """When ``handle_timers`` must be called next (ms), or None."""
        state = self._state
        best = state.timers.next_deadline()
        # fast path: the other heads compared inline (the driver asks after every flush)
        for deadline in (
            state.keep_alive_transmission.next_deadline(),
            state.keep_alive_timeout.next_deadline(),
            state.handlespace.next_expiry(),
        ):
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        return best

    def handle_timers(self, now: int) -> None:
        """Run everything due at or before ``now`` (harmless when nothing is due)."""
        state = self._state
        for _ in range(_TIMER_ROUNDS):
            due = state.timers.pop_due_timed(now)
            sent = state.keep_alive_transmission.pop_due(now)
            waited = state.keep_alive_timeout.pop_due(now)
            expired = state.handlespace.expire(now)
            if not due and not sent and not waited and not expired:
                return
            transmit = self._asap.keep_alive_transmission_timer
            time_out = self._asap.keep_alive_timeout_timer
            if not sent and not waited:  # fast path: one kind of timer due, nothing to merge
                for _, key in due:
                    self._fire(key, now)
            elif not due and not waited:  # fast path: keep-alives only, nothing to merge
                for _, pe in sent:
                    transmit(pe, now)
            else:  # in deadline order; at one deadline: table timers, transmissions, timeouts
                merged: list[tuple[int, int, TimerKey | StoredPE]] = [(d, 0, k) for d, k in due]
                merged += [(d, 1, pe) for d, pe in sent]
                merged += [(d, 2, pe) for d, pe in waited]
                merged.sort(key=_deadline)
                for _, kind, subject in merged:
                    if not isinstance(subject, StoredPE):
                        self._fire(subject, now)
                    elif kind == 1:
                        transmit(subject, now)
                    else:
                        time_out(subject, now)
            for pe in expired:  # only PEs we are not home of carry a life deadline
                state.forget_pe(pe, RemovalReason.EXPIRED, announce=state.is_home(pe))

    def _fire(self, key: TimerKey, now: int) -> None:
        match key:
            case (Timer.SERVER_ANNOUNCE_CYCLE, _):
                self._asap.server_announce_timer(now)
            case (Timer.PEER_HEARTBEAT_CYCLE, _):
                self._enrp.monitor.heartbeat_timer(now)
            case (Timer.MENTOR_DISCOVERY, _):
                self._enrp.discovery_timer(now)
            case (Timer.PEER_MAX_TIME_LAST_HEARD, server_id):
                self._enrp.monitor.last_heard_timer(server_id, now)
            case (Timer.PEER_MAX_TIME_NO_RESPONSE, server_id):
                self._enrp.monitor.no_response_timer(server_id, now)
            case (Timer.TAKEOVER_EXPIRY, target_id):
                self._takeover.expiry_timer(target_id, now)
            case _:
                assert_never(key)

    # ------------------------------------------------------------------ output

    def outgoing(self) -> list[Action]:
        """The actions to perform, in order (drains)."""
        return self._state.drain_actions()

    def events(self) -> list[Event]:
        """What happened since the last call (drains)."""
        return self._state.drain_events()

    # ------------------------------------------------------------------ internals

    def _abort(self, endpoint: Endpoint, assoc_id: AssocId, reason: str) -> None:
        state = self._state
        if endpoint is Endpoint.ASAP:
            self._asap.abort(assoc_id, reason)
            return
        state.act(Abort(endpoint, assoc_id))
        state.emit(AssociationAborted(endpoint, assoc_id, reason))
        self._enrp.association_lost(assoc_id)

    def _bad_input(
        self, endpoint: Endpoint, assoc_id: AssocId, data: bytes, exc: DecodeError
    ) -> None:
        """RSPLIB: a parse error is answered with an ASAP/ENRP Error, unless the action bits
        said "stop silently" or the bad message is itself an Error. A Registration whose pool
        handle and PE id can still be read gets a Registration Response with the Reject flag
        and the cause instead (RFC 5352 §3.1; an RSPLIB PE aborts on an ASAP Error)."""
        state = self._state
        is_error = len(data) >= 1 and data[0] == _ERROR_TYPE[endpoint]
        sender = _enrp_sender(data) if endpoint is Endpoint.ENRP else None
        reply = exc.report and not is_error and sender != state.server_id
        state.emit(MessageRejected(endpoint, assoc_id, exc.reason, exc.cause, reply))
        if not reply:
            return
        error = OperationError.of(exc.cause, (exc.tlv or b"")[:_MAX_CAUSE_DATA])
        if endpoint is Endpoint.ASAP:
            registration = _registration_key(data)
            if registration is not None:  # RFC 5352 §3.1: a rejecting Registration Response
                handle, pe_id = registration
                response = RegistrationResponse(
                    pool_handle=handle, pe_id=pe_id, reject=True, error=error
                )
                state.act(Send(endpoint, assoc_id, response))
                state.emit(RegistrationRefused(handle, pe_id, assoc_id, exc.cause))
                return
            state.act(Send(endpoint, assoc_id, AsapError(error=error)))
        else:
            message = EnrpError(sender_id=state.server_id, receiver_id=sender or 0, error=error)
            state.act(Send(endpoint, assoc_id, message))


def _deadline(entry: tuple[int, int, object]) -> int:
    return entry[0]


def _registration_key(data: bytes) -> tuple[bytes, int] | None:
    """(pool handle, PE id) of an undecodable ASAP Registration, when its first two
    parameters are still a Pool Handle and a Pool Element with its PE id; else None."""
    if len(data) < 4 or data[0] != AsapType.REGISTRATION:
        return None
    end = min(len(data), struct.unpack_from("!H", data, 2)[0])
    pos, found = 4, []
    for want in (ParamType.POOL_HANDLE, ParamType.POOL_ELEMENT):
        if end - pos < 4:
            return None
        param_type, length = struct.unpack_from("!HH", data, pos)
        if param_type != want or length < 4 or pos + length > end:
            return None
        found.append(data[pos + 4 : pos + length])
        pos += (length + 3) & ~3
    handle, element = found
    if not handle or len(element) < 4:
        return None
    return handle, int(struct.unpack_from("!I", element, 0)[0])


def _enrp_sender(data: bytes) -> int | None:
    if len(data) < 8:
        return None
    return int(struct.unpack_from("!I", data, 4)[0])
