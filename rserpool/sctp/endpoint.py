"""An SCTP endpoint over UDP (RFC 9260 + RFC 6951), sans-IO.

The driver owns one UDP socket. It feeds every datagram to :meth:`Endpoint.receive` with the
sender's IP address and UDP port and ``now`` (integer ms, any monotonic clock), calls
:meth:`Endpoint.handle_timers` once ``now >= next_deadline()``, and after every call sends
:meth:`Endpoint.datagrams` and handles :meth:`Endpoint.events`. Nothing here reads a clock,
touches a socket or imports an event loop.

The endpoint answers an INIT without keeping any state: its INIT ACK carries a signed State
Cookie, and only a valid COOKIE ECHO creates an association (§5.1.3-§5.1.5). Packets that
belong to no association are handled as "out of the blue" (§8.4).
"""

from __future__ import annotations

import heapq
import random
import struct
from collections.abc import Sequence

from rserpool.sctp.association import Datagram
from rserpool.sctp.causes import ErrorCause
from rserpool.sctp.chunks import Abort, Chunk, CookieAck, CookieEcho, Error, Init, ShutdownAck
from rserpool.sctp.chunks import ShutdownComplete as ShutdownCompleteChunk
from rserpool.sctp.config import SctpConfig
from rserpool.sctp.constants import CauseCode, ChunkType
from rserpool.sctp.cookie import CookieJar
from rserpool.sctp.errors import SctpDecodeError, SctpUsageError
from rserpool.sctp.events import LostReason, SctpEvent
from rserpool.sctp.handshake import InitProblem, check_init, make_init_ack
from rserpool.sctp.packet import Packet, assemble, decode_packet_untrusted
from rserpool.sctp.params import IPAddress
from rserpool.sctp.receiving import Association
from rserpool.sctp.state import Input, State

_HEADER = struct.Struct("!HHI")  # source port, destination port, verification tag


