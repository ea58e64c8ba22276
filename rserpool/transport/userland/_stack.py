"""The engine under the userland SCTP sockets: UDP sockets, the sans-IO endpoints, timers.

One :class:`UdpStack` per host. It binds one UDP socket per local address, all on the same
port (RFC 6951 §5.1: one encapsulation port for every SCTP port of the host), and runs, as a
Trio system task started on first use, one reader per socket and one timer loop. A datagram
goes to the :class:`rserpool.sctp.Endpoint` of its SCTP destination port, or is answered as
a packet for a closed port. After every input the stack *flushes* that endpoint: it sends the
datagrams the endpoint produced, hands its events to the socket object that owns the port and
lowers the timer loop's deadline if the endpoint needs to wake up sooner.

The socket a datagram leaves from is the local address that shares the longest prefix with the
destination (the same family at least): on two links with one address each, each path keeps to
its link, as the kernel's routing would do.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import random
import socket
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import trio

from rserpool.sctp import Endpoint, SctpConfig, SctpEvent, answer_closed_port
from rserpool.sctp.params import IPAddress
from rserpool.transport.abc import TransportError

log = logging.getLogger(__name__)
Enter = Callable[[], AbstractContextManager[object]]
MAX_DATAGRAM = 65535
READ_BATCH = 64  # datagrams read per wake-up before other tasks get a turn
EPHEMERAL = range(49152, 65536)
IP_RECVERR, IPV6_RECVERR = 11, 25  # Linux: ICMP errors into the socket's error queue
SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6 = 2, 3


class Owner(Protocol):
    """The socket object that receives an SCTP port's events."""

    def handle(self, event: SctpEvent) -> None: ...


class Binding:
    """One SCTP port of the host: its sans-IO endpoint, owner and waiting senders."""

    def __init__(self, stack: UdpStack, endpoint: Endpoint, owner: Owner) -> None:
        self.stack = stack
        self.endpoint = endpoint
        self.owner = owner
        self.room = trio.lowlevel.ParkingLot()  # senders waiting for the send buffer to drain
        self.deferred: set[int] = set()  # associations with messages queued by send(defer)
        self.burst = 0  # sends deferred in a row

    def flush(self) -> None:
        self.stack.flush(self)


