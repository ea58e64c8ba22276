"""The association's chunk dispatch, the DATA, SACK, HEARTBEAT and SHUTDOWN handlers and the
timer expiries (RFC 9260 §6-§9): the half of the association that reacts. The class stack is
``AssociationBase`` (TCB, timers, packet building) < ``UserCalls`` (§11.1) < ``Initiation``
(§5 handlers) < ``Association``."""

from __future__ import annotations

import ipaddress

from rserpool.sctp.association import Timer
from rserpool.sctp.causes import ErrorCause
from rserpool.sctp.chunks import (
    Abort,
    Chunk,
    CookieAck,
    CookieEcho,
    Data,
    Error,
    Heartbeat,
    HeartbeatAck,
    Init,
    InitAck,
    Sack,
    Shutdown,
    ShutdownAck,
    ShutdownComplete,
    UnknownChunk,
)
from rserpool.sctp.constants import CauseCode
from rserpool.sctp.events import (
    CommunicationError,
    DataArrive,
    LostReason,
    PeerShutdown,
)
from rserpool.sctp.events import (
    ShutdownComplete as ShutdownCompleteEvent,
)
from rserpool.sctp.inbound import Inbound, Verdict
from rserpool.sctp.initiation import Initiation
from rserpool.sctp.packet import Packet
from rserpool.sctp.params import IPAddress
from rserpool.sctp.path import Path
from rserpool.sctp.state import Input, State

_INPUT: dict[type, Input] = {
    Data: Input.DATA,
    Sack: Input.SACK,
    Heartbeat: Input.HEARTBEAT,
    HeartbeatAck: Input.HEARTBEAT_ACK,
    Abort: Input.ABORT,
    Shutdown: Input.SHUTDOWN,
    ShutdownAck: Input.SHUTDOWN_ACK,
    ShutdownComplete: Input.SHUTDOWN_COMPLETE,
    CookieAck: Input.COOKIE_ACK,
    InitAck: Input.INIT_ACK,
    Error: Input.ERROR,
}