class Endpoint:
    """One SCTP port on a set of local addresses, with all its associations."""

    def __init__(
        self,
        port: int,
        addresses: Sequence[IPAddress],
        config: SctpConfig | None = None,
        *,
        rng: random.Random | None = None,
        secret: bytes | None = None,
    ) -> None:
        self.port = port
        self.addresses = tuple(addresses)
        self.config = config or SctpConfig()
        self.rng = rng or random.SystemRandom()
        self.jar = CookieJar(secret or self.rng.randbytes(32), self.config.cookie_key_period)
        self._assocs: dict[int, Association] = {}
        self._by_peer: dict[tuple[IPAddress, int], int] = {}
        self._keys: dict[int, tuple[tuple[IPAddress, int], ...]] = {}  # each one's _by_peer keys
        self._deadline_of: dict[int, int] = {}  # each association's next deadline
        self._deadlines: list[tuple[int, int]] = []  # heap of (deadline, id); stale ones skipped
        self._next_id = 1
        self._datagrams: list[Datagram] = []
        self._events: list[SctpEvent] = []
        self.discarded = 0  # packets dropped: malformed, bad CRC, wrong tag, stale...

    # ------------------------------------------------------------------- outputs

    def datagrams(self) -> list[Datagram]:
        out, self._datagrams = self._datagrams, []
        return out

    def events(self) -> list[SctpEvent]:
        out, self._events = self._events, []
        return out

    def next_deadline(self) -> int | None:
        """When :meth:`handle_timers` is due next (None: no timer runs)."""
        heap = self._deadlines
        while heap:  # drop entries an association has moved or cancelled since
            at, assoc_id = heap[0]
            assoc = self._assocs.get(assoc_id)
            if assoc is not None and self._deadline_of.get(assoc_id) == at:
                return at
            heapq.heappop(heap)
        return None

    def association(self, assoc_id: int) -> Association:
        try:
            return self._assocs[assoc_id]
        except KeyError:
            raise SctpUsageError(f"no association {assoc_id}") from None

    @property
    def associations(self) -> dict[int, Association]:
        return dict(self._assocs)

    # -------------------------------------------------------------------- inputs

    def handle_timers(self, now: int) -> None:
        """Run the timers due by ``now``: only the associations whose deadline has come."""
        due: list[int] = []
        while (at := self.next_deadline()) is not None and at <= now:
            _, assoc_id = heapq.heappop(self._deadlines)
            del self._deadline_of[assoc_id]
            due.append(assoc_id)
        for assoc_id in due:
            assoc = self._assocs.get(assoc_id)
            if assoc is not None:
                assoc.handle_timers(now)
                self._sync(assoc)

    def connect(
        self, addresses: Sequence[IPAddress], peer_port: int, udp_port: int, now: int
    ) -> int:
        """Start an association (§11.1.2) to the peer's addresses and SCTP port, reached
        through UDP port ``udp_port``; returns its id. COMMUNICATION UP tells when it is up."""
        if not addresses:
            raise SctpUsageError("no address to connect to")
        if any((a, peer_port) in self._by_peer for a in addresses):
            raise SctpUsageError("an association with that peer exists")
        assoc = self._new(peer_port)
        assoc.associate(tuple(addresses), udp_port, now)
        self._sync(assoc)
        return assoc.assoc_id

    def send(
        self,
        assoc_id: int,
        stream: int,
        ppid: int,
        data: bytes,
        now: int,
        unordered: bool = False,
        defer: bool = False,
    ) -> None:
        """Queue a user message; ``defer``: without sending yet, so that messages sent in a
        burst share packets; :meth:`transmit` sends them."""
        assoc = self.association(assoc_id)
        assoc.send(stream, ppid, data, now, unordered, defer)
        if not defer:
            self._sync(assoc)

    def transmit(self, assoc_id: int, now: int) -> None:
        """Send what :meth:`send` deferred (as far as the windows allow)."""
        assoc = self._assocs.get(assoc_id)
        if assoc is not None:
            assoc.flush(now)
            self._sync(assoc)

    def shutdown(self, assoc_id: int, now: int) -> None:
        assoc = self.association(assoc_id)
        assoc.shutdown(now)
        self._sync(assoc)

    def abort(self, assoc_id: int, now: int, reason: bytes = b"") -> None:
        assoc = self.association(assoc_id)
        assoc.abort(now, reason)
        self._sync(assoc)

    def buffered(self, assoc_id: int) -> int:
        """Bytes of user data the association holds, queued or unacknowledged."""
        outbound = self.association(assoc_id).outbound
        return outbound.buffered if outbound is not None else 0

    def reconfigure(self, assoc_id: int, config: SctpConfig) -> None:
        """Protocol parameters for one association; ``assoc_id`` 0: for later ones."""
        if assoc_id == 0:
            self.config = config
        else:
            self.association(assoc_id).reconfigure(config)

    def protocol_unreachable(self, sent: bytes, peer: IPAddress, now: int) -> None:
        """An ICMP error came back for ``sent``, a packet we sent to ``peer``: protocol
        unreachable, or a UDP port unreachable, which RFC 6951 §5.5 maps to it (nobody takes
        SCTP over UDP there: the peer's process is gone). §10 ICMP5/ICMP6: only for a packet of
        an association of ours, with the peer's tag (or our INIT, with our Initiate Tag);
        ICMP8: then it counts as an ABORT (an INIT's only in COOKIE-WAIT)."""
        if len(sent) < 12:
            return
        source_port, peer_port, tag = _HEADER.unpack_from(sent)
        assoc_id = self._by_peer.get((peer, peer_port))
        assoc = self._assocs.get(assoc_id) if assoc_id is not None else None
        if source_port != self.port or assoc is None:
            return
        if tag == 0:
            if len(sent) < 20 or sent[12] != ChunkType.INIT:
                return
            if int.from_bytes(sent[16:20], "big") != assoc.my_tag:
                return
            if assoc.state is not State.COOKIE_WAIT:
                return
        elif tag != assoc.peer_tag:
            return
        assoc.lose(Input.ABORT, LostReason.UNREACHABLE)
        self._sync(assoc)

    def receive(self, data: bytes, source: IPAddress, udp_port: int, now: int) -> None:
        """One UDP datagram's payload from ``source``:``udp_port``."""
        try:
            packet = decode_packet_untrusted(data)
        except SctpDecodeError:
            self.discarded += 1
            return
        if packet.destination_port != self.port or not packet.chunks:
            self.discarded += 1
            return
        assoc_id = self._by_peer.get((source, packet.source_port))
        assoc = self._assocs.get(assoc_id) if assoc_id is not None else None
        first = packet.chunks[0]
        if type(first) is CookieEcho:
            assoc = self._cookie_echo(packet, first, assoc, source, udp_port, now)
            if assoc is None:
                return
        elif assoc is None:
            self._out_of_the_blue(packet, source, udp_port, now)
            return
        assoc.receive(packet, source, udp_port, now)
        self._sync(assoc)

    # ----------------------------------------------------------------- internals

    def _new(self, peer_port: int) -> Association:
        assoc = Association(
            self._next_id,
            self.config,
            self.rng,
            self.jar,
            self.port,
            peer_port,
            self.addresses,
        )
        self._assocs[assoc.assoc_id] = assoc
        self._next_id += 1
        return assoc

    def _sync(self, assoc: Association) -> None:
        """Collect the association's output, index its peer addresses, forget it if CLOSED."""
        self._datagrams.extend(assoc.datagrams())
        self._events.extend(assoc.events())
        closed = assoc.state is State.CLOSED
        keys = () if closed else tuple((a, assoc.peer_port) for a in assoc.paths)
        old = self._keys.get(assoc.assoc_id, ())
        if keys != old:  # paths came or went: index them again (only this association's)
            for key in old:
                if self._by_peer.get(key) == assoc.assoc_id:
                    del self._by_peer[key]
            for key in keys:
                self._by_peer[key] = assoc.assoc_id
            self._keys[assoc.assoc_id] = keys
        if closed:
            self._assocs.pop(assoc.assoc_id, None)
            self._keys.pop(assoc.assoc_id, None)
            self._deadline_of.pop(assoc.assoc_id, None)
            return
        deadline = assoc.next_deadline()
        if deadline != self._deadline_of.get(assoc.assoc_id):  # a heap entry per change only
            if deadline is None:
                del self._deadline_of[assoc.assoc_id]
            else:
                self._deadline_of[assoc.assoc_id] = deadline
                heapq.heappush(self._deadlines, (deadline, assoc.assoc_id))

    def _reply(self, packet: Packet, to: IPAddress, port: int, tag: int, chunk: Chunk) -> None:
        data = assemble(self.port, packet.source_port, tag, [chunk.encode()])
        self._datagrams.append(Datagram(to, port, data))

    def _cookie_echo(
        self,
        packet: Packet,
        echo: CookieEcho,
        assoc: Association | None,
        source: IPAddress,
        udp_port: int,
        now: int,
    ) -> Association | None:
        """§5.1.5 steps 1-4 (and §5.2.4 steps 1-3); the association it belongs to."""
        cookie = self.jar.open(echo.cookie, now)
        if (
            cookie is None
            or cookie.local_port != packet.destination_port
            or cookie.peer_port != packet.source_port
            or cookie.local_tag != packet.verification_tag
        ):
            self.discarded += 1
            return None
        if now > cookie.expires():
            same = assoc is not None and (assoc.my_tag, assoc.peer_tag) == (
                cookie.local_tag,
                cookie.peer_tag,
            )
            if not same:  # §5.1.5 step 4: report how stale, in microseconds
                cause = ErrorCause.stale_cookie((now - cookie.expires()) * 1000)
                self._reply(packet, source, udp_port, cookie.peer_tag, Error((cause,)))
                return None
        if assoc is None:
            assoc = self._new(packet.source_port)
        assoc.on_cookie_echo(cookie, source, udp_port, now)
        return assoc

    def _out_of_the_blue(self, packet: Packet, source: IPAddress, port: int, now: int) -> None:
        """§8.4, rules 2-8 (rule 1, non-unicast addresses, is the driver's)."""
        first = packet.chunks[0]
        if type(first) is Init and packet.verification_tag == 0:  # §8.5.1 A
            if not any(isinstance(c, Abort) for c in packet.chunks):
                self._answer_init(packet, first, source, port, now)
            return
        reply = out_of_the_blue_reply(packet)
        if reply is not None:
            self._datagrams.append(Datagram(source, port, reply))

    def _answer_init(
        self, packet: Packet, init: Init, source: IPAddress, port: int, now: int
    ) -> None:
        """§5.1: INIT ACK with a fresh tag, TSN and State Cookie; no state kept."""
        check = check_init(init, source)
        if check.problem is InitProblem.DISCARD:
            return
        if check.problem is InitProblem.ABORT:  # §8.4 rule 3: the INIT's tag, T bit clear
            self._reply(packet, source, port, init.initiate_tag, Abort(check.causes))
            return
        ack = make_init_ack(
            self.config,
            self.jar,
            now,
            init,
            check,
            local_tag=self.rng.randint(1, 0xFFFFFFFF),
            local_tsn=self.rng.getrandbits(32),
            local_port=self.port,
            peer_port=packet.source_port,
            local_addresses=self.addresses,
        )
        self._reply(packet, source, port, init.initiate_tag, ack)


