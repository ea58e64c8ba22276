"""Our SCTP over UDP against Linux kernel SCTP over UDP (RFC 6951), in the test guest.

Two network namespaces, joined by two veth links (path 1 = 198.51.100.x, path 2 = 203.0.113.x):

* K runs the kernel's SCTP (:class:`~rserpool.transport.kernel.KernelHost`) with
  ``net.sctp.udp_port = net.sctp.encap_port = 9899``
  (:meth:`interop.topology.Host.set_sctp_udp_encapsulation` explains when Linux encapsulates:
  only when both are set, which a kernel that connects needs, and with the remote port learnt
  from every packet it accepts);
* U runs rserpool's own SCTP stack (:mod:`rserpool.sctp`) through its Trio driver
  (:class:`~rserpool.transport.userland.UserlandHost`) on one UDP socket per address, port 9899.
  U's kernel SCTP is not involved: its ``udp_port`` stays 0, so nothing of the kernel's listens
  there.

One Trio run holds the sockets of both sides (each host enters its namespace only while it
creates a socket), so a test reads like a conversation. ``dumpcap`` (tshark's capture engine,
which starts in a second where tshark needs 7-20 s under TCG) records every UDP and SCTP packet
in U; afterwards tshark decodes the file with CRC32c checking on, and every frame must be UDP
9899 -> 9899 carrying an SCTP packet with a good checksum, none malformed. A packet of plain
SCTP (IP protocol 132), which Linux sends on a path whose encapsulation port is 0, fails it.

The tests: a control with the kernel on both sides (the set-up, proven without our stack); our
endpoint connecting to kernel sockets (echo, discard, streams, 64 KiB messages, our shutdown and
abort); kernel sockets connecting to ours (the same the other way); a path failure with two
addresses per side; the kernel side restarting (its socket vanishes without a word and a new one
connects from the same port: RFC 9260 §5.2.4, case A).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
import trio

from interop.processes import Process
from interop.topology import SCTP_UDP_PORT, Host, Link, Topology, ip
from rserpool.sctp import SctpConfig
from rserpool.sctp.constants import ChunkType
from rserpool.transport import (
    TUNED,
    AddressState,
    AssociationParams,
    CommLost,
    CommUp,
    PeerAddressChange,
    PeerShutdown,
    Received,
    Restart,
    SctpMessage,
    ShutdownComplete,
)
from rserpool.transport.userland import UserlandHost

if TYPE_CHECKING:
    from rserpool.transport.kernel import KernelEndpoint, KernelHost

pytestmark = pytest.mark.sctp

ECHO, DISCARD, OURS = 7, 9, 5001  # SCTP ports: the kernel's echo and discard, ours
MARKER_PORT = 9  # UDP: where the datagram that ends a capture goes (nobody listens)
TIMEOUT = 120.0  # generous: Python runs 15-35x slower in the guest
T = TypeVar("T")

#: What goes each way in the data tests: several streams and PPIDs, one unordered message and
#: 64 KiB messages (55 DATA chunks each at our 1200-byte packets, 5 at the kernel's 1500 MTU).
#: PPIDs that Wireshark gives to no dissector (11 would make it read the bytes as ASAP).
MESSAGES = [
    SctpMessage(b"hello over UDP", 51, 0),
    SctpMessage(bytes(range(256)) * 4, 52, 1),
    SctpMessage(b"x" * 3000, 0xFAEEB5D1, 2),
    SctpMessage(b"unordered", 53, 3, unordered=True),
    SctpMessage(bytes(i % 251 for i in range(65536)), 54, 1),
    SctpMessage(b"after the big one", 51, 1),
    SctpMessage(bytes(range(7)) * 9362 + b"!!", 55, 4),  # 65536 bytes, another stream
]
PPID = 51  # for the other tests' messages


# --- the network --------------------------------------------------------------------------


@dataclass
class Wire:
    """dumpcap in one host, writing every UDP and SCTP packet to a pcapng file."""

    host: Host
    path: Path
    process: Process

    @classmethod
    def start(cls, host: Host, path: Path) -> Wire:
        argv = ["dumpcap", "-i", "any", "-f", "udp or sctp", "-w", str(path)]
        process = Process(host, argv, path.with_suffix(".dumpcap.log"))
        process.wait_for("Capturing on", timeout=60)
        return cls(host, path, process)

    def stop(self) -> list[Frame]:
        """Stop the capture once it holds everything sent so far, and decode it.

        The kernel hands captured packets to dumpcap in blocks, when a block fills or its
        timer (a fraction of a second) runs out, and a SIGTERM ends dumpcap without waiting
        for the last block: the end of a conversation would go missing. So a marker datagram
        goes out first (to the discard port of this host's own address, through ``lo``), and
        dumpcap is stopped once the marker is in the file; everything before it is too.
        """
        marker = f"end of capture {time.time_ns()}".encode()
        with self.host.entered(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(marker, (self.host.addresses()[0], MARKER_PORT))
        deadline = time.monotonic() + 30
        while marker not in self.path.read_bytes():
            assert time.monotonic() < deadline, f"the capture marker never reached {self.path}"
            time.sleep(0.05)  # dumpcap writes a block at least every quarter of a second
        self.process.stop()
        frames = [f for f in decode_frames(self.path) if f.udp_ports[1] != str(MARKER_PORT)]
        self.path.with_suffix(".txt").write_text("".join(f"{f}\n" for f in frames))
        return frames


@dataclass(frozen=True)
class Frame:
    """One captured packet as tshark sees it."""

    number: int
    src: str
    dst: str
    ip_proto: str  # "17" for UDP
    udp_ports: tuple[str, str]
    chunks: tuple[str, ...]  # SCTP chunk types by name, in packet order
    checksum: str  # tshark's sctp.checksum.status: "1" good, "0" bad
    malformed: bool

    def __str__(self) -> str:
        sport, dport = self.udp_ports
        return (
            f"#{self.number} {self.src}:{sport} -> {self.dst}:{dport} ip.proto {self.ip_proto} "
            f"crc {'good' if self.checksum == '1' else repr(self.checksum)} "
            f"{' '.join(self.chunks) or '(no SCTP)'}{' MALFORMED' if self.malformed else ''}"
        )


FIELDS = ["frame.number", "ip.src", "ip.dst", "ip.proto", "udp.srcport", "udp.dstport",
          "sctp.chunk_type", "sctp.checksum.status", "_ws.malformed"]  # fmt: skip


def chunk_name(number: str) -> str:
    try:
        return ChunkType(int(number)).name
    except ValueError:
        return f"chunk-{number}"


def decode_frames(path: Path) -> list[Frame]:
    """Every frame of a capture, decoded by tshark with CRC32c checking on (Wireshark decodes
    UDP port 9899 as SCTP by default)."""
    argv = ["tshark", "-r", str(path), "-o", "sctp.checksum:crc-32c", "-T", "fields",
            "-E", "separator=|", "-E", "aggregator=,"]  # fmt: skip
    for name in FIELDS:
        argv += ["-e", name]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True)
    frames = []
    for line in done.stdout.splitlines():
        number, src, dst, proto, sport, dport, chunks, checksum, malformed = line.split("|")
        kinds = tuple(chunk_name(c) for c in chunks.split(",") if c)
        frames.append(
            Frame(int(number), src, dst, proto, (sport, dport), kinds, checksum, bool(malformed))
        )
    return frames


def check_all_sctp_over_udp(frames: Sequence[Frame], *, expected: Sequence[str]) -> Counter[str]:
    """Every frame is SCTP in UDP 9899 -> 9899 with a good CRC32c, none malformed, and the
    chunk types ``expected`` were all seen; the count of each chunk type."""
    assert frames, "the capture is empty"
    port = str(SCTP_UDP_PORT)
    bad = [
        f
        for f in frames
        if f.ip_proto != "17"
        or f.udp_ports != (port, port)
        or not f.chunks
        or f.checksum != "1"
        or f.malformed
    ]
    assert not bad, "not SCTP over UDP 9899, or broken:\n" + "\n".join(map(str, bad[:20]))
    seen = Counter(kind for f in frames for kind in f.chunks)
    missing = [kind for kind in expected if kind not in seen]
    assert not missing, f"no {missing} in the capture; seen {dict(seen)}"
    return seen


@dataclass
class Network:
    """K (kernel SCTP over UDP) and U (ours), two veth links, the capture in U."""

    k: Host
    u: Host
    links: list[Link]
    kernel: KernelHost
    wire: Wire
    opened: list[UserlandHost] = field(default_factory=list)

    def ours(
        self, params: AssociationParams | None = None, config: SctpConfig | None = None
    ) -> UserlandHost:
        """Our host in U: one UDP socket per address, port 9899, sending to port 9899 until a
        peer's packets say otherwise (RFC 6951 §5.4)."""
        host = UserlandHost(
            self.u.addresses(),
            SCTP_UDP_PORT,
            peer_udp_port=SCTP_UDP_PORT,
            params=params,
            config=config,
            entered=self.u.entered,
        )
        self.opened.append(host)
        return host

    def kernel_addresses(self, port: int) -> list[tuple[str, int]]:
        return [(a, port) for a in self.k.addresses()]

    def our_addresses(self, port: int) -> list[tuple[str, int]]:
        return [(a, port) for a in self.u.addresses()]


@pytest.fixture
def net(topology: Topology, artifacts: Path) -> Iterator[Network]:
    """K and U joined by two links, the capture running in U; our UDP sockets are closed
    afterwards (the topology then deletes the namespaces)."""
    from rserpool.transport.kernel import KernelHost

    k, u = topology.add_host("K"), topology.add_host("U")
    k.set_sctp_udp_encapsulation()
    links = [topology.link(k, u), topology.link(k, u)]  # K .1, U .2 on each
    for link in links:
        # Without this the kernel bundles DATA for several packets into one GSO packet of up
        # to 64 KiB (with the CRC32c left to the device) whenever the device can segment, as
        # a veth can: the capture would show those, not the packets that reach our socket
        # after segmentation. A limit of one MTU makes every packet a real one from the start.
        ip("link", "set", "dev", link.a.name, "gso_max_size", "1500", netns=k.netns)
    wire = Wire.start(u, artifacts / "u.pcapng")
    network = Network(k, u, links, KernelHost(k.addresses(), k.entered), wire)
    yield network
    for host in network.opened:
        host.close()


# --- conversation helpers -----------------------------------------------------------------


class Journal:
    """Everything one side received, in order; :meth:`until` waits for what the test needs."""

    def __init__(self) -> None:
        self.items: list[Received] = []
        self._changed = trio.Event()

    def append(self, item: Received) -> None:
        self.items.append(item)
        self._changed.set()
        self._changed = trio.Event()

    def of(self, kind: type[T]) -> list[T]:
        return [item for item in self.items if isinstance(item, kind)]

    def address_reported(self, address: str, state: AddressState) -> bool:
        return any((e.address[0], e.state) == (address, state) for e in self.of(PeerAddressChange))

    async def until(self, done: Callable[[], bool]) -> None:
        """Wait until ``done()`` holds, checked after every item this journal receives (so
        ``done`` must depend on this journal only)."""
        while not done():
            await self._changed.wait()


async def wait_for(
    receive: Callable[[], Awaitable[Received]], kind: type[T], journal: Journal
) -> T:
    """Receive until an item of ``kind``; everything received goes to ``journal``."""
    while True:
        item = await receive()
        journal.append(item)
        if isinstance(item, kind):
            return item


async def collect(
    receive: Callable[[], Awaitable[Received]], count: int, journal: Journal
) -> list[SctpMessage]:
    """The next ``count`` messages; everything received goes to ``journal``."""
    found: list[SctpMessage] = []
    while len(found) < count:
        item = await receive()
        journal.append(item)
        if isinstance(item, SctpMessage):
            found.append(item)
    return found


def same_messages(got: Sequence[SctpMessage], sent: Sequence[SctpMessage]) -> None:
    """The messages arrived whole, with their PPID, stream and U flag; ordered ones in order
    per stream (the unordered one may overtake)."""

    def key(m: SctpMessage) -> tuple[bytes, int, int, bool]:
        return (m.data, m.ppid, m.stream, m.unordered)

    assert sorted(map(key, got)) == sorted(map(key, sent))
    for stream in {m.stream for m in sent}:
        ordered = [key(m) for m in sent if m.stream == stream and not m.unordered]
        assert [key(m) for m in got if m.stream == stream and not m.unordered] == ordered


@dataclass
class KernelServer:
    """A kernel one-to-many endpoint that echoes (or only keeps) what it receives."""

    endpoint: KernelEndpoint
    echo: bool
    journal: Journal = field(default_factory=Journal)

    async def run(self) -> None:
        while True:
            item = await self.endpoint.receive()
            self.journal.append(item)
            if self.echo and isinstance(item, SctpMessage):
                await self.endpoint.send(
                    item.assoc_id, item.data, item.ppid, item.stream, item.unordered
                )


@asynccontextmanager
async def kernel_servers(net: Network) -> AsyncIterator[tuple[KernelServer, KernelServer]]:
    """Echo on port 7 and discard on port 9, on both of K's addresses."""
    echo = KernelServer(await net.kernel.sctp_endpoint(ECHO), echo=True)
    discard = KernelServer(await net.kernel.sctp_endpoint(DISCARD), echo=False)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo.run)
        nursery.start_soon(discard.run)
        yield echo, discard
        nursery.cancel_scope.cancel()
    await echo.endpoint.aclose()
    await discard.endpoint.aclose()


