"""The registrar's shared state and the helpers its ASAP, ENRP and takeover parts all use.

RSPLIB keeps one ``struct Registrar`` for ``rspregistrar-{asap,enrp,takeover}.c``; this is
ours: configuration, handlespace, peer list, timers, the outbox and the event queue, the
association ↔ PE index, and the operations that cross concerns (removing a PE with its Handle
Update, supervising a PE by keep-alives or by its registration life).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from typing import Any, Literal, TypeAlias, TypeVar

from rserpool.handlespace import Key, PoolHandlespace
from rserpool.handlespace import PoolElement as StoredPE
from rserpool.proto.common import (
    Action,
    AssocId,
    Endpoint,
    Event,
    Send,
    TimerTable,
    randomized,
)
from rserpool.proto.registrar.config import RegistrarConfig
from rserpool.proto.registrar.events import PoolElementRemoved, RemovalReason
from rserpool.proto.registrar.keepalive import PeDeadlines
from rserpool.proto.registrar.machines import STARTUP, StartupInput, StartupState
from rserpool.proto.registrar.peers import Peer, PeerTable
from rserpool.wire import (
    DccpTransport,
    EnrpMessage,
    HandleUpdate,
    Message,
    ParamType,
    PoolElement,
    Presence,
    SctpTransport,
    ServerInformation,
    TcpTransport,
    Transport,
    TransportUse,
    UdpLiteTransport,
    UdpTransport,
    UpdateAction,
)
from rserpool.wire.policy import PoolMemberSelectionPolicy

M = TypeVar("M", bound=Message)
C = TypeVar("C")


def route(
    cls: type[M], handler: Callable[[M, AssocId, C, int], None]
) -> tuple[type[Message], Callable[[Any, AssocId, C, int], None]]:
    """One entry of a dispatch table: message type → its handler (checked to match)."""
    return cls, handler


_PARAM_TYPES: dict[type, ParamType] = {
    SctpTransport: ParamType.SCTP_TRANSPORT,
    TcpTransport: ParamType.TCP_TRANSPORT,
    UdpTransport: ParamType.UDP_TRANSPORT,
    UdpLiteTransport: ParamType.UDP_LITE_TRANSPORT,
    DccpTransport: ParamType.DCCP_TRANSPORT,
}


def transport_kind(transport: Transport) -> tuple[int, bool]:
    """(transport parameter type, control channel?) for the pool consistency checks."""
    param_type = _PARAM_TYPES.get(type(transport), ParamType.OPAQUE_TRANSPORT)
    use = getattr(transport, "transport_use", TransportUse.DATA_ONLY)
    return int(param_type), use == TransportUse.DATA_PLUS_CONTROL


class Timer(enum.Enum):
    """The registrar's timers (RFC 5352/5353 names where they exist, else RSPLIB's)."""

    SERVER_ANNOUNCE_CYCLE = "server announce cycle"  # RFC 5352 T6-Serverannounce's sender
    PEER_HEARTBEAT_CYCLE = "PEER-HEARTBEAT-CYCLE"
    MENTOR_DISCOVERY = "mentor discovery timeout"
    ENDPOINT_KEEP_ALIVE_TRANSMISSION = "endpoint keep-alive transmission"
    ENDPOINT_KEEP_ALIVE_TIMEOUT = "endpoint keep-alive timeout"
    PEER_MAX_TIME_LAST_HEARD = "MAX-TIME-LAST-HEARD"
    PEER_MAX_TIME_NO_RESPONSE = "MAX-TIME-NO-RESPONSE"
    TAKEOVER_EXPIRY = "takeover expiry"


# One key type per timer kind: the kind, then its subject (a peer's id, or nothing). The PEs'
# ENDPOINT_KEEP_ALIVE_* timers are kept apart, in the PEs themselves (:mod:`.keepalive`).
ServerAnnounceKey: TypeAlias = tuple[Literal[Timer.SERVER_ANNOUNCE_CYCLE], None]
HeartbeatKey: TypeAlias = tuple[Literal[Timer.PEER_HEARTBEAT_CYCLE], None]
MentorDiscoveryKey: TypeAlias = tuple[Literal[Timer.MENTOR_DISCOVERY], None]
LastHeardKey: TypeAlias = tuple[Literal[Timer.PEER_MAX_TIME_LAST_HEARD], int]  # server id
NoResponseKey: TypeAlias = tuple[Literal[Timer.PEER_MAX_TIME_NO_RESPONSE], int]  # server id
TakeoverExpiryKey: TypeAlias = tuple[Literal[Timer.TAKEOVER_EXPIRY], int]  # target's id

TimerKey: TypeAlias = (
    ServerAnnounceKey
    | HeartbeatKey
    | MentorDiscoveryKey
    | LastHeardKey
    | NoResponseKey
    | TakeoverExpiryKey
)


class RegistrarState:
    """Everything the registrar knows; the handlers in asap/enrp/takeover share one."""

    def __init__(self, config: RegistrarConfig, rng: random.Random, now: int) -> None:
        self.config = config
        self.rng = rng
        self.server_id = config.server_id or rng.randint(1, 0xFFFFFFFF)
        self.handlespace = PoolHandlespace(rng, max_bad_pe_reports=config.max_bad_pe_reports)
        self.peers = PeerTable(config.static_peers)
        self.timers: TimerTable[TimerKey] = TimerTable()
        # Timer.ENDPOINT_KEEP_ALIVE_TRANSMISSION and _TIMEOUT of the home PEs
        self.keep_alive_transmission = PeDeadlines("keep_alive_transmission_due")
        self.keep_alive_timeout = PeDeadlines("keep_alive_timeout_due")
        self.startup = StartupState.INITIALIZING  # changed by ``advance_startup`` only
        self.mentor_id: int | None = None
        self.started = now
        self._outbox: list[Action] = []
        self._events: list[Event] = []
        # Home PEs by the association they registered (or answered a keep-alive) on; each PE
        # knows its own (``registration_assoc``).
        self.assoc_pes: dict[AssocId, AssocPes] = {}

    # ------------------------------------------------------------------ queues

    def emit(self, event: Event) -> None:
        self._events.append(event)

    def act(self, action: Action) -> None:
        self._outbox.append(action)

    def drain_actions(self) -> list[Action]:
        actions, self._outbox = self._outbox, []
        return actions

    def drain_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def advance_startup(self, event: StartupInput) -> StartupState:
        """Apply ``event`` to the startup machine; returns the state it left. Back in
        MENTOR_DISCOVERY, the mentor is forgotten (the next peer heard is the next one)."""
        old = self.startup
        self.startup = STARTUP.next(old, event)
        if self.startup is StartupState.MENTOR_DISCOVERY:
            self.mentor_id = None
        return old

    def jittered(self, interval: int) -> int:
        return randomized(interval, self.rng)

    # ---------------------------------------------------------- own identity

    def server_information(self) -> ServerInformation | None:
        if not self.config.enrp_addresses:
            return None
        transport = SctpTransport(self.config.enrp_port, self.config.enrp_addresses)
        return ServerInformation(self.server_id, transport)

    def presence(self, receiver_id: int, *, reply_required: bool = False) -> Presence:
        return Presence(
            sender_id=self.server_id,
            receiver_id=receiver_id,
            pe_checksum=self.handlespace.ownership_checksum(self.server_id),
            server_information=self.server_information(),
            reply_required=reply_required,
        )

    # ------------------------------------------------------------------ ENRP sends

    def send_to_peer(self, peer: Peer, message: EnrpMessage) -> None:
        """Unicast to a peer: on its association if known, else to its transport address."""
        to = None if peer.assoc_id is not None else peer.transport
        self.act(Send(Endpoint.ENRP, peer.assoc_id, message, to))

    def broadcast_update(self, action: UpdateAction, pe: StoredPE) -> None:
        """Handle Update to every peer (RFC 5353 §3.3; RSPLIB: per-peer unicast)."""
        peers = self.peers.everyone()
        if not peers:
            return
        wire_pe = self.wire_pe(pe)
        if wire_pe is None:
            return
        for peer in peers:
            message = HandleUpdate(
                sender_id=self.server_id,
                receiver_id=peer.server_id,
                action=action,
                pool_handle=pe.pool_handle,
                pool_element=wire_pe,
            )
            self.send_to_peer(peer, message)

    # ------------------------------------------------------------------ PEs

    @staticmethod
    def wire_pe(pe: StoredPE, *, asap: bool = True) -> PoolElement | None:
        """The handlespace PE as a Pool Element parameter (None if it cannot be sent)."""
        user = pe.user_transport
        asap_transport = pe.asap_transport if asap else None
        if asap and asap_transport is None:
            return None  # RSPLIB requires the ASAP transport in ENRP
        policy: PoolMemberSelectionPolicy = pe.policy
        return PoolElement(
            pe.pe_id,
            pe.home_registrar_id,
            pe.registration_life,
            user,
            policy,
            asap_transport,
        )

    def is_home(self, pe: StoredPE) -> bool:
        return pe.home_registrar_id == self.server_id

    def bind_pe(self, pe: StoredPE, assoc_id: AssocId | None) -> None:
        """Record the association a home PE is reached on (None: unknown, use H-bit sends)."""
        old = pe.registration_assoc
        if old == assoc_id:
            return
        pe.registration_assoc = assoc_id  # first: the old association's entry goes stale
        if old is not None:
            pes = self.assoc_pes.get(old)
            if pes is not None:
                pes.live -= 1
                if not pes.live:
                    del self.assoc_pes[old]
        if assoc_id is not None:
            pes = self.assoc_pes.get(assoc_id)
            if pes is None:
                pes = self.assoc_pes[assoc_id] = AssocPes()
            pes.add(pe, assoc_id)

    def supervise(self, pe: StoredPE, now: int) -> None:
        """Arm the right timers after a PE was (re-)registered, learned or taken over.

        Home PEs: no lifetime deadline; an Endpoint Keep Alive after the transmission
        interval. Other PEs: no keep-alives; ``register(expiry="life")`` already set
        ``now + registration life``.
        """
        if self.is_home(pe):
            self.handlespace.set_expiry(pe, None)
            self.keep_alive_timeout.cancel(pe)
            interval = self.config.endpoint_keep_alive_transmission_interval
            self.keep_alive_transmission.set(pe, now + interval)
        else:
            self.keep_alive_transmission.cancel(pe)
            self.keep_alive_timeout.cancel(pe)
            self.bind_pe(pe, None)

    def forget_pe(self, pe: StoredPE, reason: RemovalReason, *, announce: bool) -> None:
        """Bookkeeping after ``pe`` left the handlespace; ``announce``: Handle Update DEL."""
        self.keep_alive_transmission.cancel(pe)
        self.keep_alive_timeout.cancel(pe)
        self.bind_pe(pe, None)
        for peer in self.peers:
            if peer.download is not None:
                peer.download.stale.discard(pe.key)
        self.emit(PoolElementRemoved(pe.pool_handle, pe.pe_id, pe.home_registrar_id, reason))
        if announce:
            self.broadcast_update(UpdateAction.DEL_PE, pe)

    def remove_pe(self, pe: StoredPE, reason: RemovalReason, *, announce: bool) -> None:
        """Take ``pe`` out of the handlespace and do the bookkeeping."""
        if self.handlespace.deregister(pe.pool_handle, pe.pe_id) is pe:
            self.forget_pe(pe, reason, announce=announce)

    def drop_association(self, assoc_id: AssocId, reason: RemovalReason) -> None:
        """Every home PE registered over ``assoc_id`` is removed (RSPLIB: COMM_LOST)."""
        pes = self.assoc_pes.pop(assoc_id, None)
        for pe in [] if pes is None else sorted(pes.live_pes(assoc_id), key=_key):
            pe.registration_assoc = None  # its entry is gone with the association's list
            if self.handlespace.find(pe.pool_handle, pe.pe_id) is pe:
                self.remove_pe(pe, reason, announce=self.is_home(pe))


class AssocPes:
    """The home PEs bound to one association: a list with lazy removal, not a set.

    A set costs about 50 B per PE with thousands of PEs on one association (the table's slack);
    a list costs 8 B. An entry is live while its PE's ``registration_assoc`` is the
    association; ``live`` counts the live PEs, and the list is rebuilt (amortised O(1)) when
    stale entries outnumber them.
    """

    __slots__ = ("live", "pes")

    def __init__(self) -> None:
        self.pes: list[StoredPE] = []
        self.live = 0

    def add(self, pe: StoredPE, assoc_id: AssocId) -> None:
        """Bind ``pe`` (whose ``registration_assoc`` is ``assoc_id`` now)."""
        self.live += 1
        self.pes.append(pe)
        if len(self.pes) > 2 * self.live + _COMPACT_SLACK:
            self.pes = self.live_pes(assoc_id)

    def live_pes(self, assoc_id: AssocId) -> list[StoredPE]:
        """The live PEs, each once (a PE bound, unbound and bound again is listed twice)."""
        return list(dict.fromkeys(pe for pe in self.pes if pe.registration_assoc == assoc_id))


_COMPACT_SLACK = 64


def _key(pe: StoredPE) -> Key:
    return pe.key
