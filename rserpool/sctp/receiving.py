"""The association's chunk handlers and timer expiries (RFC 9260 §5-§9): the half of the
association that reacts, on top of ``AssociationBase`` (TCB, user calls, packet building)."""

from __future__ import annotations

import ipaddress

from rserpool.sctp.association import AssociationBase, Timer
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
from rserpool.sctp.cookie import CookieContents
from rserpool.sctp.events import (
    CommunicationError,
    DataArrive,
    LostReason,
    Restart,
)
from rserpool.sctp.events import (
    ShutdownComplete as ShutdownCompleteEvent,
)
from rserpool.sctp.handshake import (
    CookieCase,
    InitProblem,
    address_parameters,
    check_init,
    cookie_case,
    make_init_ack,
)
from rserpool.sctp.inbound import Inbound, Verdict
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


class Association(AssociationBase):
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
            self.emit(DataArrive(self.assoc_id, m.stream, m.ppid, m.data, m.unordered))

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
        path.confirmed = True  # §5.4
        if sent <= now:
            path.rto.measure(now - sent)
        self.path_ok(path)

    # ------------------------------------------------------------------ SHUTDOWN

    def _on_shutdown(self, chunk: Shutdown, now: int) -> None:
        assert self.outbound is not None
        rwnd = self.outbound.peer_rwnd + self.outbound.flight_size
        self._on_sack(Sack(chunk.cumulative_tsn_ack, rwnd), now)  # §9.2: it acks like a SACK
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

    # -------------------------------------------------------------------- setup

    def _on_init_ack(self, chunk: InitAck, source: IPAddress, port: int, now: int) -> None:
        check = check_init(chunk, source)
        if check.problem is InitProblem.DISCARD:
            return
        if check.problem is InitProblem.ABORT or check.cookie is None:
            self.send_alone([Abort(check.causes)], source, port, chunk.initiate_tag)
            self.lose(Input.INIT_ACK, LostReason.PROTOCOL_ERROR, check.causes)
            return
        self.setup(
            peer_tag=chunk.initiate_tag,
            peer_tsn=chunk.initial_tsn,
            outbound_streams=min(self.config.outbound_streams, chunk.inbound_streams),
            inbound_streams=min(self.config.inbound_streams, chunk.outbound_streams),
            peer_rwnd=chunk.a_rwnd,
            addresses=check.addresses,
            source=source,
            port=port,
        )
        self.cookie = check.cookie
        self.cancel_timer(Timer.T1_INIT)
        self.enter(Input.INIT_ACK, State.COOKIE_ECHOED)
        self.init_tries = 0
        self._send_cookie_echo(now, check.unrecognized)

    def _send_cookie_echo(self, now: int, unrecognized: tuple[bytes, ...] = ()) -> None:
        assert self.cookie is not None and self.primary is not None
        chunks: list[Chunk] = [CookieEcho(self.cookie)]  # §3.2.2: COOKIE ECHO first
        if unrecognized:
            chunks.append(Error((ErrorCause.unrecognized_parameters(b"".join(unrecognized)),)))
        path = self.paths[self.primary]
        self.send_alone(chunks, path.address, path.udp_port, self.peer_tag)
        self.set_timer(Timer.T1_COOKIE, now + path.rto.rto)

    def _on_init(self, init: Init, source: IPAddress, port: int, now: int) -> None:
        """§5.2.1 (COOKIE-WAIT, COOKIE-ECHOED), §5.2.2 (later states), §9.2."""
        if self.state is State.SHUTDOWN_ACK_SENT:
            self.queue(ShutdownAck(), source)
            return
        check = check_init(init, source)
        if check.problem is InitProblem.DISCARD:
            return
        if check.problem is InitProblem.ABORT:
            self.send_alone([Abort(check.causes)], source, port, init.initiate_tag)
            return
        new = tuple(a for a in check.addresses if a not in self.paths)
        if new and self.state is not State.COOKIE_WAIT:
            tlvs = b"".join(p.encode() for p in address_parameters(new))
            cause = ErrorCause(CauseCode.RESTART_WITH_NEW_ADDRESSES, tlvs)
            self.send_alone([Abort((cause,))], source, port, init.initiate_tag)
            return
        if self.state is State.COOKIE_WAIT:
            tag, tsn, ties = self.my_tag, self.local_tsn, (0, 0)
        else:
            if self.tie_tags == (0, 0):
                self.tie_tags = (self.rng.randint(1, 0xFFFFFFFF), self.rng.randint(1, 0xFFFFFFFF))
            ties = self.tie_tags
            if self.state is State.COOKIE_ECHOED:
                tag, tsn = self.my_tag, self.local_tsn  # our original INIT's parameters
            else:
                tag, tsn = self.rng.randint(1, 0xFFFFFFFF), self.rng.getrandbits(32)
        ack = make_init_ack(
            self.config,
            self.jar,
            now,
            init,
            check,
            local_tag=tag,
            local_tsn=tsn,
            local_port=self.local_port,
            peer_port=self.peer_port,
            local_addresses=self.local_addresses,
            tie_tags=ties,
        )
        self.send_alone([ack], source, port, init.initiate_tag)

    def on_cookie_echo(
        self, cookie: CookieContents, source: IPAddress, port: int, now: int
    ) -> None:
        """A valid COOKIE ECHO (the endpoint checked MAC, ports, tag and age)."""
        if self.state is State.CLOSED:  # §5.1.5: a new association
            self.my_tag, self.local_tsn = cookie.local_tag, cookie.local_initial_tsn
            self._setup_from(cookie, source, port)
            self.enter(Input.COOKIE_ECHO, State.ESTABLISHED)
            self.queue(CookieAck(), source)
            self.established(now)
            return
        if not self.accepts(Input.COOKIE_ECHO):
            return
        case = cookie_case(cookie, self.my_tag, self.peer_tag, self.tie_tags)
        if self.state is State.SHUTDOWN_ACK_SENT:
            if case is CookieCase.RESTART:  # §5.2.4 A, while shutting down
                cause = ErrorCause(CauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN)
                self.queue(ShutdownAck(), source)
                self.queue(Error((cause,)), source)
            return
        if case is None or case is CookieCase.LATE:
            return
        was = self.state
        up = was in _SETUP or case is CookieCase.RESTART
        if case is CookieCase.RESTART:
            self.my_tag, self.local_tsn = cookie.local_tag, cookie.local_initial_tsn
            self.paths.clear()
            self.primary = None
            self._reset_timers()
            self._setup_from(cookie, source, port)
            self.emit(Restart(self.assoc_id))
        elif case is CookieCase.COLLISION:
            if self.inbound is None:
                self._setup_from(cookie, source, port)
            self.peer_tag = cookie.peer_tag
        self.enter(Input.COOKIE_ECHO, State.ESTABLISHED if up else was)
        self.queue(CookieAck(), source)
        if up:
            self.established(now, notify=case is not CookieCase.RESTART)

    def _setup_from(self, cookie: CookieContents, source: IPAddress, port: int) -> None:
        self.setup(
            peer_tag=cookie.peer_tag,
            peer_tsn=cookie.peer_initial_tsn,
            outbound_streams=cookie.outbound_streams,
            inbound_streams=cookie.inbound_streams,
            peer_rwnd=cookie.peer_a_rwnd,
            addresses=cookie.peer_addresses or (source,),
            source=source,
            port=port,
        )

    def _reset_timers(self) -> None:
        for key in list(self._timers):
            del self._timers[key]

    def _on_stale_cookie(self, chunk: Error, now: int) -> None:
        """§5.2.6 option 3: INIT again, asking for more cookie life (measured staleness)."""
        stale = next(c for c in chunk.causes if c.code == CauseCode.STALE_COOKIE)
        self.init_tries += 1
        if self.init_tries > self.config.max_init_retransmits:
            self.lose(Input.STALE_COOKIE, LostReason.INIT_FAILED, chunk.causes)
            return
        self.cookie_increment = min(stale.staleness_us // 1000 * 2 + 1, 0xFFFFFFFF)
        self.cancel_timer(Timer.T1_COOKIE)
        self.enter(Input.STALE_COOKIE, State.COOKIE_WAIT)
        self.send_init(now)

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


_SETUP = (State.COOKIE_WAIT, State.COOKIE_ECHOED)


__all__ = ["Association", "Inbound"]
