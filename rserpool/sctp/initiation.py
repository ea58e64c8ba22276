"""Association initiation (RFC 9260 §5): the INIT, INIT ACK, COOKIE ECHO and stale-cookie
handlers, including the unexpected-INIT and COOKIE ECHO cases of §5.2 (collisions, restarts),
on top of ``UserCalls``. ``rserpool.sctp.receiving`` dispatches to them."""

from __future__ import annotations

from rserpool.sctp.association import Timer
from rserpool.sctp.causes import ErrorCause
from rserpool.sctp.chunks import (
    Abort,
    Chunk,
    CookieAck,
    CookieEcho,
    Error,
    Init,
    InitAck,
    ShutdownAck,
)
from rserpool.sctp.constants import CauseCode
from rserpool.sctp.cookie import CookieContents
from rserpool.sctp.events import LostReason, Restart
from rserpool.sctp.handshake import (
    CookieCase,
    InitProblem,
    address_parameters,
    check_init,
    cookie_case,
    make_init_ack,
)
from rserpool.sctp.params import IPAddress
from rserpool.sctp.state import Input, State
from rserpool.sctp.user_calls import UserCalls

_SETUP = (State.COOKIE_WAIT, State.COOKIE_ECHOED)


class Initiation(UserCalls):
    """The chunk handlers that set an association up (or restart it)."""

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