# --- the tests ----------------------------------------------------------------------------


async def test_control_kernel_to_kernel_over_udp(topology: Topology, artifacts: Path) -> None:
    """The set-up without our stack: two kernels, both encapsulating, a dual-homed one-to-one
    association, a message each way, a graceful shutdown, and nothing but SCTP in UDP 9899 on
    either path (the second path's HEARTBEATs too: every address the INIT lists starts with
    the INIT's UDP port)."""
    from rserpool.transport.kernel import KernelHost

    a, b = topology.add_host("A"), topology.add_host("B")
    a.set_sctp_udp_encapsulation()
    b.set_sctp_udp_encapsulation()
    topology.link(a, b)
    topology.link(a, b)
    wire = Wire.start(b, artifacts / "b.pcapng")
    with trio.fail_after(TIMEOUT):
        listener = await KernelHost(b.addresses(), b.entered).sctp_listen(ECHO)
        async with trio.open_nursery() as nursery:
            accepted = []

            async def accept() -> None:
                accepted.append(await listener.accept())

            nursery.start_soon(accept)
            client = await KernelHost(a.addresses(), a.entered).sctp_connect(
                [(address, ECHO) for address in b.addresses()]
            )
        (server,) = accepted
        log = Journal()
        await client.send(b"ping", PPID, 1)
        (ping,) = await collect(server.receive, 1, log)
        await server.send(b"pong", PPID, 1)
        (pong,) = await collect(client.receive, 1, log)
        assert (ping.data, pong.data, ping.stream) == (b"ping", b"pong", 1)
        # B probes A's second address, unconfirmed, at once (A named both of B's addresses, so
        # they are confirmed already): wait until its HEARTBEAT ACK confirms it
        while not log.address_reported(a.addresses()[1], AddressState.CONFIRMED):
            log.append(await server.receive())
        await client.shutdown()
        await wait_for(client.receive, ShutdownComplete, log)
        await wait_for(server.receive, ShutdownComplete, log)
        for sock in (client, server, listener):
            await sock.aclose()
    frames = wire.stop()
    check_all_sctp_over_udp(
        frames,
        expected=["INIT", "INIT_ACK", "COOKIE_ECHO", "COOKIE_ACK", "DATA", "SACK",
                  "HEARTBEAT", "HEARTBEAT_ACK", "SHUTDOWN", "SHUTDOWN_ACK",
                  "SHUTDOWN_COMPLETE"],
    )  # fmt: skip
    assert {f.dst for f in frames} == set(a.addresses()) | set(b.addresses())


