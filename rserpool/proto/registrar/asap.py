"""The registrar's ASAP side (RFC 5352 §3, RSPLIB ``rspregistrar-asap.c``).

Registration (RSPLIB's address filtering and consistency checks are in :mod:`.admission`),
Deregistration, Handle Resolution, Endpoint Keep Alive supervision, Endpoint Unreachable and
Server Announce.

Hostile input (docs/registrar.md, "Hostile input"): only the association that registered a PE,
or one from the PE's own addresses, may re-register or deregister it (RFC 5355 §2.3-2.4;
cause 0x000a); what a PE stores is bounded so that it fits every message that carries it
(:mod:`rserpool.handlespace.store`); Endpoint Unreachable removes a PE only after
MAX-BAD-PE-REPORT is exceeded and an Endpoint Keep Alive went unanswered (RFC 5352 §3.5);
rate limits count per reporting host, not per association.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rserpool.handlespace import PoolElement as StoredPE
from rserpool.handlespace import RegistrationRejected
from rserpool.proto.common import (
    Abort,
    AssocId,
    Endpoint,
    Multicast,
    Send,
    TransportAddress,
)
from rserpool.proto.registrar.admission import RegistrationAdmission
from rserpool.proto.registrar.events import (
    AssociationAborted,
    DeregistrationRefused,
    EndpointUnreachableReported,
    ErrorReceived,
    HandleResolved,
    MessageIgnored,
    PoolElementRegistered,
    RateLimited,
    RegistrationRefused,
    RemovalReason,
)
from rserpool.proto.registrar.ratelimit import RateLimiter
from rserpool.proto.registrar.replies import ResolvedResponse, resolution_form
from rserpool.proto.registrar.state import RegistrarState, Timer, route, transport_kind
from rserpool.wire import (
    AsapError,
    Cause,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    Message,
    OpaqueTransport,
    OperationError,
    PoolElement,
    Registration,
    RegistrationResponse,
    SctpTransport,
    ServerAnnounce,
    UnknownPolicy,
    UpdateAction,
)
from rserpool.wire.constants import MAX_HR_ITEMS
from rserpool.wire.params import ErrorCause
from rserpool.wire.tlv import UnknownParameter

MAX_MESSAGE_SIZE = 0xFFFF  # the message length field
MAX_REPORTED_PARAMETERS = 16  # Unrecognized Parameter causes in one ASAP Error, at most
MAX_REPORTED_BYTES = 4096  # and their data, at most (RFC 5354 §3: skip and report)

#: A handler of one ASAP message type: (message, association, its peer address, now).
Handler = Callable[[Any, AssocId, TransportAddress, int], None]


class AsapServer:
    """Handles the ASAP endpoint's messages and the per-PE keep-alive timers."""

    def __init__(self, state: RegistrarState) -> None:
        self.state = state
        self.hr_limit = RateLimiter(state.config.max_hr_rate)
        self.eu_limit = RateLimiter(state.config.max_eu_rate)
        self.admission = RegistrationAdmission(state.config)
        self._handlers: dict[type[Message], Handler] = dict(
            [
                route(Registration, self.registration),
                route(Deregistration, self.deregistration),
                route(HandleResolution, self.handle_resolution),
                route(EndpointKeepAliveAck, self.keep_alive_ack),
                route(EndpointUnreachable, self.endpoint_unreachable),
                route(AsapError, self.error),
            ]
        )

    # ------------------------------------------------------------------ dispatch

    def handle(self, msg: Message, assoc_id: AssocId, peer: TransportAddress, now: int) -> None:
        handler = self._handlers.get(type(msg))
        if handler is not None:
            handler(msg, assoc_id, peer, now)
        else:  # RSPLIB logs and ignores everything else on the ASAP socket
            reason = f"{msg.NAME} is not for a registrar"
            self.state.emit(MessageIgnored(Endpoint.ASAP, assoc_id, reason))
            return
        if type(msg) is not AsapError:
            self.report_unrecognized(msg, assoc_id)

    def report_unrecognized(self, msg: Message, assoc_id: AssocId) -> None:
        """RFC 5354 §3, action bits 11: the message was processed; its skip-and-report
        parameters are reported in one ASAP Error (Unrecognized Parameter, the TLV each)."""
        found = msg.to_report()
        if not found:
            return
        causes: list[ErrorCause] = []
        size = 0
        for param in found[:MAX_REPORTED_PARAMETERS]:
            data = _raw_tlv(param)
            size += len(data) + 8
            if size > MAX_REPORTED_BYTES:
                break
            causes.append(ErrorCause(Cause.UNRECOGNIZED_PARAMETER, data))
        if causes:
            error = AsapError(error=OperationError(tuple(causes)))
            self.state.act(Send(Endpoint.ASAP, assoc_id, error))

    # ------------------------------------------------------------------ ownership

    @staticmethod
    def reporter(assoc_id: AssocId, peer: TransportAddress) -> object:
        """Who a request comes from, for the rate limits: the peer's address set (every
        association from one host shares it), else the association."""
        if peer.addresses:  # normalised already (TransportAddress)
            return frozenset(peer.addresses)
        return ("association", assoc_id)

    def speaks_for(self, pe: StoredPE, assoc_id: AssocId, peer: TransportAddress) -> bool:
        """May this association re-register, deregister or answer keep-alives for ``pe``?

        Yes on the association it registered over; else only when the association comes from
        one of the PE's own user transport addresses (the PE restarted, or reached its new
        home after a takeover). RFC 5355 §2.3-2.4: nobody else touches someone's PE.
        """
        if pe.registration_assoc == assoc_id:
            return True
        user = pe.user_transport
        if isinstance(user, OpaqueTransport) or not peer.addresses:
            return False
        own = user.addresses  # both sides normalised (transport parameters, TransportAddress)
        return any(a in own for a in peer.addresses)

    def error(self, msg: AsapError, assoc_id: AssocId, peer: TransportAddress, now: int) -> None:
        self.state.emit(ErrorReceived(Endpoint.ASAP, assoc_id, msg.summary()))

    def association_lost(self, assoc_id: AssocId) -> None:
        """COMM_LOST/SHUTDOWN on the ASAP endpoint: every PE registered over it goes."""
        self.state.drop_association(assoc_id, RemovalReason.ASSOCIATION_LOST)
        # Windows keyed by the peer's addresses stay: reconnecting must not reset a limit.
        self.hr_limit.forget(("association", assoc_id))
        self.eu_limit.forget(("association", assoc_id))

    # -------------------------------------------------------------- registration

    def registration(
        self, msg: Registration, assoc_id: AssocId, peer: TransportAddress, now: int
    ) -> None:
        state = self.state
        handle, wpe = msg.pool_handle, msg.pool_element
        try:
            user, asap = self.admission.check(wpe, peer)
            existing = state.handlespace.find(handle, wpe.pe_id)
            if existing is not None and not self.speaks_for(existing, assoc_id, peer):
                raise RegistrationRejected(
                    Cause.REJECTED_DUE_TO_SECURITY_CONSIDERATIONS,
                    "the PE is registered by another association and host",
                )
            protocol, control_channel = transport_kind(user)
            assert not isinstance(wpe.policy, UnknownPolicy)
            result = state.handlespace.register(
                handle,
                wpe.pe_id,
                home_registrar_id=state.server_id,  # whatever the PE sent
                registration_life=wpe.registration_life,
                policy=self.admission.share(wpe.policy),
                user_transport=user,
                transport_protocol=protocol,
                control_channel=control_channel,
                asap_transport=asap,
                now=now,
                expiry=None,
            )
        except RegistrationRejected as exc:
            error = OperationError.of(exc.cause)
            response = RegistrationResponse(
                pool_handle=handle, pe_id=wpe.pe_id, reject=True, error=error
            )
            state.act(Send(Endpoint.ASAP, assoc_id, response))
            state.emit(RegistrationRefused(handle, wpe.pe_id, assoc_id, exc.cause))
            return
        pe = result.element
        state.bind_pe(pe, assoc_id)
        state.supervise(pe, now)
        response = RegistrationResponse(pool_handle=handle, pe_id=wpe.pe_id)
        state.act(Send(Endpoint.ASAP, assoc_id, response))
        state.emit(PoolElementRegistered(handle, wpe.pe_id, assoc_id, result.created))
        state.broadcast_update(UpdateAction.ADD_PE, pe)

    def deregistration(
        self, msg: Deregistration, assoc_id: AssocId, peer: TransportAddress, now: int
    ) -> None:
        """Remove the PE (unknown PE: still OK, RSPLIB) and announce DEL_PE; a PE registered
        by another association and host is not touched (cause 0x000a)."""
        state = self.state
        pe = state.handlespace.find(msg.pool_handle, msg.pe_id)
        error = None
        if pe is not None:
            if self.speaks_for(pe, assoc_id, peer):
                state.remove_pe(pe, RemovalReason.DEREGISTERED, announce=True)
            else:
                cause = Cause.REJECTED_DUE_TO_SECURITY_CONSIDERATIONS
                error = OperationError.of(cause)
                state.emit(DeregistrationRefused(msg.pool_handle, msg.pe_id, assoc_id, cause))
        response = DeregistrationResponse(pool_handle=msg.pool_handle, pe_id=msg.pe_id, error=error)
        state.act(Send(Endpoint.ASAP, assoc_id, response))

    # ---------------------------------------------------------- handle resolution

    def handle_resolution(
        self, msg: HandleResolution, assoc_id: AssocId, peer: TransportAddress, now: int
    ) -> None:
        state, config = self.state, self.state.config
        handle = msg.pool_handle
        items = msg.items if msg.items else config.max_hr_items  # None or 0: our default
        items = min(items, MAX_HR_ITEMS)  # 0xffffffff ("all") included
        selected: list[StoredPE] = []
        limit = self.hr_limit
        # fast path: unlimited (the default) needs no reporter (a frozenset of the addresses)
        if limit.threshold < 0 or limit.allow(self.reporter(assoc_id, peer), handle, now):
            selected = state.handlespace.select(handle, items, config.max_increment)
        else:
            state.emit(RateLimited(assoc_id, "Handle Resolution", handle))
        # RSPLIB: the first selected PE's policy settings stand for the pool's policy.
        size = 4 + 8 + len(handle) + 3 + 4 * 9
        fitting: list[PoolElement] = []
        encoded: list[bytes] = []
        for pe in selected:
            wire, data = resolution_form(pe)  # the bytes are encoded once per PE change
            size += len(data)
            if size > MAX_MESSAGE_SIZE:
                break
            fitting.append(wire)
            encoded.append(data)
        if not fitting:  # no pool (or rate-limited; a stored PE always fits, see store.py)
            error = OperationError.of(Cause.UNKNOWN_POOL_HANDLE)
            response = HandleResolutionResponse(pool_handle=handle, error=error)
            state.act(Send(Endpoint.ASAP, assoc_id, response))
            state.emit(HandleResolved(assoc_id, handle, (), Cause.UNKNOWN_POOL_HANDLE))
            return
        response = ResolvedResponse(
            pool_handle=handle,
            policy=fitting[0].policy,
            pool_elements=tuple(fitting),
            encoded_elements=tuple(encoded),
        )
        state.act(Send(Endpoint.ASAP, assoc_id, response))
        state.emit(HandleResolved(assoc_id, handle, tuple([p.pe_id for p in fitting])))

    def endpoint_unreachable(
        self, msg: EndpointUnreachable, assoc_id: AssocId, peer: TransportAddress, now: int
    ) -> None:
        """Count the report (RFC 5352 §3.5). Once the count *exceeds* MAX-BAD-PE-REPORT the
        home registrar checks the PE with an Endpoint Keep Alive (one outstanding at a time);
        only a Keep Alive that goes unanswered removes it (``keep_alive_timeout_timer``), and an
        Ack clears the count. A registrar that is not the PE's home cannot check it (the PE
        acks its home only) and leaves it to the home's supervision."""
        state = self.state
        key = (msg.pool_handle, msg.pe_id)
        if not self.eu_limit.allow(self.reporter(assoc_id, peer), key, now):
            state.emit(RateLimited(assoc_id, "Endpoint Unreachable", msg.pool_handle))
            return
        reports = state.handlespace.count_unreachable(*key) or 0
        state.emit(EndpointUnreachableReported(*key, reports, False))
        pe = state.handlespace.find(*key)
        if pe is None or reports <= state.config.max_bad_pe_reports or not state.is_home(pe):
            return
        if state.keep_alive_timeout.get(pe) is None:
            self.send_keep_alive(pe, now)

    # ---------------------------------------------------------------- keep-alive

    def keep_alive_ack(
        self, msg: EndpointKeepAliveAck, assoc_id: AssocId, peer: TransportAddress, now: int
    ) -> None:
        """Matched on (pool handle, PE id), from the PE's association or its own addresses
        (RSPLIB: from any association; a stranger's Ack would keep a dead PE alive)."""
        state = self.state
        key = (msg.pool_handle, msg.pe_id)
        pe = state.handlespace.find(*key)
        if pe is None or not state.is_home(pe):
            state.emit(MessageIgnored(Endpoint.ASAP, assoc_id, "Keep Alive Ack for no home PE"))
            return
        if not self.speaks_for(pe, assoc_id, peer):
            reason = "Keep Alive Ack from another host than the PE's"
            state.emit(MessageIgnored(Endpoint.ASAP, assoc_id, reason))
            return
        if pe.registration_assoc is None:  # a taken-over PE answered our H-bit Keep Alive
            state.bind_pe(pe, assoc_id)
        pe.unreachable_reports = 0
        state.supervise(pe, now)

    def send_keep_alive(self, pe: StoredPE, now: int) -> None:
        """Endpoint Keep Alive on the PE's association, or with H=1 to its ASAP transport."""
        state = self.state
        assoc_id = pe.registration_assoc
        to = None
        if assoc_id is None:
            if pe.asap_transport is None:
                return
            to = TransportAddress.of(pe.asap_transport)
        message = EndpointKeepAlive(
            server_id=state.server_id,
            pool_handle=pe.pool_handle,
            pe_id=pe.pe_id,
            home=assoc_id is None,
        )
        state.act(Send(Endpoint.ASAP, assoc_id, message, to))
        timeout = state.config.endpoint_keep_alive_timeout_interval
        state.keep_alive_timeout.set(pe, now + timeout)

    def keep_alive_transmission_timer(self, pe: StoredPE, now: int) -> None:
        state = self.state
        if state.handlespace.find(pe.pool_handle, pe.pe_id) is pe and state.is_home(pe):
            self.send_keep_alive(pe, now)

    def keep_alive_timeout_timer(self, pe: StoredPE, now: int) -> None:
        """No Ack in time: ABORT the association, remove the PE, Handle Update DEL."""
        state = self.state
        if state.handlespace.find(pe.pool_handle, pe.pe_id) is not pe or not state.is_home(pe):
            return
        assoc_id = pe.registration_assoc
        reason = RemovalReason.KEEP_ALIVE_TIMEOUT
        if pe.unreachable_reports > state.config.max_bad_pe_reports:
            reason = RemovalReason.UNREACHABLE  # the Keep Alive that checked the reports
        state.remove_pe(pe, reason, announce=True)
        if assoc_id is not None:
            self.abort(assoc_id, "Endpoint Keep Alive timeout")

    def abort(self, assoc_id: AssocId, reason: str) -> None:
        self.state.act(Abort(Endpoint.ASAP, assoc_id))
        self.state.emit(AssociationAborted(Endpoint.ASAP, assoc_id, reason))
        self.association_lost(assoc_id)

    # ------------------------------------------------------------------ announces

    def server_announce_timer(self, now: int) -> None:
        state, config = self.state, self.state.config
        if not config.asap_announce:
            return
        transports: tuple[SctpTransport, ...] = ()
        if config.asap_addresses:
            transports = (SctpTransport(config.asap_port, config.asap_addresses),)
        announce = ServerAnnounce(server_id=state.server_id, transports=transports)
        state.act(Multicast(Endpoint.ASAP, announce))
        cycle = state.jittered(config.server_announce_cycle)
        state.timers.set((Timer.SERVER_ANNOUNCE_CYCLE, None), now + cycle)


def _raw_tlv(param: UnknownParameter) -> bytes:
    """The parameter as it arrived (header and value, no padding): the cause's data."""
    return param.encode()[: 4 + len(param.value)]
