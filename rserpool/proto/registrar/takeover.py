"""Taking over a failed peer (RFC 5353 §3.5, RSPLIB ``rspregistrar-takeover.c``).

The initiator sends Init Takeover to every peer (the target included) and waits for Init
Takeover Acks from the *candidates*: every verified peer (its Presence came over SCTP) that is
alive, except the target. A peer learned only from a multicast Presence or a List Response is
not a candidate (anyone can send a datagram), nor is one that has failed or is being taken over
itself. With all Acks in, it sends
Takeover Server to the peers, becomes home of the target's PEs and sends each of them an
Endpoint Keep Alive with the H flag to its ASAP transport (keep-alive timeout armed).

Decisions, where RSPLIB 3.4.4 and the RFC leave a gap:

* **Nobody to ack** (two registrars, or every other peer gone): RSPLIB never completes. We
  complete when the takeover expiry timer fires, unless the target sent Presence in the
  meantime. The target has then been silent for max-time-last-heard + max-time-no-response +
  takeover-expiry (15 s with the defaults), and it was sent Init Takeover, which a living
  target answers with Presence.
* **Dead candidates**: a candidate that fails while we wait (MAX-TIME-NO-RESPONSE), leaves
  the peer list, or is no longer ``ALIVE`` when the takeover expiry fires owes no Ack: when
  the others have acked, the takeover completes. Two registrars failing together thus leave
  the survivor home of both one's PEs.
* **Missing Acks** from live candidates at expiry (RSPLIB): the takeover is abandoned and the
  target removed from the peer list; its PEs stay until their registration life expires.
* **Conflicts**: the **lower** sender id wins, as RSPLIB does (RFC 5353 §3.5.1 reads the other
  way round; all registrars of one operational scope must agree, and RSPLIB is the deployed
  implementation). The loser acks and watches the target for max-time-no-response.
* **Takeover Server for ourselves** (a false failure detection elsewhere, or a forgery):
  unlike RSPLIB we keep our PEs (our keep-alives still reach them) and answer with Presence.
* Every message here counts only from a verified peer on its own association
  (:meth:`EnrpServer.bound_peer <rserpool.proto.registrar.enrp.EnrpServer.bound_peer>`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rserpool.proto.common import AssocId, Endpoint, Multicast, Send, TransportAddress
from rserpool.proto.registrar.events import (
    MessageIgnored,
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
    PeerState,
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
        awaiting = {p.server_id for p in state.peers if p.server_id != target_id and candidate(p)}
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
        if process.state is TakeoverState.AWAITING_ACKS:  # the silent owe nothing
            silent = {i for i in process.awaiting if not candidate(self.state.peers.get(i))}
            if silent:
                process.awaiting -= silent
                if process.acked() is TakeoverState.COMPLETED:
                    self.complete(target_id, now)
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
        self.peer_failed(server_id, now)

    def peer_failed(self, server_id: int, now: int) -> None:
        """A peer failed (or left): it owes no Ack any more; takeovers waiting for it go on."""
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
            state.keep_alive_transmission.cancel(pe)
            state.bind_pe(pe, None)
            if isinstance(pe.asap_transport, SctpTransport):
                keep_alive = EndpointKeepAlive(
                    server_id=state.server_id, pool_handle=pe.pool_handle, pe_id=pe.pe_id, home=True
                )
                to = TransportAddress.of(pe.asap_transport)
                state.act(Send(Endpoint.ASAP, None, keep_alive, to))
            state.keep_alive_timeout.set(pe, now + timeout)
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
        if target_id in (state.server_id, new_home):  # we are alive: our PEs stay ours
            reason = f"Takeover Server about {target_id:#010x} from {new_home:#010x}"
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
            if target_id == state.server_id:
                state.act(Send(Endpoint.ENRP, assoc_id, state.presence(new_home)))
            return
        self.cancel(target_id, TakeoverInput.TAKEN_OVER_ELSEWHERE)
        moved = state.handlespace.take_over(target_id, new_home)
        for pe in moved:
            state.supervise(pe, now)
            if pe.expiry is None:  # was ours: now supervised by its registration life
                state.handlespace.set_expiry(pe, now + pe.registration_life)
        if target_id in state.peers:
            self.remove_peer(target_id, PeerLossReason.TAKEN_OVER, now)
        state.emit(TakeoverCompleted(target_id, new_home, len(moved)))


def candidate(peer: Peer | None) -> bool:
    """Whether ``peer`` owes an Init Takeover Ack: verified over SCTP and alive."""
    return peer is not None and peer.verified and peer.state is PeerState.ALIVE


def _no_remove(server_id: int, reason: PeerLossReason, now: int) -> None:
    raise RuntimeError("TakeoverManager.remove_peer was not wired")