class UdpStack:
    def __init__(self, addresses: Sequence[str], udp_port: int, enter: Enter | None = None) -> None:
        if not addresses:
            raise TransportError("the userland SCTP host needs at least one local address")
        self.addresses = [ipaddress.ip_address(a) for a in addresses]
        self.ports: dict[int, Binding] = {}
        self.blocked: set[tuple[IPAddress, IPAddress]] = set()  # (local, peer) cut off
        self.dropped = 0  # datagrams the socket refused (full buffer, no route...)
        self._sockets: dict[IPAddress, socket.socket] = {}
        self._route: dict[IPAddress, socket.socket | None] = {}
        self._local_of: dict[socket.socket, IPAddress] = {}
        self._parsed: dict[str, IPAddress] = {}  # source addresses as recvfrom spells them
        self._pending: set[Binding] = set()  # ports with messages queued, not yet sent
        self._wake_flusher = trio.lowlevel.ParkingLot()
        self._timer: trio.CancelScope | None = None
        self._running = False
        self._closed = False
        with (enter or nullcontext)():
            self._bind(udp_port)

    # -------------------------------------------------------------- sockets

    def _bind(self, udp_port: int) -> None:
        try:
            for address in self.addresses:
                family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_DGRAM)
                self._sockets[address] = sock
                self._local_of[sock] = address
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
                else:
                    sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
                sock.setblocking(False)
                sock.bind((str(address), udp_port))
                udp_port = sock.getsockname()[1]  # the first one picks the port for all
        except OSError as e:
            self.close()
            where = ", ".join(map(str, self.addresses))
            raise TransportError(f"cannot bind UDP port {udp_port} on {where}: {e}") from e
        self.udp_port = udp_port

    def close(self) -> None:
        """Close the sockets at once (a crash, as far as peers can tell: nothing is sent)."""
        if self._closed:
            return
        self._closed = True
        for sock in self._sockets.values():
            with contextlib.suppress(RuntimeError):  # outside Trio: no reader to wake
                trio.lowlevel.notify_closing(sock.fileno())  # wakes the reader waiting on it
            sock.close()
        if self._timer is not None:
            self._timer.cancel()
        with contextlib.suppress(RuntimeError):
            self._wake_flusher.unpark_all()  # it sees the stack closed and returns

    def _stopped(self) -> bool:
        return self._closed

    def now(self) -> int:
        """Milliseconds on Trio's clock: the ``now`` the sans-IO core runs on."""
        return int(trio.current_time() * 1000)

    def _socket_for(self, peer: IPAddress) -> socket.socket | None:
        """The socket of the local address closest to ``peer`` (None: none can reach it). A
        loopback address only reaches loopback peers and no other address reaches those
        (RFC 1122: 127/8 and ::1 never leave the host)."""
        if peer not in self._route:
            candidates = [
                a
                for a in self.addresses
                if a.version == peer.version and a.is_loopback == peer.is_loopback
            ]
            best = max(candidates, key=lambda a: _common_prefix(a, peer), default=None)
            self._route[peer] = self._sockets[best] if best is not None else None
        return self._route[peer]

    def send(self, peer: IPAddress, udp_port: int, data: bytes) -> None:
        sock = self._socket_for(peer)
        if sock is None or self._closed:
            self.dropped += 1
            return
        if self.blocked and (self._local_of[sock], peer) in self.blocked:
            return
        try:
            sock.sendto(data, (str(peer), udp_port))
        except OSError:  # a full socket buffer or no route: SCTP retransmits
            self.dropped += 1

    # -------------------------------------------------------------- ports

    def open(self, port: int, endpoint_of: Callable[[int], Endpoint], owner: Owner) -> Binding:
        if self._closed:
            raise trio.ClosedResourceError("the userland SCTP host was closed")
        if port == 0:
            free = [p for p in random.sample(EPHEMERAL, 64) if p not in self.ports]
            if not free:
                raise TransportError("no free ephemeral SCTP port")
            port = free[0]
        elif port in self.ports:
            raise TransportError(f"SCTP port {port} is in use on this host")
        binding = Binding(self, endpoint_of(port), owner)
        self.ports[port] = binding
        self._start()
        return binding

    def release(self, binding: Binding) -> None:
        if self.ports.get(binding.endpoint.port) is binding:
            del self.ports[binding.endpoint.port]

    def defer(self, binding: Binding, assoc_id: int) -> None:
        """Send ``assoc_id``'s queued messages once the sending task lets others run: the
        messages a task sends in a row share packets."""
        binding.deferred.add(assoc_id)
        if not self._pending:
            self._wake_flusher.unpark_all()
        self._pending.add(binding)

    async def _flusher(self) -> None:
        while True:
            await self._wake_flusher.park()
            if self._stopped():
                return
            pending, self._pending = self._pending, set()
            now = self.now()
            for binding in pending:
                for assoc_id in binding.deferred:
                    binding.endpoint.transmit(assoc_id, now)
                binding.deferred.clear()
                self.flush(binding)

    def flush(self, binding: Binding) -> None:
        endpoint = binding.endpoint
        for datagram in endpoint.datagrams():
            self.send(datagram.address, datagram.port, datagram.data)
        for event in endpoint.events():
            binding.owner.handle(event)
        deadline = endpoint.next_deadline()
        if deadline is not None and self._timer is not None:
            self._timer.deadline = min(self._timer.deadline, (deadline + 0.5) / 1000)
        binding.room.unpark_all()

    # -------------------------------------------------------------- the tasks

    def _start(self) -> None:
        if not self._running:
            self._running = True
            trio.lowlevel.spawn_system_task(self._run, name=f"userland SCTP {self.udp_port}")

    async def _run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                for local, sock in self._sockets.items():
                    nursery.start_soon(self._read, local, sock)
                nursery.start_soon(self._flusher)
                await self._timers()
        except trio.Cancelled:
            raise
        except Exception:  # never let the stack take the program down
            log.exception("the userland SCTP stack stopped")
        finally:
            self.close()

    async def _timers(self) -> None:
        while True:
            with trio.CancelScope() as scope:
                self._timer = scope
                scope.deadline = self._next_deadline()
                await trio.sleep(math.inf)  # until the deadline, which flush() may lower
            if self._stopped():
                return
            now = self.now()
            for binding in list(self.ports.values()):
                deadline = binding.endpoint.next_deadline()
                if deadline is not None and deadline <= now:
                    binding.endpoint.handle_timers(now)
                    self.flush(binding)

    def _next_deadline(self) -> float:
        deadlines = [
            d for b in self.ports.values() if (d := b.endpoint.next_deadline()) is not None
        ]
        return (min(deadlines) + 0.5) / 1000 if deadlines else math.inf

    async def _read(self, local: IPAddress, sock: socket.socket) -> None:
        while not self._closed:
            try:
                await trio.lowlevel.wait_readable(sock.fileno())
            except (trio.ClosedResourceError, OSError):
                return  # closed under us
            for _ in range(READ_BATCH):
                try:
                    data, source = sock.recvfrom(MAX_DATAGRAM)
                except BlockingIOError:
                    break
                except OSError:  # an ICMP error came back: it waits in the error queue
                    self._icmp_errors(sock)
                    continue
                self.received(local, data, source[0], source[1])

    def _icmp_errors(self, sock: socket.socket) -> None:
        """Read the socket's error queue (IP_RECVERR): a port or protocol unreachable for a
        datagram we sent goes to the endpoint that sent it (RFC 6951 §5.5, RFC 9260 §10)."""
        while True:
            try:
                sent, ancillary, _flags, destination = sock.recvmsg(
                    MAX_DATAGRAM, 512, socket.MSG_ERRQUEUE
                )
            except OSError:  # empty (BlockingIOError) or gone
                return
            if len(sent) < 12 or not any(_unreachable(data) for _, _, data in ancillary):
                continue
            binding = self.ports.get(int.from_bytes(sent[0:2], "big"))
            if binding is not None:
                peer = ipaddress.ip_address(destination[0].partition("%")[0])
                binding.endpoint.protocol_unreachable(sent, peer, self.now())
                self.flush(binding)

    def received(self, local: IPAddress, data: bytes, ip: str, udp_port: int) -> None:
        peer = self._parsed.get(ip)
        if peer is None:  # parsing an address costs more than the rest of this method
            if len(self._parsed) > 4096:
                self._parsed.clear()
            peer = self._parsed[ip] = ipaddress.ip_address(ip.partition("%")[0])
        if len(data) < 12 or (self.blocked and (local, peer) in self.blocked):
            return
        if peer.is_multicast or peer.is_unspecified:  # RFC 9260 §8.4 rule 1
            return
        binding = self.ports.get(int.from_bytes(data[2:4], "big"))
        if binding is None:
            reply = answer_closed_port(data)
            if reply is not None:
                self.send(peer, udp_port, reply)
            return
        binding.endpoint.receive(data, peer, udp_port, self.now())
        self.flush(binding)


def _unreachable(extended_error: bytes) -> bool:
    """Whether a ``struct sock_extended_err`` says port or protocol unreachable."""
    if len(extended_error) < 8:
        return False
    origin, kind, code = extended_error[4], extended_error[5], extended_error[6]
    if origin == SO_EE_ORIGIN_ICMP:
        return kind == 3 and code in (2, 3)  # destination unreachable: protocol, port
    if origin == SO_EE_ORIGIN_ICMP6:
        return kind == 1 and code == 4  # destination unreachable: port
    return False


def _common_prefix(a: IPAddress, b: IPAddress) -> int:
    bits = a.max_prefixlen
    return bits - (int(a) ^ int(b)).bit_length()


def make_endpoint(addresses: Sequence[IPAddress], config: SctpConfig) -> Callable[[int], Endpoint]:
    return lambda port: Endpoint(port, addresses, config)