async def test_our_endpoint_connects_to_kernel(net: Network) -> None:
    """Handshake from us to the kernel, then echo (one-to-one) and discard (one-to-many) with
    every kind of message in :data:`MESSAGES`; our SHUTDOWN ends the discard association and
    our ABORT the echo one, and the kernel reports both."""
    ours = net.ours()
    log = Journal()
    with trio.fail_after(TIMEOUT):
        async with kernel_servers(net) as (echo, discard):
            association = await ours.sctp_connect(net.kernel_addresses(ECHO))
            for m in MESSAGES:
                await association.send(m.data, m.ppid, m.stream, m.unordered)
            same_messages(await collect(association.receive, len(MESSAGES), log), MESSAGES)
            (echo_up,) = echo.journal.of(CommUp)
            assert echo_up.inbound_streams >= 5

            endpoint = await ours.sctp_endpoint()
            assoc_id = await endpoint.connect(net.kernel_addresses(DISCARD))
            await wait_for(endpoint.receive, CommUp, log)
            for m in MESSAGES:
                await endpoint.send(assoc_id, m.data, m.ppid, m.stream, m.unordered)
            await endpoint.shutdown(assoc_id)
            assert (await wait_for(endpoint.receive, ShutdownComplete, log)).assoc_id == assoc_id
            await discard.journal.until(lambda: bool(discard.journal.of(ShutdownComplete)))
            same_messages(discard.journal.of(SctpMessage), MESSAGES)
            kinds = [type(e) for e in discard.journal.items]
            assert kinds.index(PeerShutdown) > max(
                i for i, kind in enumerate(kinds) if kind is SctpMessage
            ), "the kernel saw SHUTDOWN before all of our data"

            await association.abort()
            await echo.journal.until(lambda: bool(echo.journal.of(CommLost)))
            await endpoint.aclose()
            await association.aclose()
    check_all_sctp_over_udp(
        net.wire.stop(),
        expected=["INIT", "INIT_ACK", "COOKIE_ECHO", "COOKIE_ACK", "DATA", "SACK",
                  "SHUTDOWN", "SHUTDOWN_ACK", "SHUTDOWN_COMPLETE", "ABORT"],
    )  # fmt: skip


