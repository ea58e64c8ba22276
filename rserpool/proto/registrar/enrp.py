"""The registrar's ENRP side (RFC 5353 §3.2-3.6, RSPLIB ``rspregistrar-enrp.c``).

Dispatch by message type; Presence (and the checksum audit it carries), the startup phase
(mentor discovery, the mentor's handle table), Handle Table Responses and Handle Updates applied
to the handlespace, List Responses. Peer liveness is in :mod:`.liveness`, what we serve from our
own state (Handle Table and List Responses) in :mod:`.handletable`, takeover in :mod:`.takeover`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rserpool.handlespace import PoolElement as StoredPE
from rserpool.handlespace import RegistrationRejected
from rserpool.proto.common import (
    AssocId,
    Endpoint,
    IPAddress,
    Send,
    TransportAddress,
)
from rserpool.proto.registrar.addresses import on_association, usable
from rserpool.proto.registrar.events import (
    ErrorReceived,
    HandleTableSynchronized,
    MentorSelected,
    MessageIgnored,
    PeerChecksumMismatched,
    PoolElementLearned,
    RemovalReason,
    StartupCompleted,
)
from rserpool.proto.registrar.handletable import TableServer
from rserpool.proto.registrar.liveness import PeerMonitor
from rserpool.proto.registrar.machines import PeerInput, StartupInput, StartupState
from rserpool.proto.registrar.peers import HandleTableDownload, Peer
from rserpool.proto.registrar.state import RegistrarState, Timer, route, transport_kind
from rserpool.proto.registrar.takeover import TakeoverManager
from rserpool.wire import (
    EnrpError,
    EnrpMessage,
    HandleTableRequest,
    HandleTableResponse,
    HandleUpdate,
    InitTakeover,
    InitTakeoverAck,
    ListRequest,
    ListResponse,
    Message,
    PoolElement,
    Presence,
    TakeoverServer,
    UnknownPolicy,
    UpdateAction,
)

#: A handler of one ENRP message type: (message, association, sender if a peer, now).
Handler = Callable[[Any, AssocId, Peer | None, int], None]


class EnrpServer:
    def __init__(self, state: RegistrarState, takeover: TakeoverManager) -> None:
        self.state = state
        self.takeover = takeover
        self.monitor = PeerMonitor(state, takeover)
        self.tables = tables = TableServer(state)
        # Presence is not here: it comes first (it is what makes its sender a peer).
        self._handlers: dict[type[Message], Handler] = dict(
            [
                route(HandleTableRequest, tables.handle_table_request),
                route(HandleTableResponse, self.handle_table_response),
                route(HandleUpdate, self.handle_update),
                route(ListRequest, tables.list_request),
                route(ListResponse, self.list_response),
                route(InitTakeover, takeover.init_takeover),
                route(InitTakeoverAck, takeover.init_takeover_ack),
                route(TakeoverServer, takeover.takeover_server),
                route(EnrpError, self.error),
            ]
        )

    # ------------------------------------------------------------------ startup

    def start(self, now: int) -> None:
        """RFC 5353 §3.2: announce ourselves, then look for a mentor for a while."""
        self.state.advance_startup(StartupInput.START)
        self.monitor.heartbeat_timer(now)
        deadline = now + self.state.config.mentor_discovery_timeout
        self.state.timers.set((Timer.MENTOR_DISCOVERY, None), deadline)

    def discovery_timer(self, now: int) -> None:
        """The mentor discovery timeout: in service, with or without the mentor's table."""
        self.state.advance_startup(StartupInput.DISCOVERY_TIMEOUT)
        self._in_service(now)

    def _in_service(self, now: int) -> None:
        state = self.state
        state.timers.cancel((Timer.MENTOR_DISCOVERY, None))
        state.emit(StartupCompleted(state.mentor_id))
        if state.config.asap_announce:  # announces start only now (RSPLIB)
            state.timers.set((Timer.SERVER_ANNOUNCE_CYCLE, None), now)

    def _choose_mentor(self, peer: Peer, now: int) -> None:
        state = self.state
        if state.advance_startup(StartupInput.PEER_HEARD) is not StartupState.MENTOR_DISCOVERY:
            return  # a mentor was chosen already, or startup is over
        state.mentor_id = peer.server_id
        state.emit(MentorSelected(peer.server_id))
        if not peer.list_requested:
            peer.list_requested = True
            state.send_to_peer(peer, self._ids(ListRequest, peer))
        self._request_table(peer, own_children_only=False, now=now)

    # ------------------------------------------------------------------ peers

    def association_lost(self, assoc_id: AssocId) -> None:
        self.state.peers.unbind(assoc_id)

    # ------------------------------------------------------------------ dispatch

    def handle(self, msg: Message, assoc_id: AssocId, source: TransportAddress, now: int) -> None:
        """One ENRP message on ``assoc_id``, whose peer transport address is ``source``."""
        state = self.state
        assert isinstance(msg, EnrpMessage)  # decoded with the ENRP PPID
        if msg.sender_id == state.server_id:  # RSPLIB: our own id -> drop silently
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, "sender id is our own"))
            return
        if type(msg) is Presence:
            self.presence(msg, assoc_id, source, now)
            return
        known = state.peers.get(msg.sender_id)
        if known is not None:
            state.peers.bind(known, assoc_id)
            self.monitor.heard(known, now)
        self._handlers[type(msg)](msg, assoc_id, known, now)

    def error(self, msg: EnrpError, assoc_id: AssocId, sender: Peer | None, now: int) -> None:
        self.state.emit(ErrorReceived(Endpoint.ENRP, assoc_id, msg.summary()))

    # ------------------------------------------------------------------ Presence

    def presence(
        self, msg: Presence, assoc_id: AssocId, source: TransportAddress, now: int
    ) -> None:
        """Presence over SCTP: the Server Information must match the association."""
        state = self.state
        min_scope = state.config.min_address_scope
        info = msg.server_information
        if info is None:
            transport = TransportAddress(usable(source.addresses, min_scope), source.port)
        elif info.transport.port != source.port:
            reason = "Server Information port is not the association's"
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
            return
        else:
            addresses = on_association(info.transport.addresses, source, min_scope)
            transport = TransportAddress(addresses, source.port)
        if not transport.addresses:
            reason = "no usable Server Information addresses"
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
            return
        peer = state.peers.get(msg.sender_id)
        new = peer is None
        if peer is None:
            peer = self.monitor.add_peer(msg.sender_id, transport, now)
        else:
            peer.transport = transport
            self.takeover.target_alive(peer)  # first: it re-enables liveness monitoring
            self.monitor.heard(peer, now, PeerInput.PRESENCE)
        state.peers.bind(peer, assoc_id)
        if new or msg.reply_required:  # a new peer is asked for its Presence in turn
            reply = state.presence(peer.server_id, reply_required=new)
            state.act(Send(Endpoint.ENRP, assoc_id, reply))
        if state.startup is StartupState.MENTOR_DISCOVERY:
            self._choose_mentor(peer, now)
            return
        self._audit(peer, msg.pe_checksum, now)
        if not peer.list_requested:
            peer.list_requested = True
            state.send_to_peer(peer, self._ids(ListRequest, peer))

    def multicast_presence(self, msg: Presence, source: tuple[IPAddress, int], now: int) -> None:
        """Presence by UDP: peer = source IP + the Server Information's port (no audit)."""
        state = self.state
        if msg.sender_id == state.server_id:
            return  # our own, looped back
        info = msg.server_information
        port = info.transport.port if info is not None else source[1]
        addresses = usable((source[0],), state.config.min_address_scope)
        if not addresses:
            state.emit(MessageIgnored(Endpoint.ENRP, None, "multicast source not usable"))
            return
        peer = state.peers.get(msg.sender_id)
        if peer is None:
            peer = self.monitor.add_peer(msg.sender_id, TransportAddress(addresses, port), now)
            state.send_to_peer(peer, state.presence(peer.server_id, reply_required=True))
        else:
            self.takeover.target_alive(peer)
            self.monitor.heard(peer, now, PeerInput.PRESENCE)
        self._choose_mentor(peer, now)

    def _audit(self, peer: Peer, checksum: int, now: int) -> None:
        """RFC 5353 §3.6: a checksum mismatch starts an own-children-only resync."""
        state = self.state
        download = peer.download
        limit = state.config.peer_max_time_no_response
        if download is not None and now - download.started <= limit:
            return  # a download is under way
        expected = state.handlespace.ownership_checksum(peer.server_id)
        if checksum == expected:
            return
        state.emit(PeerChecksumMismatched(peer.server_id, expected, checksum))
        self._request_table(peer, own_children_only=True, now=now)

    def _request_table(self, peer: Peer, *, own_children_only: bool, now: int) -> None:
        state = self.state
        download = HandleTableDownload(own_children_only, now)
        if own_children_only:  # mark; whatever the responses do not refresh is purged
            download.stale = {pe.key for pe in state.handlespace.elements_of_owner(peer.server_id)}
        peer.download = download
        request = HandleTableRequest(
            sender_id=state.server_id,
            receiver_id=peer.server_id,
            own_children_only=own_children_only,
        )
        state.send_to_peer(peer, request)

    # -------------------------------------------------------------- handle table

    def handle_table_response(
        self, msg: HandleTableResponse, assoc_id: AssocId, peer: Peer | None, now: int
    ) -> None:
        state = self.state
        if peer is None:
            state.emit(MessageIgnored(Endpoint.ENRP, None, "HT Response from unknown peer"))
            return
        download = peer.download
        if msg.reject:
            peer.download = None
            state.emit(MessageIgnored(Endpoint.ENRP, peer.assoc_id, "HT Request rejected"))
            if state.mentor_id == peer.server_id:  # in startup: try the next peer heard
                state.advance_startup(StartupInput.MENTOR_LOST)
            return
        for entry in msg.entries:
            for wire in entry.pool_elements:
                if self.apply_pe(entry.pool_handle, wire, peer.server_id, now) and download:
                    download.received += 1
                if download is not None:
                    download.stale.discard((entry.pool_handle, wire.pe_id))
        if msg.more_to_send:
            if download is not None:
                download.started = now
            request = HandleTableRequest(
                sender_id=state.server_id,
                receiver_id=peer.server_id,
                own_children_only=download.own_children_only if download else False,
            )
            state.send_to_peer(peer, request)
            return
        if download is None:
            return
        peer.download = None
        purged = 0
        for key in sorted(download.stale):
            pe = state.handlespace.find(*key)
            if pe is not None and pe.home_registrar_id == peer.server_id:
                state.remove_pe(pe, RemovalReason.RESYNC_PURGE, announce=False)
                purged += 1
        state.emit(
            HandleTableSynchronized(
                peer.server_id, download.own_children_only, download.received, purged
            )
        )
        if state.mentor_id == peer.server_id:
            old = state.advance_startup(StartupInput.MENTOR_TABLE_COMPLETE)
            if old is StartupState.SYNCHRONIZING:
                self._in_service(now)

    def apply_pe(self, handle: bytes, wire: PoolElement, peer_id: int, now: int) -> bool:
        """A PE from a peer (Handle Update ADD_PE or a Handle Table entry), as non-home.

        Ignored: PEs claiming us as home (RSPLIB), home id 0, no ASAP transport, unknown
        policies, and PEs that fail the pool's consistency checks.
        """
        state = self.state
        home = wire.home_registrar_id
        if home in (0, state.server_id) or wire.asap_transport is None:
            return False
        if isinstance(wire.policy, UnknownPolicy):
            return False
        protocol, control_channel = transport_kind(wire.user_transport)
        try:
            result = state.handlespace.register(
                handle,
                wire.pe_id,
                home_registrar_id=home,
                registration_life=wire.registration_life,
                policy=wire.policy,
                user_transport=wire.user_transport,
                transport_protocol=protocol,
                control_channel=control_channel,
                asap_transport=wire.asap_transport,
                now=now,
            )
        except RegistrationRejected as exc:
            reason = f"PE {wire.pe_id:#010x} from peer {peer_id:#010x}: {exc}"
            state.emit(MessageIgnored(Endpoint.ENRP, None, reason))
            return False
        state.supervise(result.element, now)
        state.emit(PoolElementLearned(handle, wire.pe_id, home, peer_id, result.created))
        return True

    def handle_update(
        self, msg: HandleUpdate, assoc_id: AssocId, sender: Peer | None, now: int
    ) -> None:
        state = self.state
        if msg.action == UpdateAction.ADD_PE:
            self.apply_pe(msg.pool_handle, msg.pool_element, msg.sender_id, now)
            return
        pe: StoredPE | None = state.handlespace.find(msg.pool_handle, msg.pool_element.pe_id)
        if pe is None:
            return
        if state.is_home(pe):  # our keep-alives supervise it; a stale DEL must not remove it
            state.emit(MessageIgnored(Endpoint.ENRP, None, "DEL_PE for a PE we are home of"))
            return
        state.remove_pe(pe, RemovalReason.HANDLE_UPDATE, announce=False)

    # ------------------------------------------------------------------ lists

    def list_response(
        self, msg: ListResponse, assoc_id: AssocId, sender: Peer | None, now: int
    ) -> None:
        """Every server not known yet is added and sent a Presence (reply required)."""
        state = self.state
        if msg.reject:
            return
        for info in msg.servers:
            if info.server_id in (0, state.server_id) or info.server_id in state.peers:
                continue
            addresses = usable(info.transport.addresses, state.config.min_address_scope)
            if not addresses:
                continue
            transport = TransportAddress(addresses, info.transport.port)
            peer = self.monitor.add_peer(info.server_id, transport, now)
            state.send_to_peer(peer, state.presence(peer.server_id, reply_required=True))

    def _ids(self, cls: type[ListRequest], peer: Peer) -> ListRequest:
        return cls(sender_id=self.state.server_id, receiver_id=peer.server_id)
