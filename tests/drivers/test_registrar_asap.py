"""The registrar driver's ASAP side on the in-memory network, in virtual time.

A scripted PE and PU (tests/drivers/helpers.py) talk to ``serve_registrar`` over SCTP
associations of the memory transport; announces travel as UDP multicast.
"""

from __future__ import annotations

import trio
import trio.testing

from rserpool.drivers.registrar import Registrar, serve_registrar
from rserpool.proto.common import Endpoint
from rserpool.proto.registrar import PoolElementRemoved, RegistrarConfig, RemovalReason
from rserpool.transport import ASAP_ANNOUNCE_GROUP, TUNED, MemoryNetwork
from rserpool.wire import (
    PPID,
    EndpointKeepAlive,
    HandleResolution,
    HandleResolutionResponse,
    RegistrationResponse,
    SctpTransport,
    ServerAnnounce,
    decode_message_untrusted,
)
from tests.drivers.helpers import POOL, AsapClient, ips, next_event, registration

PR_ADDRESSES = ["198.51.100.1", "203.0.113.1"]


def network() -> MemoryNetwork:
    net = MemoryNetwork(seed=7, latency=0.001, sctp=TUNED)
    net.add_host("pr", PR_ADDRESSES)
    net.add_host("pe", ["198.51.100.2", "203.0.113.2"])
    net.add_host("pu", ["198.51.100.3"])
    return net


CONFIG = RegistrarConfig(server_id=0x101, mentor_discovery_timeout=1000)


async def start(nursery: trio.Nursery, net: MemoryNetwork, name: str = "pr") -> Registrar:
    registrar: Registrar = await nursery.start(serve_registrar, net.hosts[name], CONFIG)
    return registrar


async def test_registration_and_handle_resolution(clock: trio.testing.MockClock) -> None:
    net = network()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            registrar = await start(nursery, net)
            assert registrar.asap_address.port == 3863
            assert registrar.asap_address.addresses == ips(*PR_ADDRESSES)  # multi-homed

            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            await pe.send(registration(0x2001, ["198.51.100.2", "203.0.113.2"]))
            (response,) = await pe.expect(RegistrationResponse)
            assert isinstance(response, RegistrationResponse)
            assert not response.reject and response.pe_id == 0x2001

            stored = registrar.core.handlespace.find(POOL, 0x2001)
            assert stored is not None and stored.home_registrar_id == 0x101
            # the ASAP transport is the association's peer: both PE addresses
            assert stored.asap_transport is not None
            assert set(stored.asap_transport.addresses) == set(ips("198.51.100.2", "203.0.113.2"))

            pu = await AsapClient.connect(net.hosts["pu"], [("203.0.113.1", 3863)])
            nursery.start_soon(pu.run)
            await pu.send(HandleResolution(pool_handle=POOL, items=1))
            (answer,) = await pu.expect(HandleResolutionResponse)
            assert isinstance(answer, HandleResolutionResponse)
            assert [p.pe_id for p in answer.pool_elements] == [0x2001]
            assert answer.pool_elements[0].asap_transport is None  # never shown to PUs

            stats = registrar.statistics
            assert stats.events["PoolElementRegistered"] == 1
            assert stats.events["HandleResolved"] == 1
            assert stats.received["ASAP"] == 2 and stats.sent["ASAP"] == 2
            assert stats.internal_errors == 0
            nursery.cancel_scope.cancel()


