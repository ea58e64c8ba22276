"""Taking over a failed peer (RFC 5353 §3.5, RSPLIB ``rspregistrar-takeover.c``).

The initiator sends Init Takeover to every peer (the target included) and waits for Init
Takeover Acks from every peer except the target, itself and id 0. With all Acks in, it sends
Takeover Server to the peers, becomes home of the target's PEs and sends each of them an
Endpoint Keep Alive with the H flag to its ASAP transport (keep-alive timeout armed).

Decisions, where RSPLIB 3.4.4 and the RFC leave a gap:

* **Nobody to ack** (two registrars, or every other peer gone): RSPLIB never completes. We
  complete when the takeover expiry timer fires, unless the target sent Presence in the
  meantime. The target has then been silent for max-time-last-heard + max-time-no-response +
  takeover-expiry (15 s with the defaults), and it was sent Init Takeover, which a living
  target answers with Presence.
* **Missing Acks** at expiry (RSPLIB): the takeover is abandoned and the target removed from
  the peer list; its PEs stay until their registration life expires. A peer that disappears
  from our peer list while we wait no longer owes an Ack.
* **Conflicts**: the **lower** sender id wins, as RSPLIB does (RFC 5353 §3.5.1 reads the other
  way round; all registrars of one operational scope must agree, and RSPLIB is the deployed
  implementation). The loser acks and watches the target for max-time-no-response.
* **Takeover Server for ourselves** (a false failure detection elsewhere): like RSPLIB, we hand
  our PEs to the sender; the PEs follow its H-bit Keep Alive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rserpool.proto.common import AssocId, Endpoint, Multicast, Send, TransportAddress
from rserpool.proto.registrar.events import (
    PeerLossReason,
    TakeoverAborted,
    TakeoverAbortReason,
    TakeoverCompleted,
    TakeoverStarted,
)
from rserpool.proto.registrar.machines import (
    PEERS,
    TAKEOVER,
    PeerInput,
    TakeoverInput,
    TakeoverState,
)
from rserpool.proto.registrar.peers import Peer
from rserpool.proto.registrar.state import RegistrarState, Timer
from rserpool.wire import (
    EndpointKeepAlive,
    InitTakeover,
    InitTakeoverAck,
    SctpTransport,
    TakeoverServer,
)

_ABORT_REASONS: dict[TakeoverInput, TakeoverAbortReason | None] = {
    TakeoverInput.TARGET_ALIVE: TakeoverAbortReason.TARGET_ALIVE,
    TakeoverInput.RIVAL_LOWER_ID: TakeoverAbortReason.LOWER_ID_WINS,
    TakeoverInput.TAKEN_OVER_ELSEWHERE: TakeoverAbortReason.TAKEN_OVER_ELSEWHERE,
    TakeoverInput.TARGET_REMOVED: None,  # the peer list tells (PeerLost)
}


@dataclass(slots=True)
class TakeoverProcess:
    target_id: int
    started: int
    awaiting: set[int] = field(default_factory=set)
    state: TakeoverState = TakeoverState.IDLE  # changed through ``advance`` only

    def advance(self, event: TakeoverInput) -> TakeoverState:
        """Apply ``event`` to the takeover machine; returns the new state."""
        self.state = TAKEOVER.next(self.state, event)
        return self.state

    def acked(self) -> TakeoverState:
        """An Ack arrived or an owing peer left (already discarded from ``awaiting``)."""
        return self.advance(TakeoverInput.ACK if self.awaiting else TakeoverInput.LAST_ACK)


class TakeoverManager:
    def __init__(self, state: RegistrarState) -> None:
        self.state = state
        self.processes: dict[int, TakeoverProcess] = {}  # running ones: by target id
        # wired by EnrpServer: removes a peer from the list (with its timers and event)
        self.remove_peer: Callable[[int, PeerLossReason, int], None] = _no_remove

    # ------------------------------------------------------------------ initiator

    def start(self, target: Peer, now: int) -> None:
        state = self.state
        target_id = target.server_id
        awaiting = {p.server_id for p in state.peers if p.server_id not in (target_id, 0)}
        process = TakeoverProcess(target_id, now, awaiting)
        owed = TakeoverInput.START_ACKS_OWED if awaiting else TakeoverInput.START_NONE_OWED
        process.advance(owed)
        self.processes[target_id] = process
        state.emit(TakeoverStarted(target_id, tuple(sorted(awaiting))))
        for peer in state.peers.everyone():
            message = InitTakeover(
                sender_id=state.server_id, receiver_id=peer.server_id, target_id=target_id
            )
            state.send_to_peer(peer, message)
        expiry = now + state.config.takeover_expiry_interval
        state.timers.set((Timer.TAKEOVER_EXPIRY, target_id), expiry)

    def expiry_timer(self, target_id: int, now: int) -> None:
        process = self.processes.get(target_id)
        if process is None:
            return
        if process.advance(TakeoverInput.EXPIRY) is TakeoverState.COMPLETED:
            self.complete(target_id, now)
            return
        del self.processes[target_id]  # ABORTED: acks are missing
        self.remove_peer(target_id, PeerLossReason.TAKEOVER_EXPIRED, now)

    def init_takeover_ack(
        self, msg: InitTakeoverAck, assoc_id: AssocId, sender: Peer | None, now: int
    ) -> None:
        process = self.processes.get(msg.target_id)
        if process is not None:
            process.awaiting.discard(msg.sender_id)
            if process.acked() is TakeoverState.COMPLETED:
                self.complete(msg.target_id, now)

    def peer_gone(self, server_id: int, now: int) -> None:
        """A peer left the list: it owes no Ack any more; a takeover of it ends."""
        self.cancel(server_id, TakeoverInput.TARGET_REMOVED)
        for target_id, process in list(self.processes.items()):
            if server_id in process.awaiting and self.processes.get(target_id) is process:
                process.awaiting.discard(server_id)
                if process.acked() is TakeoverState.COMPLETED:
                    self.complete(target_id, now)

    def complete(self, target_id: int, now: int) -> None:
        state = self.state
        self.processes.pop(target_id, None)
        state.timers.cancel((Timer.TAKEOVER_EXPIRY, target_id))
        for peer in state.peers.everyone():
            if peer.server_id != target_id:
                message = TakeoverServer(
                    sender_id=state.server_id, receiver_id=peer.server_id, target_id=target_id
                )
                state.send_to_peer(peer, message)
        self.remove_peer(target_id, PeerLossReason.TAKEN_OVER, now)
        moved = state.handlespace.take_over(target_id, state.server_id)
        timeout = state.config.endpoint_keep_alive_timeout_interval
        for pe in moved:
            state.handlespace.set_expiry(pe, None)
            state.timers.cancel((Timer.ENDPOINT_KEEP_ALIVE_TRANSMISSION, pe.key))
            state.bind_pe(pe.key, None)
            if isinstance(pe.asap_transport, SctpTransport):
                keep_alive = EndpointKeepAlive(
                    server_id=state.server_id, pool_handle=pe.pool_handle, pe_id=pe.pe_id, home=True
                )
                to = TransportAddress.of(pe.asap_transport)
                state.act(Send(Endpoint.ASAP, None, keep_alive, to))
            state.timers.set((Timer.ENDPOINT_KEEP_ALIVE_TIMEOUT, pe.key), now + timeout)
        state.emit(TakeoverCompleted(target_id, state.server_id, len(moved)))

    def cancel(self, target_id: int, event: TakeoverInput) -> None:
        """End a running takeover of ``target_id`` (if any) for ``event``: ABORTED."""
        process = self.processes.pop(target_id, None)
        if process is None:
            return
        process.advance(event)
        self.state.timers.cancel((Timer.TAKEOVER_EXPIRY, target_id))
        reason = _ABORT_REASONS[event]
        if reason is not None:
            self.state.emit(TakeoverAborted(target_id, reason))

    def target_alive(self, peer: Peer) -> None:
        """The target spoke (Presence): it is active again (RFC 5353 §3.5.1)."""
        peer.taken_over_by = None
        self.cancel(peer.server_id, TakeoverInput.TARGET_ALIVE)

    # ------------------------------------------------------------------ others

    def init_takeover(
        self, msg: InitTakeover, assoc_id: AssocId | None, sender: Peer | None, now: int
    ) -> None:
        state = self.state
        target_id = msg.target_id
        if target_id == state.server_id:  # we are alive: say so to everybody
            for peer in state.peers.everyone():
                state.send_to_peer(peer, state.presence(peer.server_id))
            if state.config.enrp_announce:
                state.act(Multicast(Endpoint.ENRP, state.presence(0)))
            return
        process = self.processes.get(target_id)
        if process is not None:
            if msg.sender_id > state.server_id:  # we have the lower id: we continue
                process.advance(TakeoverInput.RIVAL_HIGHER_ID)
                return  # the sender will ack
            self.cancel(target_id, TakeoverInput.RIVAL_LOWER_ID)
        target = state.peers.get(target_id)
        if target is not None:
            target.state = PEERS.next(target.state, PeerInput.TAKEOVER_ANNOUNCED)
            target.taken_over_by = msg.sender_id
            state.timers.cancel((Timer.PEER_MAX_TIME_LAST_HEARD, target_id))
            watch = state.config.takeover_expiry_interval + state.config.peer_max_time_no_response
            state.timers.set((Timer.PEER_MAX_TIME_NO_RESPONSE, target_id), now + watch)
        ack = InitTakeoverAck(
            sender_id=state.server_id, receiver_id=msg.sender_id, target_id=target_id
        )
        initiator = state.peers.get(msg.sender_id)
        if assoc_id is not None:
            state.act(Send(Endpoint.ENRP, assoc_id, ack))
        elif initiator is not None:
            state.send_to_peer(initiator, ack)

    def takeover_server(
        self, msg: TakeoverServer, assoc_id: AssocId, sender: Peer | None, now: int
    ) -> None:
        """``msg.sender_id`` took over ``msg.target_id``: it is now home of those PEs."""
        state = self.state
        target_id, new_home = msg.target_id, msg.sender_id
        self.cancel(target_id, TakeoverInput.TAKEN_OVER_ELSEWHERE)
        moved = state.handlespace.take_over(target_id, new_home)
        for pe in moved:
            state.supervise(pe, now)
            if pe.expiry is None:  # was ours: now supervised by its registration life
                state.handlespace.set_expiry(pe, now + pe.registration_life)
        if target_id in state.peers:
            self.remove_peer(target_id, PeerLossReason.TAKEN_OVER, now)
        state.emit(TakeoverCompleted(target_id, new_home, len(moved)))


def _no_remove(server_id: int, reason: PeerLossReason, now: int) -> None:
    raise RuntimeError("TakeoverManager.remove_peer was not wired")