async def test_kernel_connects_to_ours(net: Network) -> None:
    """Handshake from the kernel to us: a kernel one-to-one socket sends every kind of message
    to our listener, which echoes them; the kernel's SHUTDOWN ends it (PeerShutdown, then
    ShutdownComplete on our side); a second kernel socket connects to our one-to-many endpoint
    and its ABORT reaches us as CommLost."""
    ours = net.ours()
    log = Journal()
    with trio.fail_after(TIMEOUT):
        listener = await ours.sctp_listen(OURS)
        async with trio.open_nursery() as nursery:
            accepted = []

            async def accept() -> None:
                accepted.append(await listener.accept())

            nursery.start_soon(accept)
            kernel = await net.kernel.sctp_connect(net.our_addresses(OURS))
        (association,) = accepted

        async def echo() -> None:
            while True:
                item = await association.receive()
                log.append(item)
                if isinstance(item, SctpMessage):
                    await association.send(item.data, item.ppid, item.stream, item.unordered)
                if isinstance(item, ShutdownComplete):
                    return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(echo)
            for m in MESSAGES:
                await kernel.send(m.data, m.ppid, m.stream, m.unordered)
            kernel_log = Journal()
            same_messages(await collect(kernel.receive, len(MESSAGES), kernel_log), MESSAGES)
            await kernel.shutdown()
            await wait_for(kernel.receive, ShutdownComplete, kernel_log)
        kinds = [type(e) for e in log.items]
        assert kinds.count(PeerShutdown) == 1 and kinds[-1] is ShutdownComplete, kinds
        await kernel.aclose()
        await association.aclose()
        await listener.aclose()

        endpoint = await ours.sctp_endpoint(OURS + 1)
        doomed = await net.kernel.sctp_connect(net.our_addresses(OURS + 1))
        up = await wait_for(endpoint.receive, CommUp, log)
        await doomed.abort()
        assert (await wait_for(endpoint.receive, CommLost, log)).assoc_id == up.assoc_id
        await endpoint.aclose()
    check_all_sctp_over_udp(
        net.wire.stop(),
        expected=["INIT", "INIT_ACK", "COOKIE_ECHO", "COOKIE_ACK", "DATA", "SACK",
                  "SHUTDOWN", "SHUTDOWN_ACK", "SHUTDOWN_COMPLETE", "ABORT"],
    )  # fmt: skip


