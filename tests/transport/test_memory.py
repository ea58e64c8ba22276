"""What only the in-memory network has: determinism, loss, latency, crashes and restarts."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from rserpool.transport import (
    TUNED,
    AddressState,
    CommLost,
    CommUp,
    MemoryNetwork,
    PeerAddressChange,
    Received,
    Restart,
    SctpMessage,
    TransportError,
)
from tests.transport.helpers import messages, wait_for


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def network(seed: int = 1, loss: float = 0.0) -> MemoryNetwork:
    net = MemoryNetwork(seed=seed, latency=0.005, loss=loss, sctp=TUNED)
    net.add_host("pr", ["192.0.2.1", "198.51.100.1"])
    net.add_host("pe", ["192.0.2.2", "198.51.100.2"])
    return net


async def transfer(net: MemoryNetwork, count: int) -> list[tuple[float, int]]:
    """Send ``count`` messages pe -> pr; (arrival time since the start, number) for each."""
    start = trio.current_time()
    server = await net.hosts["pr"].sctp_endpoint(3863)
    client = await net.hosts["pe"].sctp_endpoint()
    assoc = await client.connect([("192.0.2.1", 3863)])
    await wait_for(client.receive, CommUp)
    for n in range(count):
        await client.send(assoc, n.to_bytes(2, "big"), 11)
    got = []
    for m in await messages(server.receive, count):
        got.append((trio.current_time() - start, int.from_bytes(m.data, "big")))
    await client.aclose()
    await server.aclose()
    return got


async def test_latency_is_virtual_time(clock: trio.testing.MockClock) -> None:
    net = network()
    start = trio.current_time()
    pr, pe = net.hosts["pr"], net.hosts["pe"]
    server = await pr.sctp_endpoint(3863)
    client = await pe.sctp_endpoint()
    await client.connect([("192.0.2.1", 3863)])
    await wait_for(server.receive, CommUp)
    assert trio.current_time() - start == pytest.approx(3 * 0.005)  # INIT, INIT-ACK, COOKIE
    await wait_for(client.receive, CommUp)
    assert trio.current_time() - start == pytest.approx(4 * 0.005)


async def test_loss_is_repaired_in_order_and_deterministic(clock: trio.testing.MockClock) -> None:
    first = await transfer(network(seed=7, loss=0.2), 200)
    assert [n for _, n in first] == list(range(200))
    assert first == await transfer(network(seed=7, loss=0.2), 200)
    assert first != await transfer(network(seed=8, loss=0.2), 200)


async def test_interface_down_and_up_reports_both(clock: trio.testing.MockClock) -> None:
    net = network()
    server = await net.hosts["pr"].sctp_endpoint(3863)
    client = await net.hosts["pe"].sctp_endpoint()
    assoc = await client.connect([("192.0.2.1", 3863), ("198.51.100.1", 3863)])
    await wait_for(client.receive, CommUp)
    net.set_address_down("192.0.2.1")
    change = await wait_for(client.receive, PeerAddressChange)
    assert (change.address, change.state) == (("192.0.2.1", 3863), AddressState.UNREACHABLE)
    await client.send(assoc, b"via the other path", 11)
    (m,) = await messages(server.receive, 1)
    assert m.source is not None and m.source[1] == client.port  # from either address of pe
    net.set_address_up("192.0.2.1")
    change = await wait_for(client.receive, PeerAddressChange)
    assert change.state == AddressState.AVAILABLE


async def test_crash_then_restart_and_timeout(clock: trio.testing.MockClock) -> None:
    net = network()
    pr, pe = net.hosts["pr"], net.hosts["pe"]
    server = await pr.sctp_endpoint(3863)
    client = await pe.sctp_endpoint(5000)
    await client.connect([("192.0.2.1", 3863)])
    server_id = (await wait_for(server.receive, CommUp)).assoc_id
    pe.crash()
    with pytest.raises(trio.ClosedResourceError):
        await client.receive()
    reborn = await pe.sctp_endpoint(5000)
    await reborn.connect([("192.0.2.1", 3863)])
    await wait_for(reborn.receive, CommUp)
    restart = await wait_for(server.receive, Restart)
    assert restart.assoc_id == server_id
    # a second crash, and nobody comes back: the registrar's heartbeats meet an ABORT
    pe.crash()
    lost = await wait_for(server.receive, CommLost)
    assert lost.assoc_id == server_id


async def test_everything_down_on_an_idle_association_is_found_by_heartbeats(
    clock: trio.testing.MockClock,
) -> None:
    net = network()
    server = await net.hosts["pr"].sctp_endpoint(3863)
    client = await net.hosts["pe"].sctp_endpoint()
    await client.connect([("192.0.2.1", 3863)])
    await wait_for(client.receive, CommUp)
    start = trio.current_time()
    for address in ("192.0.2.1", "198.51.100.1"):
        net.set_address_down(address)
    seen: list[Received] = []
    await wait_for(server.receive, CommLost, seen)
    assert 2 < trio.current_time() - start < 60
    assert any(isinstance(e, PeerAddressChange) for e in seen)


async def test_udp_loss_and_unknown_destinations(clock: trio.testing.MockClock) -> None:
    net = network(loss=1.0)
    listener = await net.hosts["pr"].udp_socket(3863, group="239.0.0.50")
    sender = await net.hosts["pe"].udp_socket(4000)
    await sender.send(b"lost", ("239.0.0.50", 3863))
    await sender.send(b"nobody", ("203.0.113.9", 1))
    with trio.move_on_after(1) as scope:
        await listener.receive()
    assert scope.cancelled_caught
    net.set_loss(0.0)
    await sender.send(b"found", ("239.0.0.50", 3863))
    datagrams = [await listener.receive(), await listener.receive()]  # one per interface
    assert {d.source for d in datagrams} == {("192.0.2.2", 4000), ("198.51.100.2", 4000)}


async def test_host_set_up_errors(clock: trio.testing.MockClock) -> None:
    net = network()
    with pytest.raises(ValueError, match="exists"):
        net.add_host("pr", ["192.0.2.99"])
    with pytest.raises(ValueError, match="belongs to"):
        net.add_host("x", ["192.0.2.1"])
    await net.hosts["pr"].sctp_endpoint(3863)
    with pytest.raises(TransportError, match="in use"):
        await net.hosts["pr"].sctp_endpoint(3863)
    with pytest.raises(TransportError, match="no address"):
        await net.hosts["pr"].sctp_endpoint(1, addresses=["192.0.2.2"])


async def test_messages_sent_before_comm_up_arrive_after_it(clock: trio.testing.MockClock) -> None:
    net = network()
    server = await net.hosts["pr"].sctp_endpoint(3863)
    client = await net.hosts["pe"].sctp_endpoint()
    assoc = await client.connect([("192.0.2.1", 3863)])
    await client.send(assoc, b"early", 11)
    first = await server.receive()
    assert isinstance(first, CommUp)
    second = await server.receive()
    assert isinstance(second, SctpMessage) and second.data == b"early"
