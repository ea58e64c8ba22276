"""The registrar's ENRP side (RFC 5353 §3.2-3.6, RSPLIB ``rspregistrar-enrp.c``).

Presence (heartbeat, liveness, checksum audit), mentor discovery at startup, Handle Table
Request/Response with More-to-send paging, Handle Update, List Request/Response. Takeover is
in :mod:`rserpool.proto.registrar.takeover`.
"""

from __future__ import annotations

from rserpool.handlespace import Key, RegistrationRejected
from rserpool.handlespace import PoolElement as StoredPE
from rserpool.proto.common import (
    AssocId,
    Endpoint,
    IPAddress,
    Multicast,
    Send,
    TransportAddress,
)
from rserpool.proto.registrar.addresses import on_association, usable
from rserpool.proto.registrar.config import MAX_HT_RESPONSE_BYTES
from rserpool.proto.registrar.events import (
    ErrorReceived,
    HandleTableSynchronized,
    MentorSelected,
    MessageIgnored,
    PeerAdded,
    PeerChecksumMismatched,
    PeerLossReason,
    PeerLost,
    PoolElementLearned,
    RemovalReason,
    StartupCompleted,
)
from rserpool.proto.registrar.peers import HandleTableContinuation, HandleTableDownload, Peer
from rserpool.proto.registrar.state import Phase, RegistrarState, Timer, transport_kind
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
    PoolElement,
    PoolEntry,
    Presence,
    SctpTransport,
    ServerInformation,
    TakeoverServer,
    UnknownPolicy,
    UpdateAction,
)
from rserpool.wire.buffer import pad4

MAX_LIST_RESPONSE_BYTES = 0xFFFF


