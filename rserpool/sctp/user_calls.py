"""The SCTP user calls (RFC 9260 §11.1): ASSOCIATE, SEND, SHUTDOWN and ABORT, and the
graceful-close progress (§9.2) that follows acknowledgements, on top of the TCB in
``rserpool.sctp.association``."""

from __future__ import annotations

from rserpool.sctp.association import AssociationBase, Timer
from rserpool.sctp.causes import ErrorCause
from rserpool.sctp.chunks import Abort, Init, Shutdown, ShutdownAck
from rserpool.sctp.errors import SctpUsageError
from rserpool.sctp.events import LostReason
from rserpool.sctp.handshake import address_parameters
from rserpool.sctp.params import CookiePreservative, IPAddress
from rserpool.sctp.state import Input, State


class UserCalls(AssociationBase):
    """What the user asks of an association, and the SHUTDOWN it leads to."""

    def associate(self, addresses: tuple[IPAddress, ...], port: int, now: int) -> None:
        """§11.1.2: send INIT to the first address, enter COOKIE-WAIT."""
        self._user(Input.ASSOCIATE)
        self.my_tag = self.rng.randint(1, 0xFFFFFFFF)
        self.local_tsn = self.rng.getrandbits(32)
        for address in addresses:
            self.add_path(address, port, confirmed=True)
        self.primary = addresses[0]
        self.enter(Input.ASSOCIATE, State.COOKIE_WAIT)
        self.send_init(now)

    def send_init(self, now: int) -> None:
        params = address_parameters(self.local_addresses)
        if self.cookie_increment:
            params += (CookiePreservative(self.cookie_increment),)
        c = self.config
        self.init_chunk = Init(
            self.my_tag, c.a_rwnd, c.outbound_streams, c.inbound_streams, self.local_tsn, params
        )
        paths = list(self.paths.values())
        path = paths[self.init_tries % len(paths)]  # retransmissions rotate addresses
        self.send_alone([self.init_chunk], path.address, path.udp_port, 0)
        self.set_timer(Timer.T1_INIT, now + path.rto.rto)

    def send(
        self,
        stream: int,
        ppid: int,
        data: bytes,
        now: int,
        unordered: bool = False,
        defer: bool = False,
    ) -> None:
        """§11.1.5: queue one user message (fragmented if it does not fit a packet) and send
        what is due; ``defer``: only queue it, to bundle it with messages that follow (the
        caller flushes later)."""
        self._user(Input.SEND)
        if len(data) == 0 or len(data) > self.config.max_message_size:
            raise SctpUsageError(
                f"message of {len(data)} bytes (1..{self.config.max_message_size})"
            )
        if not 0 <= ppid <= 0xFFFFFFFF:
            raise SctpUsageError(f"PPID {ppid} does not fit 32 bits")
        streams = self.outbound.outbound_streams if self.outbound else self.config.outbound_streams
        if not 0 <= stream < streams:
            raise SctpUsageError(f"stream {stream} not in 0..{streams - 1}")
        if self.outbound is None:
            self._early.append((stream, ppid, bytes(data), unordered))
        else:
            self.outbound.enqueue(stream, ppid, bytes(data), unordered)
        if not defer:
            self.flush(now)

    @property
    def in_flight(self) -> bool:
        """Whether DATA sent is still unacknowledged (a SACK will come and flush)."""
        return self.outbound is not None and self.outbound.flight_size > 0

    def shutdown(self, now: int) -> None:
        """§11.1.3 / §9.2: graceful close once everything sent is acknowledged."""
        self._user(Input.USER_SHUTDOWN)
        if self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            self.lose(Input.USER_SHUTDOWN, LostReason.LOCAL_ABORT)
            return
        if self.outbound is not None and self.outbound.idle:
            self.enter(Input.USER_SHUTDOWN, State.SHUTDOWN_SENT)
            self.queue(Shutdown(self.cum_tsn()))
            self.error_count = 0
            self.set_timer(Timer.T2_SHUTDOWN, now + self.data_path().rto.rto)
        else:
            self.enter(Input.USER_SHUTDOWN, State.SHUTDOWN_PENDING)
        self.flush(now)

    def abort(self, now: int, reason: bytes = b"") -> None:
        """§11.1.4 / §9.1: send ABORT (when the peer's tag is known), forget everything."""
        self._user(Input.USER_ABORT)
        if self.peer_tag and self.primary is not None:
            path = self.paths[self.primary]
            chunk = Abort((ErrorCause.user_abort(reason),))
            self.send_alone([chunk], path.address, path.udp_port, self.peer_tag)
        self.lose(Input.USER_ABORT, LostReason.LOCAL_ABORT)

    def shutdown_progress(self, event: Input, now: int) -> None:
        """§9.2: SHUTDOWN (or SHUTDOWN ACK) once all our DATA is acknowledged."""
        if self.outbound is None or not self.outbound.idle:
            return
        if self.state is State.SHUTDOWN_PENDING:
            self.enter(event, State.SHUTDOWN_SENT)
            self.queue(Shutdown(self.cum_tsn()))
        elif self.state is State.SHUTDOWN_RECEIVED:
            self.enter(event, State.SHUTDOWN_ACK_SENT)
            self.queue(ShutdownAck())
        else:
            return
        self.error_count = 0
        self.set_timer(Timer.T2_SHUTDOWN, now + self.data_path().rto.rto)

    def cum_tsn(self) -> int:
        assert self.inbound is not None
        return self.inbound.cum_tsn & 0xFFFFFFFF
