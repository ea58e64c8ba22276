"""One conformance suite for both transports (like trio's check_two_way_stream): every test
runs on the in-memory network (host, virtual time) and on kernel SCTP (guest, namespaces)."""

from __future__ import annotations

import pytest
import trio

from rserpool.transport import (
    ASAP_ANNOUNCE_GROUP,
    AssociationGone,
    CannotConnect,
    CantStartAssociation,
    CommLost,
    CommUp,
    PeerShutdown,
    Received,
    SctpMessage,
    ShutdownComplete,
)
from tests.transport.conftest import Pair
from tests.transport.helpers import messages, wait_for

PORT = 3863


async def connected(pair: Pair, port: int = PORT):  # type: ignore[no-untyped-def]
    """A one-to-many endpoint on B, one on A with an association to it (both sides up)."""
    server = await pair.b.sctp_endpoint(port)
    client = await pair.a.sctp_endpoint()
    client_id = await client.connect([(a, port) for a in pair.b.addresses()])
    up = await wait_for(client.receive, CommUp)
    assert up.assoc_id == client_id
    server_up = await wait_for(server.receive, CommUp)
    return server, client, server_up.assoc_id, client_id


async def test_association_comes_up_multihomed(clock: object, pair: Pair) -> None:
    with trio.fail_after(pair.timeout):
        server, client, server_id, client_id = await connected(pair)
        assert sorted(server.local_addresses()) == sorted((a, PORT) for a in pair.b.addresses())
        client_port = client.port
        assert sorted(server.peer_addresses(server_id)) == sorted(
            (a, client_port) for a in pair.a.addresses()
        )
        assert sorted(client.peer_addresses(client_id)) == sorted(
            (a, PORT) for a in pair.b.addresses()
        )
        assert client.peer_addresses(999_999) == []
        await client.aclose()
        await server.aclose()


@pytest.mark.parametrize("unordered", [False, True])
async def test_message_boundaries_ppid_stream_flags(
    clock: object, pair: Pair, unordered: bool
) -> None:
    sent = [
        SctpMessage(b"x", 11, 0),
        SctpMessage(bytes(range(100)), 12, 3),
        SctpMessage(b"a" * 4000, 0xFAEEB5D1, 1),
        SctpMessage(bytes(60000), 35, 2),
    ]
    with trio.fail_after(pair.timeout):
        server, client, server_id, client_id = await connected(pair)
        for m in sent:
            await client.send(client_id, m.data, m.ppid, m.stream, unordered)
        got = await messages(server.receive, len(sent))
        if unordered:
            got.sort(key=lambda m: len(m.data))
        assert [(m.data, m.ppid, m.stream) for m in got] == [
            (m.data, m.ppid, m.stream) for m in sent
        ]
        assert {(m.assoc_id, m.unordered) for m in got} == {(server_id, unordered)}
        assert all(m.source in [(a, client.port) for a in pair.a.addresses()] for m in got)
        await client.aclose()
        await server.aclose()


async def test_order_kept_and_replies_by_association(clock: object, pair: Pair) -> None:
    with trio.fail_after(pair.timeout):
        server = await pair.b.sctp_endpoint(PORT)
        clients = [await pair.a.sctp_endpoint() for _ in range(2)]
        ids = [await c.connect([(pair.b.addresses()[0], PORT)]) for c in clients]
        for client, own in zip(clients, ids, strict=True):
            assert (await wait_for(client.receive, CommUp)).assoc_id == own
        for n in range(100):
            await clients[n % 2].send(ids[n % 2], n.to_bytes(4, "big"), 11, 1)
        got = await messages(server.receive, 100)
        by_assoc: dict[int, list[int]] = {}
        for m in got:
            by_assoc.setdefault(m.assoc_id, []).append(int.from_bytes(m.data, "big"))
        assert sorted(by_assoc.values()) == [list(range(0, 100, 2)), list(range(1, 100, 2))]
        for assoc_id, numbers in by_assoc.items():
            await server.send(assoc_id, f"reply {numbers[0]}".encode(), 11)
        for client, first in zip(clients, ["reply 0", "reply 1"], strict=True):
            (reply,) = await messages(client.receive, 1)
            assert reply.data == first.encode()
        for sock in [*clients, server]:
            await sock.aclose()


async def test_one_to_one_echo_and_graceful_shutdown(clock: object, pair: Pair) -> None:
    with trio.fail_after(pair.timeout):
        listener = await pair.b.sctp_listen(PORT)
        remote = [(a, PORT) for a in pair.b.addresses()]
        async with trio.open_nursery() as nursery:
            accepted: list[object] = []

            async def accept() -> None:
                accepted.append(await listener.accept())

            nursery.start_soon(accept)
            client = await pair.a.sctp_connect(remote)
        (server,) = accepted
        assert sorted(client.peer_addresses()) == sorted(remote)
        assert sorted(a for a, _ in client.local_addresses()) == sorted(pair.a.addresses())
        await client.send(b"ping", 33, 2)
        (ping,) = await messages(server.receive, 1)  # type: ignore[attr-defined]
        assert (ping.data, ping.ppid, ping.stream) == (b"ping", 33, 2)
        await server.send(b"pong", 33, 2)  # type: ignore[attr-defined]
        (pong,) = await messages(client.receive, 1)
        assert pong.data == b"pong"

        await client.shutdown()
        server_events: list[Received] = []
        await wait_for(server.receive, ShutdownComplete, server_events)  # type: ignore[attr-defined]
        assert any(isinstance(e, PeerShutdown) for e in server_events)
        await wait_for(client.receive, ShutdownComplete)
        with pytest.raises(trio.EndOfChannel):
            await client.receive()
        with pytest.raises(AssociationGone):
            await client.send(b"late", 33)
        await client.aclose()
        await server.aclose()  # type: ignore[attr-defined]
        await listener.aclose()


