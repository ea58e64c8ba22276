"""Multi-homing on both transports: the primary path fails mid-transfer (no message lost, the
sender sees PEER_ADDR_CHANGE, the gap in arrivals is measured), then every path fails
(COMM_LOST within the bound the retransmission settings give). Kernel runs write their numbers
to the test's artifacts (failover.json), which docs/transport.md quotes."""

from __future__ import annotations

import itertools
import json
import struct
from pathlib import Path

import trio

from rserpool.transport import (
    AddressState,
    AssociationParams,
    CommLost,
    PeerAddressChange,
    Received,
    SctpMessage,
    SendFailed,
)
from tests.transport.conftest import Pair
from tests.transport.test_conformance import PORT, connected

COUNT, DOWN_AT, INTERVAL = 150, 50, 0.010


async def test_primary_path_down_loses_nothing(clock: object, pair: Pair, artifacts: Path) -> None:
    with trio.fail_after(pair.timeout):
        server, client, _server_id, client_id = await connected(pair)
        arrivals: list[tuple[int, float]] = []
        client_events: list[Received] = []
        primary = (pair.b.addresses()[0], PORT)

        async def receive_all() -> None:
            while len(arrivals) < COUNT:
                item = await server.receive()
                if isinstance(item, SctpMessage):
                    assert (item.ppid, item.stream) == (11, 3)
                    arrivals.append((struct.unpack_from("!I", item.data)[0], trio.current_time()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_all)
            for seq in range(COUNT):
                if seq == DOWN_AT:
                    down_at = trio.current_time()
                    pair.path_down(0)
                await client.send(client_id, struct.pack("!I", seq).ljust(64, b"."), 11, 3)
                await trio.sleep(INTERVAL)
        assert [seq for seq, _ in arrivals] == list(range(COUNT)), "lost, duplicated, reordered"
        gap = max(b - a for (_, a), (_, b) in itertools.pairwise(arrivals))
        with trio.move_on_after(15):
            while True:
                event = await client.receive()
                client_events.append(event)
                if (
                    isinstance(event, PeerAddressChange)
                    and event.address == primary
                    and event.state == AddressState.UNREACHABLE
                ):
                    break
        unreachable = [e for e in client_events if isinstance(e, PeerAddressChange)]
        assert unreachable and unreachable[-1].address == primary, client_events
        detected = trio.current_time() - down_at
        (artifacts / "failover.json").write_text(
            json.dumps({"impl": pair.kind, "gap_s": gap, "unreachable_after_s": detected})
        )
        print(f"{pair.kind}: failover gap {gap * 1000:.0f} ms, unreachable after {detected:.2f} s")
        assert gap < 1.0
        await client.aclose()
        await server.aclose()


async def test_every_path_down_ends_in_comm_lost(
    clock: object, pair: Pair, artifacts: Path
) -> None:
    with trio.fail_after(pair.timeout):
        server, client, _server_id, client_id = await connected(pair)
        await client.send(client_id, b"warm-up", 11)  # measure an RTT on the primary path
        await trio.sleep(0.5)  # past the 200 ms delayed SACK: the warm-up is acknowledged
        client.set_association_params(client_id, AssociationParams(max_retrans=4))
        pair.path_down(0)
        pair.path_down(1)
        started = trio.current_time()
        await client.send(client_id, b"never arrives", 11)
        events: list[Received] = []
        with trio.fail_after(10):
            lost = None
            while lost is None:
                item = await client.receive()
                events.append(item)
                if isinstance(item, CommLost):
                    lost = item
        took = trio.current_time() - started
        (artifacts / "comm_lost.json").write_text(json.dumps({"impl": pair.kind, "s": took}))
        print(f"{pair.kind}: COMM_LOST {took:.2f} s after both paths went down")
        assert lost.assoc_id == client_id

        async def drain() -> None:
            while True:
                events.append(await client.receive())

        with trio.move_on_after(1):  # the kernel reports unsent data after COMM_LOST
            await drain()
        failed = [e for e in events if isinstance(e, SendFailed)]
        assert [f.data for f in failed] == [b"never arrives"], events
        # 5 timeouts (max_retrans 4) of 0.1..0.5 s RTO with backoff: about 1.7 s
        assert 0.5 < took < 5.0
        await client.aclose()
        await server.aclose()