async def test_path_failure_and_return(net: Network) -> None:
    """Both sides dual-homed with the tuned settings (1 s heartbeats, Path.Max.Retrans 2). We
    send numbered messages to the kernel's echo while path 1 goes down: every echo comes back,
    once and in order, over path 2; both sides report their peer's path-1 address
    UNREACHABLE; when the link is back, both report it AVAILABLE again and it carries data."""
    ours = net.ours(params=TUNED)
    count, down_at = 60, 20
    k_primary, u_primary = net.k.addresses()[0], net.u.addresses()[0]
    log = Journal()

    async def both_report(state: AddressState) -> None:
        """Wait until we report the kernel's path-1 address in ``state``, and the kernel ours
        (each journal wakes its own waiter only)."""
        await log.until(lambda: log.address_reported(k_primary, state))
        await echo.journal.until(lambda: echo.journal.address_reported(u_primary, state))

    def echoes() -> list[int]:
        return [int.from_bytes(m.data[:4], "big") for m in log.of(SctpMessage)]

    with trio.fail_after(TIMEOUT):
        async with kernel_servers(net) as (echo, _discard):
            association = await ours.sctp_connect(net.kernel_addresses(ECHO))

            async def receive() -> None:
                while True:
                    log.append(await association.receive())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                for seq in range(count):
                    if seq == down_at:
                        net.links[0].down()
                    await association.send(seq.to_bytes(4, "big").ljust(200, b"."), PPID, 2)
                    await trio.sleep(0.05)  # pacing: a message every 50 ms
                await log.until(lambda: len(echoes()) >= count)
                assert echoes() == list(range(count)), "lost, duplicated or reordered"
                await both_report(AddressState.UNREACHABLE)
                net.links[0].up()
                await both_report(AddressState.AVAILABLE)
                await association.send(count.to_bytes(4, "big"), PPID, 2)
                await log.until(lambda: len(echoes()) > count)
                nursery.cancel_scope.cancel()
            await association.abort()
            await association.aclose()
    frames = net.wire.stop()
    check_all_sctp_over_udp(frames, expected=["DATA", "SACK", "HEARTBEAT", "HEARTBEAT_ACK"])
    assert {f.src for f in frames} == set(net.k.addresses()) | set(net.u.addresses())


