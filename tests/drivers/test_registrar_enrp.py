"""Driver-run registrars peering over ENRP on the in-memory network; hsdump against them."""

from __future__ import annotations

import random
from typing import TypedDict

import trio
import trio.testing
from trio_typing import TaskStatus

from rserpool.drivers.hsdump import dump_handlespace
from rserpool.drivers.registrar import Registrar, serve_registrar
from rserpool.proto.common import TransportAddress
from rserpool.proto.hsdump import render_dump
from rserpool.proto.registrar import (
    PeerAdded,
    PoolElementLearned,
    PoolElementRemoved,
    RegistrarConfig,
    RemovalReason,
    StartupCompleted,
    TakeoverCompleted,
)
from rserpool.proto.registrar.machines import StartupState
from rserpool.transport import TUNED, MemoryNetwork
from rserpool.wire import EndpointKeepAlive, RegistrationResponse
from tests.drivers.helpers import POOL, AsapClient, ips, next_event, registration, wait_until


class Fast(TypedDict):
    mentor_discovery_timeout: int


FAST: Fast = {"mentor_discovery_timeout": 1000}


def network(registrars: int) -> MemoryNetwork:
    net = MemoryNetwork(seed=3, latency=0.001, sctp=TUNED)
    for n in range(1, registrars + 1):
        net.add_host(f"pr{n}", [f"198.51.100.{n}", f"203.0.113.{n}"])
    net.add_host("pe", ["198.51.100.20", "203.0.113.20"])
    return net


async def test_two_registrars_share_registrations_and_removals(
    clock: trio.testing.MockClock,
) -> None:
    net = network(2)
    pr1_enrp = TransportAddress(ips("198.51.100.1", "203.0.113.1"), 9901)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            pr1: Registrar = await nursery.start(
                serve_registrar, net.hosts["pr1"], RegistrarConfig(server_id=0x101, **FAST)
            )
            pr1_events = pr1.events
            config2 = RegistrarConfig(server_id=0x102, static_peers=(pr1_enrp,), **FAST)
            pr2: Registrar = await nursery.start(serve_registrar, net.hosts["pr2"], config2)
            pr2_events = pr2.events
            await next_event(pr1_events, PeerAdded, server_id=0x102)
            await next_event(pr2_events, StartupCompleted, mentor_id=0x101)
            assert [p.server_id for p in pr1.core.peers()] == [0x102]
            assert [p.server_id for p in pr2.core.peers()] == [0x101]
            assert pr2.core.startup_state is StartupState.IN_SERVICE

            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            await pe.send(registration(0x2001, ["198.51.100.20"]))
            await pe.expect(RegistrationResponse)
            await next_event(pr2_events, PoolElementLearned, pe_id=0x2001, home_registrar_id=0x101)
            learned = pr2.core.handlespace.find(POOL, 0x2001)
            assert learned is not None and learned.home_registrar_id == 0x101

            await pe.endpoint.abort(pe.assoc_id)  # the PE dies: DEL_PE reaches PR2
            removed = await next_event(pr2_events, PoolElementRemoved, pe_id=0x2001)
            assert removed.reason is RemovalReason.HANDLE_UPDATE
            assert pr2.core.handlespace.find(POOL, 0x2001) is None
            for registrar in (pr1, pr2):
                assert registrar.statistics.internal_errors == 0
            nursery.cancel_scope.cancel()