class Association(Initiation):
    # ----------------------------------------------------------------- packets in

    def receive(self, packet: Packet, source: IPAddress, port: int, now: int) -> None:
        """One packet the endpoint found to be this association's (§8.5 tag rules here)."""
        if self.state is State.CLOSED or not packet.chunks:
            return
        tag = packet.verification_tag
        first = packet.chunks[0]
        if type(first) is Init:
            if tag == 0 and self.accepts(Input.INIT):
                self._on_init(first, source, port, now)
            self.flush(now)
            return
        if type(first) is ShutdownAck and self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            self.send_alone([ShutdownComplete(reflected=True)], source, port, tag)  # §8.5.1 E
            return
        own = tag == self.my_tag
        path = self.paths.get(source)
        if own and path is not None:
            path.udp_port = port  # RFC 6951 §5.4: the encapsulation port follows the peer
        data_seen = False
        for chunk in packet.chunks:
            kind = type(chunk)
            if kind in (Abort, ShutdownComplete):
                assert isinstance(chunk, Abort | ShutdownComplete)
                if not (
                    (own and not chunk.reflected)
                    or (chunk.reflected and self.peer_tag != 0 and tag == self.peer_tag)
                ):
                    break  # §8.5.1 B, C
            elif not own:
                break  # §8.5: discard
            if kind is CookieEcho:
                continue  # the endpoint has handled it (§5.1.5)
            if isinstance(chunk, UnknownChunk):
                if chunk.action.reports:
                    self.queue(Error((ErrorCause.unrecognized_chunk(chunk.unpadded()),)), source)
                if chunk.action.stops:
                    break
                continue
            event = _INPUT.get(kind)
            if kind is Error and self._stale(chunk):
                event = Input.STALE_COOKIE
            if event is None or not self.accepts(event):
                continue  # §5.2.3, §5.2.5 and the rest: discard the chunk
            if kind is Data:
                data_seen = True
            self._dispatch(event, chunk, source, port, now)
            if self.is_closed():
                return
        if data_seen:
            self._after_data(source, now)
        self.flush(now)

    @staticmethod
    def _stale(chunk: Chunk) -> bool:
        return isinstance(chunk, Error) and any(
            c.code == CauseCode.STALE_COOKIE for c in chunk.causes
        )

    def _dispatch(self, event: Input, chunk: Chunk, source: IPAddress, port: int, now: int) -> None:
        if isinstance(chunk, Data):
            self._on_data(chunk, source, now)
        elif isinstance(chunk, Sack):
            self._on_sack(chunk, now)
        elif isinstance(chunk, HeartbeatAck):
            self._on_heartbeat_ack(chunk, now)
        elif isinstance(chunk, Heartbeat):
            self.queue(HeartbeatAck(chunk.info), source)
        elif isinstance(chunk, Abort):
            self.lose(event, LostReason.ABORTED, chunk.causes)
        elif isinstance(chunk, Shutdown):
            self._on_shutdown(chunk, now)
        elif isinstance(chunk, ShutdownAck):
            self.send_alone([ShutdownComplete()], source, port, self.peer_tag)
            self.closed(event)
            self.emit(ShutdownCompleteEvent(self.assoc_id))
        elif isinstance(chunk, ShutdownComplete):
            self.closed(event)
            self.emit(ShutdownCompleteEvent(self.assoc_id))
        elif isinstance(chunk, CookieAck):
            self.enter(event, State.ESTABLISHED)
            self.established(now)
        elif isinstance(chunk, InitAck):
            self._on_init_ack(chunk, source, port, now)
        elif isinstance(chunk, Error) and event is Input.STALE_COOKIE:
            self._on_stale_cookie(chunk, now)
        elif isinstance(chunk, Error):
            self.emit(CommunicationError(self.assoc_id, chunk.causes))

    # --------------------------------------------------------------------- DATA

    def _on_data(self, chunk: Data, source: IPAddress, now: int) -> None:
        assert self.inbound is not None
        if not chunk.data:  # §6.2: a DATA chunk without user data
            self._abort_now((ErrorCause.no_user_data(chunk.tsn),))
            return
        verdict, messages = self.inbound.receive(chunk)
        if verdict is Verdict.INVALID_STREAM:  # §6.5
            self.queue(Error((ErrorCause.invalid_stream(chunk.stream),)), source)
            self.inbound.sack_now = True
        if chunk.immediate:
            self.inbound.sack_now = True
        for m in messages:
            self.emit(DataArrive(self.assoc_id, m.stream, m.ppid, m.data, m.unordered, source))

    def _after_data(self, source: IPAddress, now: int) -> None:
        """§6.2: SACK every second packet, at once on gaps and duplicates, else in 200 ms."""
        assert self.inbound is not None
        self.inbound.packets_unacked += 1
        self.sack_to = source
        if self.state is State.SHUTDOWN_SENT:  # §9.2: answer DATA with SHUTDOWN at once
            self.sack_due = True
            self.queue(Shutdown(self.cum_tsn()))
            self.set_timer(Timer.T2_SHUTDOWN, now + self.data_path().rto.rto)
        elif self.inbound.sack_now or self.inbound.packets_unacked >= self.config.sack_every:
            self.sack_due = True
        elif not self.timer_running(Timer.DELAYED_SACK):
            self.set_timer(Timer.DELAYED_SACK, now + self.config.sack_delay)

    def _on_sack(self, sack: Sack, now: int) -> None:
        assert self.outbound is not None
        samples: list[tuple[Path, int]] = []
        outcome = self.outbound.on_sack(sack, now, samples)
        if not outcome.valid:
            return
        for path, rtt in samples:
            path.rto.measure(rtt)
        for path in outcome.acked_paths:
            self.path_ok(path)
        for path in self.paths.values():
            if self.outbound.earliest_in_flight(path) is None:
                self.cancel_timer(Timer.T3_RTX, path.address)  # §6.3.2 R2
            elif path in outcome.acked_paths and outcome.cum_advanced:
                self.set_timer(Timer.T3_RTX, now + path.rto.rto, path.address)  # R3
        self._fast_rtx |= outcome.fast_retransmit
        self.shutdown_progress(Input.SACK, now)

    # ----------------------------------------------------------------- HEARTBEAT

    def _on_heartbeat_ack(self, chunk: HeartbeatAck, now: int) -> None:
        info = chunk.info
        if len(info) != 33 or info[0] not in (4, 6):
            return
        raw = info[1:17] if info[0] == 6 else info[13:17]
        path = self.paths.get(ipaddress.ip_address(raw))
        sent = int.from_bytes(info[17:25], "big")
        nonce = int.from_bytes(info[25:33], "big")
        if path is None or nonce != path.heartbeat_nonce or not path.heartbeat_outstanding:
            return
        path.heartbeat_outstanding = False
        if not path.confirmed:  # §5.4; from now on probed every HB.interval + RTO (§8.3)
            path.confirmed = True
            self.schedule_heartbeat(path, now)
        if sent <= now:
            path.rto.measure(now - sent)
        self.path_ok(path)

    # ------------------------------------------------------------------ SHUTDOWN

    def _on_shutdown(self, chunk: Shutdown, now: int) -> None:
        assert self.outbound is not None
        rwnd = self.outbound.peer_rwnd + self.outbound.flight_size
        self._on_sack(Sack(chunk.cumulative_tsn_ack, rwnd), now)  # §9.2: it acks like a SACK
        if self.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_SENT):
            self.emit(PeerShutdown(self.assoc_id))  # the first SHUTDOWN, not a retransmission
        if self.state is State.SHUTDOWN_SENT:
            self.enter(Input.SHUTDOWN, State.SHUTDOWN_ACK_SENT)
            self.queue(ShutdownAck())
            self.set_timer(Timer.T2_SHUTDOWN, now + self.data_path().rto.rto)
            return
        if self.state is State.SHUTDOWN_ACK_SENT:
            self.queue(ShutdownAck())
            return
        if self.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING):
            self.enter(Input.SHUTDOWN, State.SHUTDOWN_RECEIVED)
        self.shutdown_progress(Input.SHUTDOWN, now)

    def _abort_now(self, causes: tuple[ErrorCause, ...]) -> None:
        assert self.primary is not None
        path = self.paths[self.primary]
        self.send_alone([Abort(causes)], path.address, path.udp_port, self.peer_tag)
        self.lose(Input.USER_ABORT, LostReason.PROTOCOL_ERROR, causes)

    # --------------------------------------------------------------------- timers

    def on_timer(self, timer: Timer, address: IPAddress | None, now: int) -> None:
        event = timer.value
        if timer in (Timer.T1_INIT, Timer.T1_COOKIE):
            self.init_tries += 1
            if self.init_tries > self.config.max_init_retransmits:
                self.lose(event, LostReason.INIT_FAILED)
                return
            assert self.primary is not None
            self.paths[self.primary].rto.back_off()
            if timer is Timer.T1_INIT:
                self.send_init(now)
            else:
                self._send_cookie_echo(now)
        elif timer is Timer.T2_SHUTDOWN:
            path = self.data_path()
            if not self.path_error(path, now, event):
                return
            path.rto.back_off()
            if self.state is State.SHUTDOWN_SENT:
                self.queue(Shutdown(self.cum_tsn()))
            else:
                self.queue(ShutdownAck())
            self.set_timer(Timer.T2_SHUTDOWN, now + self.data_path().rto.rto)
        elif timer is Timer.T3_RTX and address in self.paths:
            assert self.outbound is not None
            path = self.paths[address]
            self.outbound.on_t3_expired(path)  # E1, E2, E3
            if not self.path_error(path, now, event):
                return
            target = self.alternate(path) if self.primary != address or not path.active else path
            room = self.config.mtu - 12
            data = self.outbound.fill(target, room, now, ignore_cwnd=True)
            if data:
                self.queue_data_packet(target, data)
                self.set_timer(Timer.T3_RTX, now + target.rto.rto, target.address)
        elif timer is Timer.HEARTBEAT and address in self.paths:
            path = self.paths[address]
            if path.heartbeat_outstanding:
                path.rto.back_off()
                if not self.path_error(path, now, event):
                    return
            self.send_heartbeat(path, now)
        elif timer is Timer.DELAYED_SACK:
            self.sack_due = True

    def queue_data_packet(self, path: Path, data: list[Data]) -> None:
        self._emit(path, [d.encode() for d in data])


__all__ = ["Association", "Inbound"]