async def test_kernel_side_restarts(net: Network) -> None:
    """The kernel's socket vanishes without a word (its ABORT goes nowhere: both links are down
    while it is closed), and a new socket on the same port and addresses connects to us again.
    Our association is still ESTABLISHED, so the new INIT and COOKIE ECHO make a peer restart
    (RFC 9260 §5.2.2 and §5.2.4, case A): we report Restart on the same association, and it
    carries messages both ways at once.

    Nothing of ours may reach the kernel between the crash and the new INIT: a packet with the
    old tag would get an out-of-the-blue ABORT with the T bit (§8.4, §8.5.1), which ends our
    association first (then CommLost and a new CommUp are right, but that is not the case this
    test is about). So our side SACKs every packet at once (no delayed SACK left to fire), the
    last DATA before the crash is the kernel's, and we send no heartbeats at all (the probe of
    an unconfirmed address is followed by another one RTO later, wherever the crash falls)."""
    ours = net.ours(config=SctpConfig(sack_every=1, hb_enabled=False))
    log = Journal()
    with trio.fail_after(TIMEOUT):
        endpoint = await ours.sctp_endpoint(OURS)
        first = await net.kernel.sctp_endpoint(ECHO)
        await first.connect(net.our_addresses(OURS))
        kernel_log = Journal()
        kernel_id = (await wait_for(first.receive, CommUp, kernel_log)).assoc_id
        ours_id = (await wait_for(endpoint.receive, CommUp, log)).assoc_id
        await first.send(kernel_id, b"before", PPID)
        (before,) = await collect(endpoint.receive, 1, log)  # SACKed before it is handed up
        assert before.data == b"before"

        for link in net.links:
            link.down()
        await first.abort(kernel_id)
        await first.aclose()
        for link in net.links:
            link.up()

        second = await net.kernel.sctp_endpoint(ECHO)
        await second.connect(net.our_addresses(OURS))
        kernel_id = (await wait_for(second.receive, CommUp, kernel_log)).assoc_id
        while not isinstance(item := await endpoint.receive(), Restart | CommLost):
            log.append(item)
        log.append(item)
        assert isinstance(item, Restart) and item.assoc_id == ours_id, log.items
        await second.send(kernel_id, b"after", PPID)
        (after,) = await collect(endpoint.receive, 1, log)
        assert (after.data, after.assoc_id) == (b"after", ours_id)
        await endpoint.send(ours_id, b"reply", PPID)
        (reply,) = await collect(second.receive, 1, kernel_log)
        assert reply.data == b"reply"
        assert not log.of(CommLost) and len(log.of(CommUp)) == 1, log.items
        await endpoint.aclose()
        await second.aclose()
    check_all_sctp_over_udp(
        net.wire.stop(), expected=["INIT", "INIT_ACK", "COOKIE_ECHO", "COOKIE_ACK", "DATA"]
    )
