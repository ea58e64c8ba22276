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
from rserpool.proto.registrar.peers import HandleTableDownload, Peer, same_endpoint
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
        known = self.bound_peer(msg.sender_id, assoc_id, source)
        if known is None:
            if type(msg) is HandleTableRequest:  # RSPLIB: answered with a reject
                self.tables.handle_table_request(msg, assoc_id, None, now)
                return
            reason = (
                f"{type(msg).__name__} from {msg.sender_id:#010x}, not a peer on this association"
            )
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
            return
        self.monitor.heard(known, now)
        self._handlers[type(msg)](msg, assoc_id, known, now)

    def bound_peer(
        self, sender_id: int, assoc_id: AssocId, source: TransportAddress
    ) -> Peer | None:
        """The verified peer ``sender_id`` if ``assoc_id`` is its association, else None.

        An ENRP message counts only from the association bound to its sender id: the one its
        Presence came on, or a new association from the peer's own ENRP addresses and port
        (which is then bound). A sender id claimed from anywhere else is not believed.
        """
        peer = self.state.peers.get(sender_id)
        if peer is None or not peer.verified:
            return None
        if peer.assoc_id == assoc_id:
            return peer
        if not same_endpoint(peer.transport, source):
            return None
        self.state.peers.bind(peer, assoc_id)
        return peer

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
        known = peer is not None and peer.verified and peer.assoc_id != assoc_id
        if known and peer is not None and not same_endpoint(peer.transport, transport):
            # someone else claims its id
            reason = f"Presence claims peer {msg.sender_id:#010x} from other addresses"
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
            return
        if peer is None and not self.admitted(transport, assoc_id):
            return
        new = peer is None or not peer.verified
        if peer is None:
            peer = self.monitor.add_peer(msg.sender_id, transport, now)
        else:
            self.takeover.target_alive(peer)  # first: it re-enables liveness monitoring
            self.monitor.heard(peer, now, PeerInput.PRESENCE)
        peer.transport = transport
        peer.verified = True
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
        """Presence by UDP: peer = source IP + the Server Information's port (no audit).

        Anyone can send a datagram with any source address, so a multicast Presence only
        introduces a peer (it is sent Presence with reply-required over SCTP): it neither
        refreshes a known peer nor stops a takeover, and the peer becomes a mentor or a takeover
        candidate only once its own Presence came over SCTP.
        """
        state = self.state
        if msg.sender_id == state.server_id:
            return  # our own, looped back
        info = msg.server_information
        port = info.transport.port if info is not None else source[1]
        addresses = usable((source[0],), state.config.min_address_scope)
        if not addresses:
            state.emit(MessageIgnored(Endpoint.ENRP, None, "multicast source not usable"))
            return
        if msg.sender_id in state.peers:
            return
        transport = TransportAddress(addresses, port)
        if not self.admitted(transport, None):
            return
        peer = self.monitor.add_peer(msg.sender_id, transport, now)
        state.send_to_peer(peer, state.presence(peer.server_id, reply_required=True))

    def admitted(self, transport: TransportAddress, assoc_id: AssocId | None) -> bool:
        """With ``static_peers_only``, only the configured peers become peers."""
        state = self.state
        if not state.config.static_peers_only or state.peers.configured(transport):
            return True
        reason = f"{transport} is not a configured peer (static peers only)"
        state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
        return False

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
                applied = self.apply_pe(entry.pool_handle, wire, peer.server_id, now)
                if applied and download is not None and not download.verifying:
                    download.received += 1
                if download is not None:
                    download.stale.discard((entry.pool_handle, wire.pe_id))
        if download is None:
            return  # not asked for (or given up on): nothing to continue or to purge
        if msg.more_to_send:
            download.started = now
            request = HandleTableRequest(
                sender_id=state.server_id,
                receiver_id=peer.server_id,
                own_children_only=download.own_children_only,
            )
            state.send_to_peer(peer, request)
            return
        peer.download = None
        if download.own_children_only and download.stale:
            # Not the peer's any more: maybe another registrar's now (a takeover, a healed
            # partition). The peer's whole table tells; only PEs it does not know are purged.
            verify = HandleTableDownload(False, now, download.stale, download.received, True)
            peer.download = verify
            request = HandleTableRequest(
                sender_id=state.server_id, receiver_id=peer.server_id, own_children_only=False
            )
            state.send_to_peer(peer, request)
            return
        purged = 0
        for key in sorted(download.stale):
            pe = state.handlespace.find(*key)
            if pe is not None and pe.home_registrar_id == peer.server_id:
                state.remove_pe(pe, RemovalReason.RESYNC_PURGE, announce=False)
                purged += 1
        state.emit(
            HandleTableSynchronized(
                peer.server_id,
                download.own_children_only or download.verifying,
                download.received,
                purged,
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
        ours = state.handlespace.find(handle, wire.pe_id)
        if ours is not None and state.is_home(ours) and home > state.server_id:
            # Two homes (a healed partition: both took the PE over): the lower id keeps it,
            # as in takeover conflicts, and tells everybody; the other one yields.
            reason = f"PE {wire.pe_id:#010x} claimed by {home:#010x}: the lower id keeps it"
            state.emit(MessageIgnored(Endpoint.ENRP, None, reason))
            state.broadcast_update(UpdateAction.ADD_PE, ours)
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
        """A peer's update of a PE it is home of: ADD_PE must name the sender as home; DEL_PE
        removes only a PE whose home is the sender (in our copy or in the message)."""
        state = self.state
        if msg.action == UpdateAction.ADD_PE:
            if msg.pool_element.home_registrar_id != msg.sender_id:
                reason = f"ADD_PE from {msg.sender_id:#010x} for a PE of another home"
                state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
                return
            self.apply_pe(msg.pool_handle, msg.pool_element, msg.sender_id, now)
            return
        pe: StoredPE | None = state.handlespace.find(msg.pool_handle, msg.pool_element.pe_id)
        if pe is None:
            return
        if state.is_home(pe):  # our keep-alives supervise it; a stale DEL must not remove it
            state.emit(MessageIgnored(Endpoint.ENRP, None, "DEL_PE for a PE we are home of"))
            return
        if msg.sender_id not in (pe.home_registrar_id, msg.pool_element.home_registrar_id):
            reason = f"DEL_PE from {msg.sender_id:#010x} for a PE of {pe.home_registrar_id:#010x}"
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
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
            if not self.admitted(transport, assoc_id):
                continue
            peer = self.monitor.add_peer(info.server_id, transport, now)
            state.send_to_peer(peer, state.presence(peer.server_id, reply_required=True))

    def _ids(self, cls: type[ListRequest], peer: Peer) -> ListRequest:
        return cls(sender_id=self.state.server_id, receiver_id=peer.server_id)