async def test_keep_alive_answered_keeps_the_pe_and_silence_removes_it(
    clock: trio.testing.MockClock,
) -> None:
    net = network()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            registrar = await start(nursery, net)
            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            await pe.send(registration(0x2002, ["198.51.100.2"]))
            await pe.expect(RegistrationResponse)

            await pe.expect(EndpointKeepAlive, 3)  # every 5 s, each one acked
            assert registrar.core.handlespace.find(POOL, 0x2002) is not None
            first = pe.received.index(next(m for m in pe.received
                                            if isinstance(m, EndpointKeepAlive)))  # fmt: skip
            assert first == 1

            pe.auto_ack = False  # the PE hangs: the next keep-alive goes unanswered
            registered_at = trio.current_time()
            removed = await next_event(registrar.events, PoolElementRemoved, pe_id=0x2002)
            assert removed.reason is RemovalReason.KEEP_ALIVE_TIMEOUT
            assert registrar.core.handlespace.find(POOL, 0x2002) is None
            # at most one transmission interval plus the timeout (5 s + 5 s)
            assert trio.current_time() - registered_at <= 10.5
            assert registrar.statistics.events["PoolElementRemoved"] == 1
            assert registrar.statistics.aborts == 1  # RSPLIB ABORTs the association
            nursery.cancel_scope.cancel()


async def test_association_loss_removes_the_pe(clock: trio.testing.MockClock) -> None:
    net = network()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            registrar = await start(nursery, net)
            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            await pe.send(registration(0x2003, ["198.51.100.2"]))
            await pe.expect(RegistrationResponse)
            assert registrar.associations(Endpoint.ASAP) == 1
            events = registrar.events
            await pe.endpoint.abort(pe.assoc_id)
            removed = await next_event(events, PoolElementRemoved, pe_id=0x2003)
            assert removed.reason is RemovalReason.ASSOCIATION_LOST
            assert registrar.core.handlespace.find(POOL, 0x2003) is None
            assert registrar.associations(Endpoint.ASAP) == 0
            assert registrar.statistics.associations_lost["ASAP"] >= 1
            nursery.cancel_scope.cancel()


async def test_server_announce_leaves_from_the_asap_port(clock: trio.testing.MockClock) -> None:
    net = network()
    group, port = ASAP_ANNOUNCE_GROUP
    listener = await net.hosts["pe"].udp_socket(port, group=group)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            registrar = await start(nursery, net)
            started = trio.current_time()
            datagram = await listener.receive()
            # no announce during startup (mentor discovery: 1 s here)
            assert trio.current_time() - started >= 1.0
            assert datagram.source[1] == registrar.asap_address.port == 3863
            assert datagram.source[0] in PR_ADDRESSES
            announce = decode_message_untrusted(PPID.ASAP, datagram.data)
            assert isinstance(announce, ServerAnnounce) and announce.server_id == 0x101
            (transport,) = announce.transports
            assert isinstance(transport, SctpTransport)
            assert transport.port == 3863 and set(transport.addresses) == set(ips(*PR_ADDRESSES))
            count = 0
            with trio.move_on_after(10) as window:
                while not window.cancel_called:
                    await listener.receive()
                    count += 1
            # one per cycle (1 s +- 12.5 %), once per interface (two addresses)
            assert 2 * 8 <= count <= 2 * 12
            assert registrar.statistics.multicasts["ASAP"] >= 9
            nursery.cancel_scope.cancel()


async def test_bad_input_is_answered_and_never_fatal(clock: trio.testing.MockClock) -> None:
    net = network()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            registrar = await start(nursery, net)
            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            await pe.send_raw(b"\x01\x00\x00\x10garbage-garbage!", PPID.ASAP)
            await pe.send_raw(b"\x05\x00", PPID.ASAP)
            await pe.send_raw(b"hello", 0)  # other PPIDs are ignored
            await pe.send(registration(0x2004, ["198.51.100.2"]))
            await pe.expect(RegistrationResponse)
            assert registrar.statistics.events["MessageRejected"] == 2
            assert registrar.statistics.internal_errors == 0
            # a stranger on the ENRP port with an ASAP PPID is ABORTed (RSPLIB)
            stray = await net.hosts["pu"].sctp_connect([("198.51.100.1", 9901)])
            await stray.send(encode_registration(), PPID.ASAP)
            with trio.fail_after(5):
                while True:
                    try:
                        await stray.receive()
                    except trio.EndOfChannel:
                        break
            assert registrar.core.handlespace.find(POOL, 0x2004) is not None
            nursery.cancel_scope.cancel()


def encode_registration() -> bytes:
    return registration(0x2005, ["198.51.100.3"]).encode()