class EnrpServer:
    def __init__(self, state: RegistrarState, takeover: TakeoverManager) -> None:
        self.state = state
        self.takeover = takeover
        takeover.remove_peer = self.remove_peer

    # ------------------------------------------------------------------ startup

    def start(self, now: int) -> None:
        """RFC 5353 §3.2: announce ourselves, then look for a mentor for a while."""
        self.heartbeat_timer(now)
        deadline = now + self.state.config.mentor_discovery_timeout
        self.state.timers.set((Timer.MENTOR_DISCOVERY, None), deadline)

    def finish_startup(self, now: int) -> None:
        state = self.state
        if state.phase is not Phase.STARTUP:
            return
        state.phase = Phase.NORMAL
        state.timers.cancel((Timer.MENTOR_DISCOVERY, None))
        state.emit(StartupCompleted(state.mentor_id))
        if state.config.asap_announce:  # announces start only now (RSPLIB)
            state.timers.set((Timer.SERVER_ANNOUNCE_CYCLE, None), now)

    def _choose_mentor(self, peer: Peer, now: int) -> None:
        state = self.state
        if state.phase is not Phase.STARTUP or state.mentor_id is not None:
            return
        state.mentor_id = peer.server_id
        state.emit(MentorSelected(peer.server_id))
        if not peer.list_requested:
            peer.list_requested = True
            state.send_to_peer(peer, self._ids(ListRequest, peer))
        self._request_table(peer, own_children_only=False, now=now)

    # ---------------------------------------------------------------- heartbeat

    def heartbeat_timer(self, now: int) -> None:
        """PEER-HEARTBEAT-CYCLE: Presence to every peer and to the multicast group."""
        state = self.state
        for peer in state.peers.everyone():
            state.send_to_peer(peer, state.presence(peer.server_id))
        if state.config.enrp_announce:
            state.act(Multicast(Endpoint.ENRP, state.presence(0)))
        cycle = state.jittered(state.config.peer_heartbeat_cycle)
        state.timers.set((Timer.PEER_HEARTBEAT_CYCLE, None), now + cycle)

    def heard(self, peer: Peer, now: int) -> None:
        """Any message from a peer: update peer_last_heard (RFC 5353 §3.4.3)."""
        state = self.state
        peer.last_heard = now
        peer.awaiting_reply = False
        if peer.taken_over_by is None:
            state.timers.cancel((Timer.PEER_MAX_TIME_NO_RESPONSE, peer.server_id))
            deadline = now + state.config.peer_max_time_last_heard
            state.timers.set((Timer.PEER_MAX_TIME_LAST_HEARD, peer.server_id), deadline)

    def last_heard_timer(self, server_id: int, now: int) -> None:
        """MAX-TIME-LAST-HEARD: ask for a Presence with reply-required."""
        state = self.state
        peer = state.peers.get(server_id)
        if peer is None or peer.taken_over_by is not None:
            return
        peer.awaiting_reply = True
        state.send_to_peer(peer, state.presence(server_id, reply_required=True))
        deadline = now + state.config.peer_max_time_no_response
        state.timers.set((Timer.PEER_MAX_TIME_NO_RESPONSE, server_id), deadline)

    def no_response_timer(self, server_id: int, now: int) -> None:
        """MAX-TIME-NO-RESPONSE: the peer is dead; take it over if it owns PEs."""
        state = self.state
        peer = state.peers.get(server_id)
        if peer is None:
            return
        peer.taken_over_by = None
        if state.handlespace.owned_count(server_id) > 0:
            if server_id not in self.takeover.processes:
                self.takeover.start(peer, now)
        else:
            self.remove_peer(server_id, PeerLossReason.NO_RESPONSE, now)

    def add_peer(self, server_id: int, transport: TransportAddress, now: int) -> Peer:
        peer = self.state.peers.add(server_id, transport)
        self.state.emit(PeerAdded(server_id, transport))
        self.heard(peer, now)
        return peer

    def remove_peer(self, server_id: int, reason: PeerLossReason, now: int) -> None:
        state = self.state
        if state.peers.remove(server_id) is None:
            return
        state.timers.cancel((Timer.PEER_MAX_TIME_LAST_HEARD, server_id))
        state.timers.cancel((Timer.PEER_MAX_TIME_NO_RESPONSE, server_id))
        state.emit(PeerLost(server_id, reason))
        self.takeover.peer_gone(server_id, now)
        if state.mentor_id == server_id and state.phase is Phase.STARTUP:
            state.mentor_id = None  # the next Presence heard picks another mentor

    def association_lost(self, assoc_id: AssocId) -> None:
        self.state.peers.unbind(assoc_id)

    # ------------------------------------------------------------------ dispatch

    def handle(self, msg: EnrpMessage, assoc_id: AssocId, peer: TransportAddress, now: int) -> None:
        state = self.state
        if msg.sender_id == state.server_id:  # RSPLIB: our own id -> drop silently
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, "sender id is our own"))
            return
        if isinstance(msg, Presence):
            self.presence(msg, assoc_id, peer, now)
            return
        known = state.peers.get(msg.sender_id)
        if known is not None:
            state.peers.bind(known, assoc_id)
            self.heard(known, now)
        if isinstance(msg, HandleTableRequest):
            self.handle_table_request(msg, assoc_id, known)
        elif isinstance(msg, HandleTableResponse):
            self.handle_table_response(msg, known, now)
        elif isinstance(msg, HandleUpdate):
            self.handle_update(msg, now)
        elif isinstance(msg, ListRequest):
            self.list_request(msg, assoc_id)
        elif isinstance(msg, ListResponse):
            self.list_response(msg, known, now)
        elif isinstance(msg, InitTakeover):
            self.takeover.init_takeover(msg, assoc_id, now)
        elif isinstance(msg, InitTakeoverAck):
            self.takeover.init_takeover_ack(msg, now)
        elif isinstance(msg, TakeoverServer):
            self.takeover.takeover_server(msg, now)
        elif isinstance(msg, EnrpError):
            state.emit(ErrorReceived(Endpoint.ENRP, assoc_id, msg.summary()))

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
            peer = self.add_peer(msg.sender_id, transport, now)
        else:
            peer.transport = transport
            self.takeover.target_alive(peer)  # first: it re-enables liveness monitoring
            self.heard(peer, now)
        state.peers.bind(peer, assoc_id)
        if new or msg.reply_required:  # a new peer is asked for its Presence in turn
            reply = state.presence(peer.server_id, reply_required=new)
            state.act(Send(Endpoint.ENRP, assoc_id, reply))
        if state.phase is Phase.STARTUP and state.mentor_id is None:
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
            peer = self.add_peer(msg.sender_id, TransportAddress(addresses, port), now)
            state.send_to_peer(peer, state.presence(peer.server_id, reply_required=True))
        else:
            self.takeover.target_alive(peer)
            self.heard(peer, now)
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

    def handle_table_request(
        self, msg: HandleTableRequest, assoc_id: AssocId, peer: Peer | None
    ) -> None:
        """Answer one page; RSPLIB rejects requesters that are not in the peer list."""
        state = self.state
        if peer is None:
            reject = HandleTableResponse(
                sender_id=state.server_id, receiver_id=msg.sender_id, reject=True
            )
            state.act(Send(Endpoint.ENRP, assoc_id, reject))
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, "HT Request from unknown peer"))
            return
        after = None
        cont = peer.continuation
        if cont is not None and cont.own_children_only == msg.own_children_only:
            after = cont.after
        entries, last, more = self._page(after, msg.own_children_only)
        peer.continuation = None
        if more and last is not None:
            peer.continuation = HandleTableContinuation(msg.own_children_only, last)
        response = HandleTableResponse(
            sender_id=state.server_id,
            receiver_id=peer.server_id,
            entries=entries,
            more_to_send=more,
        )
        state.act(Send(Endpoint.ENRP, assoc_id, response))

    def _page(
        self, after: Key | None, own_children_only: bool
    ) -> tuple[tuple[PoolEntry, ...], Key | None, bool]:
        """PEs after the cursor: at most ``max_elements_per_ht_request`` and 1400 bytes.

        A single PE larger than 1400 bytes goes alone (RSPLIB would send nothing at all).
        Returns (entries, last key consumed, more to send).
        """
        state = self.state
        limit = state.config.max_elements_per_ht_request
        owner = state.server_id if own_children_only else None
        candidates = state.handlespace.page(after, limit + 1, owner=owner)
        groups: list[tuple[bytes, list[PoolElement]]] = []
        size, count, last = 12, 0, after
        more = len(candidates) > limit
        for pe in candidates[:limit]:
            wire = state.wire_pe(pe)
            if wire is None:
                last = pe.key
                continue
            pe_size = len(wire.encode())
            new_group = not groups or groups[-1][0] != pe.pool_handle
            handle_size = 4 + len(pe.pool_handle) + pad4(4 + len(pe.pool_handle))
            needed = pe_size + (handle_size if new_group else 0)
            if count and size + needed > MAX_HT_RESPONSE_BYTES:
                more = True
                break
            if new_group:
                groups.append((pe.pool_handle, []))
            groups[-1][1].append(wire)
            size += needed
            count += 1
            last = pe.key
        entries = tuple(PoolEntry(handle, tuple(pes)) for handle, pes in groups)
        return entries, last, more

    def handle_table_response(self, msg: HandleTableResponse, peer: Peer | None, now: int) -> None:
        state = self.state
        if peer is None:
            state.emit(MessageIgnored(Endpoint.ENRP, None, "HT Response from unknown peer"))
            return
        download = peer.download
        if msg.reject:
            peer.download = None
            state.emit(MessageIgnored(Endpoint.ENRP, peer.assoc_id, "HT Request rejected"))
            if state.phase is Phase.STARTUP and state.mentor_id == peer.server_id:
                state.mentor_id = None  # try the next peer heard
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
        if state.phase is Phase.STARTUP and state.mentor_id == peer.server_id:
            self.finish_startup(now)

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

    def handle_update(self, msg: HandleUpdate, now: int) -> None:
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

    def list_request(self, msg: ListRequest, assoc_id: AssocId) -> None:
        state = self.state
        servers: list[ServerInformation] = []
        size = 12
        for peer in state.peers:
            info = ServerInformation(
                peer.server_id, SctpTransport(peer.transport.port, peer.transport.addresses)
            )
            size += len(info.encode())
            if size > MAX_LIST_RESPONSE_BYTES:
                break  # RSPLIB: truncated silently
            servers.append(info)
        response = ListResponse(
            sender_id=state.server_id, receiver_id=msg.sender_id, servers=tuple(servers)
        )
        state.act(Send(Endpoint.ENRP, assoc_id, response))

    def list_response(self, msg: ListResponse, sender: Peer | None, now: int) -> None:
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
            peer = self.add_peer(info.server_id, transport, now)
            state.send_to_peer(peer, state.presence(peer.server_id, reply_required=True))

    def _ids(self, cls: type[ListRequest], peer: Peer) -> ListRequest:
        return cls(sender_id=self.state.server_id, receiver_id=peer.server_id)