async def test_shutdown_and_abort_one_to_many(clock: object, pair: Pair) -> None:
    with trio.fail_after(pair.timeout):
        server, client, _server_id, client_id = await connected(pair)
        await client.send(client_id, b"last words", 11)
        await client.shutdown(client_id)
        events: list[Received] = []
        await wait_for(server.receive, ShutdownComplete, events)
        kinds = [type(e) for e in events]
        assert PeerShutdown in kinds and SctpMessage in kinds
        assert kinds.index(SctpMessage) < kinds.index(PeerShutdown)  # data first, then SHUTDOWN
        assert any(isinstance(e, SctpMessage) and e.data == b"last words" for e in events)
        assert (await wait_for(client.receive, ShutdownComplete)).assoc_id == client_id
        with pytest.raises(AssociationGone):
            await client.send(client_id, b"late", 11)

        again = await client.connect([(pair.b.addresses()[1], PORT)])
        await wait_for(client.receive, CommUp)
        peer_id = (await wait_for(server.receive, CommUp)).assoc_id
        await client.abort(again)
        lost = await wait_for(server.receive, CommLost)
        assert lost.assoc_id == peer_id
        assert (await wait_for(client.receive, CommLost)).assoc_id == again
        await client.aclose()
        await server.aclose()


async def test_connecting_to_nobody_fails(clock: object, pair: Pair) -> None:
    with trio.fail_after(pair.timeout):
        client = await pair.a.sctp_endpoint()
        assoc_id = await client.connect([(pair.b.addresses()[0], 4444)])
        failed = await wait_for(client.receive, CantStartAssociation)
        assert failed.assoc_id == assoc_id
        with pytest.raises(CannotConnect):
            await pair.a.sctp_connect([(pair.b.addresses()[0], 4444)])
        await client.aclose()


async def test_cancelled_receive_and_send_lose_nothing(clock: object, pair: Pair) -> None:
    count = 60
    with trio.fail_after(pair.timeout):
        server, client, _server_id, client_id = await connected(pair)
        got: list[int] = []

        async def sender() -> None:
            for n in range(count):
                with trio.move_on_after(0) as attempt:  # cancelled at once, or sent whole
                    await client.send(client_id, n.to_bytes(4, "big"), 11)
                if not attempt.cancelled_caught:
                    continue
                await client.send(client_id, n.to_bytes(4, "big"), 11)
                await trio.sleep(0.001)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            while len(got) < count:
                with trio.move_on_after(0.0005):
                    item = await server.receive()
                    if isinstance(item, SctpMessage):
                        got.append(int.from_bytes(item.data, "big"))
        assert got == sorted(got) and set(got) >= set(range(count)) and len(got) >= count
        await client.aclose()
        await server.aclose()


async def test_receive_after_close_raises(clock: object, pair: Pair) -> None:
    with trio.fail_after(pair.timeout):
        endpoint = await pair.a.sctp_endpoint()
        await endpoint.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await endpoint.receive()


# The userland host's announce sockets are the kernel UDP sockets tested here already; on this
# machine's loopback they would send multicast out of its real interfaces, so "udp" sits out.
@pytest.mark.parametrize(
    "impl", ["memory", pytest.param("kernel", marks=pytest.mark.sctp)], indirect=True
)
async def test_announce_multicast_from_the_sctp_port(clock: object, pair: Pair) -> None:
    pair.enable_multicast()
    group, port = ASAP_ANNOUNCE_GROUP
    with trio.fail_after(pair.timeout):
        registrar = await pair.b.sctp_endpoint(0)
        listener_a = await pair.a.udp_socket(port, group=group)
        listener_b = await pair.b.udp_socket(port, group=group)
        announcer = await pair.b.udp_socket(registrar.port)
        assert announcer.port == registrar.port
        await announcer.send(b"announce", (group, port))
        remote = await listener_a.receive()
        local = await listener_b.receive()  # loopback delivery
        for datagram in (remote, local):
            assert datagram.data == b"announce"
            assert datagram.source[1] == registrar.port
            assert datagram.source[0] in pair.b.addresses()
        unicast = await pair.a.udp_socket(0)
        await announcer.send(b"direct", (pair.a.addresses()[0], unicast.port))
        assert (await unicast.receive()).source[1] == registrar.port
        for sock in (listener_a, listener_b, announcer, unicast, registrar):
            await sock.aclose()
