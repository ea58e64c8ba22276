"""The registrar's ENRP side (RFC 5353 §3.2-3.6, RSPLIB ``rspregistrar-enrp.c``).

Dispatch by message type; Presence (and the checksum audit it carries), the startup phase
(mentor discovery, the mentor's handle table), List Responses. Peer liveness is in
:mod:`.liveness`, what we serve from our own state (Handle Table and List Responses) in
:mod:`.handletable`, Handle Table Responses and Handle Updates applied to the handlespace in
:mod:`.tablesync`, takeover in :mod:`.takeover`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    MentorSelected,
    MessageIgnored,
    StartupCompleted,
)
from rserpool.proto.registrar.handletable import TableServer
from rserpool.proto.registrar.liveness import PeerMonitor
from rserpool.proto.registrar.machines import PeerInput, StartupInput, StartupState
from rserpool.proto.registrar.peers import Peer, same_endpoint
from rserpool.proto.registrar.state import RegistrarState, Timer, route
from rserpool.proto.registrar.tablesync import TableSync
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
    Presence,
    TakeoverServer,
)

#: A handler of one ENRP message type: (message, association, sender if a peer, now).
Handler = Callable[[Any, AssocId, Peer | None, int], None]


class EnrpServer:
    def __init__(self, state: RegistrarState, takeover: TakeoverManager) -> None:
        self.state = state
        self.takeover = takeover
        self.monitor = PeerMonitor(state, takeover)
        self.tables = tables = TableServer(state)
        self.sync = sync = TableSync(state, self._in_service)
        # Presence is not here: it comes first (it is what makes its sender a peer).
        self._handlers: dict[type[Message], Handler] = dict(
            [
                route(HandleTableRequest, tables.handle_table_request),
                route(HandleTableResponse, sync.handle_table_response),
                route(HandleUpdate, sync.handle_update),
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
        self.sync.request_table(peer, own_children_only=False, now=now)

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
        self.sync.audit(peer, msg.pe_checksum, now)
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
