"""Peer liveness (RFC 5353 §3.3, §3.4.3): heartbeats, last heard, no response, leaving the list.

Every peer's state changes through the ``PEERS`` machine of :mod:`.machines`; this module runs
its timers: Presence to every peer each PEER-HEARTBEAT-CYCLE, a Presence with reply-required
after MAX-TIME-LAST-HEARD of silence, and after MAX-TIME-NO-RESPONSE more the peer has failed:
taken over if it owns PEs, removed otherwise.
"""

from __future__ import annotations

from rserpool.proto.common import Endpoint, Multicast, TransportAddress
from rserpool.proto.registrar.events import PeerAdded, PeerLossReason, PeerLost
from rserpool.proto.registrar.machines import PEERS, PeerInput, PeerState, StartupInput
from rserpool.proto.registrar.peers import Peer
from rserpool.proto.registrar.state import RegistrarState, Timer
from rserpool.proto.registrar.takeover import TakeoverManager


class PeerMonitor:
    """Adds, watches and removes peers (the registrar's peer list management)."""

    def __init__(self, state: RegistrarState, takeover: TakeoverManager) -> None:
        self.state = state
        self.takeover = takeover
        takeover.remove_peer = self.remove_peer

    def heartbeat_timer(self, now: int) -> None:
        """PEER-HEARTBEAT-CYCLE: Presence to every peer and to the multicast group."""
        state = self.state
        for peer in state.peers.everyone():
            state.send_to_peer(peer, state.presence(peer.server_id))
        if state.config.enrp_announce:
            state.act(Multicast(Endpoint.ENRP, state.presence(0)))
        cycle = state.jittered(state.config.peer_heartbeat_cycle)
        state.timers.set((Timer.PEER_HEARTBEAT_CYCLE, None), now + cycle)

    def heard(self, peer: Peer, now: int, event: PeerInput = PeerInput.HEARD) -> None:
        """A message from a peer (``PRESENCE`` or ``HEARD``): update peer_last_heard."""
        state = self.state
        peer.last_heard = now
        peer.state = PEERS.next(peer.state, event)
        if peer.state is PeerState.ALIVE:
            state.timers.cancel((Timer.PEER_MAX_TIME_NO_RESPONSE, peer.server_id))
            deadline = now + state.config.peer_max_time_last_heard
            state.timers.set((Timer.PEER_MAX_TIME_LAST_HEARD, peer.server_id), deadline)

    def last_heard_timer(self, server_id: int, now: int) -> None:
        """MAX-TIME-LAST-HEARD: ask for a Presence with reply-required."""
        state = self.state
        peer = state.peers.get(server_id)
        if peer is None:
            return
        peer.state = PEERS.next(peer.state, PeerInput.LAST_HEARD_TIMEOUT)
        state.send_to_peer(peer, state.presence(server_id, reply_required=True))
        deadline = now + state.config.peer_max_time_no_response
        state.timers.set((Timer.PEER_MAX_TIME_NO_RESPONSE, server_id), deadline)

    def no_response_timer(self, server_id: int, now: int) -> None:
        """MAX-TIME-NO-RESPONSE: the peer has failed; take it over if it owns PEs."""
        state = self.state
        peer = state.peers.get(server_id)
        if peer is None:
            return
        peer.state = PEERS.next(peer.state, PeerInput.NO_RESPONSE_TIMEOUT)
        peer.taken_over_by = None
        self.takeover.peer_failed(server_id, now)  # a dead peer owes no Init Takeover Ack
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
        peer = state.peers.remove(server_id)
        if peer is None:
            return
        peer.state = PEERS.next(peer.state, PeerInput.REMOVE)
        state.timers.cancel((Timer.PEER_MAX_TIME_LAST_HEARD, server_id))
        state.timers.cancel((Timer.PEER_MAX_TIME_NO_RESPONSE, server_id))
        state.emit(PeerLost(server_id, reason))
        self.takeover.peer_gone(server_id, now)
        if state.mentor_id == server_id:
            state.advance_startup(StartupInput.MENTOR_LOST)