def out_of_the_blue_reply(packet: Packet) -> bytes | None:
    """§8.4 rules 2-8: the packet to send back for ``packet`` when no association takes it
    (None: discard it silently). An INIT gets an ABORT here, as at a port nobody listens
    on (rule 3); the endpoint itself answers an INIT with an INIT ACK instead."""
    chunks = packet.chunks
    tag = packet.verification_tag
    if not chunks or any(isinstance(c, Abort) for c in chunks):  # rule 2
        return None
    first = chunks[0]
    reply: Chunk
    if type(first) is Init:  # rule 3: the INIT's own tag, T bit clear
        if tag != 0:
            return None
        tag, reply = first.initiate_tag, Abort()
    elif any(isinstance(c, ShutdownAck) for c in chunks):  # rule 5
        reply = ShutdownCompleteChunk(reflected=True)
    elif any(isinstance(c, ShutdownCompleteChunk | CookieAck) or _stale(c) for c in chunks):
        return None  # rules 6 and 7
    else:  # rule 8
        reply = Abort(reflected=True)
    return assemble(packet.destination_port, packet.source_port, tag, [reply.encode()])


def answer_closed_port(data: bytes) -> bytes | None:
    """The reply to a datagram for an SCTP port with no endpoint (like TCP's RST): ABORT, or
    SHUTDOWN COMPLETE for a SHUTDOWN ACK, or nothing; malformed datagrams get nothing."""
    try:
        packet = decode_packet_untrusted(data)
    except SctpDecodeError:
        return None
    return out_of_the_blue_reply(packet)


def _stale(chunk: Chunk) -> bool:
    return isinstance(chunk, Error) and any(c.code == CauseCode.STALE_COOKIE for c in chunk.causes)