async def test_three_registrars_take_over_a_crashed_one(clock: trio.testing.MockClock) -> None:
    """Found by multicast Presence alone; PR1 crashes; PR2 (the lower id of the survivors)
    takes over its PE, which gets an Endpoint Keep Alive with the H flag from PR2."""
    net = network(3)
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            pr1_scope = trio.CancelScope()

            async def run_pr1(task_status: TaskStatus[Registrar]) -> None:
                with pr1_scope:
                    config = RegistrarConfig(server_id=0x101, **FAST)
                    await serve_registrar(net.hosts["pr1"], config, task_status=task_status)

            pr1: Registrar = await nursery.start(run_pr1)
            streams = {0x101: pr1.events}
            pr2: Registrar = await nursery.start(
                serve_registrar, net.hosts["pr2"], RegistrarConfig(server_id=0x102, **FAST)
            )
            streams[0x102] = pr2.events
            pr3: Registrar = await nursery.start(
                serve_registrar, net.hosts["pr3"], RegistrarConfig(server_id=0x103, **FAST)
            )
            streams[0x103] = pr3.events
            everyone = {0x101, 0x102, 0x103}
            for registrar in (pr1, pr2, pr3):
                others = everyone - {registrar.server_id}
                added: set[int] = set()
                while added != others:  # in whatever order they are heard
                    added.add((await next_event(streams[registrar.server_id], PeerAdded)).server_id)
                assert {p.server_id for p in registrar.core.peers()} == others

            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            await pe.send(registration(0x2001, ["198.51.100.20", "203.0.113.20"]))
            await pe.expect(RegistrationResponse)
            for registrar in (pr2, pr3):
                await next_event(streams[registrar.server_id], PoolElementLearned, pe_id=0x2001)
            before = len(await pe.expect(EndpointKeepAlive, 0))  # PR1's
            crashed_at = trio.current_time()
            net.hosts["pr1"].crash()
            pr1_scope.cancel()

            for registrar in (pr2, pr3):  # each sees PR2 complete the takeover
                events = streams[registrar.server_id]
                await next_event(events, TakeoverCompleted, target_id=0x101, new_home_id=0x102)
                moved = registrar.core.handlespace.find(POOL, 0x2001)
                assert moved is not None and moved.home_registrar_id == 0x102
                assert 0x101 not in {p.server_id for p in registrar.core.peers()}
            # heard last <= 2.7 s before, 5 s last heard + 5 s no response, acks at once
            assert trio.current_time() - crashed_at <= 13
            *_, takeover = await pe.expect(EndpointKeepAlive, before + 1)
            assert isinstance(takeover, EndpointKeepAlive) and takeover.home
            assert takeover.server_id == 0x102
            # the PE answered on the new association: PR2 keeps supervising it there (an Ack
            # is no event: this one is polled)
            await wait_until(lambda: pr2.core.pe_association(POOL, 0x2001) is not None)
            await trio.sleep(12)
            assert pr2.core.handlespace.find(POOL, 0x2001) is not None
            assert pr2.statistics.events["TakeoverCompleted"] == 1
            nursery.cancel_scope.cancel()


async def test_hsdump_lists_peers_and_handlespace(clock: trio.testing.MockClock) -> None:
    net = network(2)
    pr1_enrp = TransportAddress(ips("198.51.100.1"), 9901)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            pr1: Registrar = await nursery.start(
                serve_registrar, net.hosts["pr1"], RegistrarConfig(server_id=0x101, **FAST)
            )
            config2 = RegistrarConfig(server_id=0x102, static_peers=(pr1_enrp,), **FAST)
            pr2: Registrar = await nursery.start(serve_registrar, net.hosts["pr2"], config2)
            pr2_events = pr2.events
            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            for pe_id in range(0x2001, 0x2001 + 40):  # several pages of 1400 bytes
                await pe.send(registration(pe_id, ["198.51.100.20"], port=7000 + pe_id))
            await pe.expect(RegistrationResponse, 40)
            for pe_id in range(0x2001, 0x2001 + 40):  # by Handle Update, in order
                await next_event(pr2_events, PoolElementLearned, pe_id=pe_id)
            assert pr2.core.handlespace.owned_count(0x101) == 40

            dump = await dump_handlespace(net.hosts["pe"], [("198.51.100.2", 9901)],
                                          rng=random.Random(5))  # fmt: skip
            assert dump.registrar_id == 0x102
            assert dump.table_complete and not dump.table_rejected
            assert dump.responses > 1  # More-to-send was followed
            assert sorted(dump.pools[POOL]) == list(range(0x2001, 0x2001 + 40))
            # hsdump's own Presence made it a peer for the moment, as with RSPLIB
            assert dump.peers is not None
            assert sorted(p.server_id for p in dump.peers) == sorted([0x101, dump.sender_id])
            assert dump.ownership_checksums()[0x101] == (
                pr1.core.handlespace.ownership_checksum(0x101),
                40,
            )
            text = render_dump(dump, "198.51.100.2:9901")
            assert "Registrar $00000102" in text
            assert "PE $00002001  home $00000101" in text
            assert "registrar $00000101" in text
            assert "(this hsdump)" in text
            nursery.cancel_scope.cancel()
