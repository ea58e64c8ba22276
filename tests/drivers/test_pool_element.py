"""``open_pool_element`` on the in-memory network in virtual time, against ``serve_registrar``.

Registration life cycle (register, re-register, Keep Alive, deregister), registrar loss and
re-homing (static list and Server Announces), a takeover (Keep Alive with the H bit), sessions
with the RSPLIB services, and bad input from a registrar and from a pool user.
"""

from __future__ import annotations

import functools
import math
from typing import TypedDict, TypeVar

import trio
import trio.testing
from trio_typing import TaskStatus

from rserpool.apps.service_handlers import service_handler
from rserpool.apps.services import PingPongClient
from rserpool.drivers.pool_element import open_pool_element
from rserpool.drivers.registrar import Registrar, serve_registrar
from rserpool.proto.client.hunt import (
    HomeChangeReason,
    HomeRegistrarChanged,
    HomeRegistrarLost,
    MessageIgnored,
    RegistrarHuntConfig,
)
from rserpool.proto.client.pool_element import Deregistered, KeepAliveAnswered, Registered
from rserpool.proto.client.session import CookieEchoReceived, DataReceived
from rserpool.proto.common import Event
from rserpool.proto.registrar import RegistrarConfig
from rserpool.transport import TUNED, CommUp, MemoryNetwork, SctpMessage
from rserpool.wire import (
    PPID,
    CookieEcho,
    PolicyType,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    decode_message_untrusted,
    encode_message,
)
from tests.drivers.helpers import ips, wait_until

POOL = b"EchoPool"
E = TypeVar("E", bound=Event)


class Fast(TypedDict):
    mentor_discovery_timeout: int


FAST: Fast = {"mentor_discovery_timeout": 1000}


def network(registrars: int = 1) -> MemoryNetwork:
    net = MemoryNetwork(seed=11, latency=0.001, sctp=TUNED)
    for n in range(1, registrars + 1):
        net.add_host(f"pr{n}", [f"198.51.100.{n}", f"203.0.113.{n}"])
    net.add_host("pe", ["198.51.100.20", "203.0.113.20"])
    net.add_host("pu", ["198.51.100.30"])
    return net


async def start_registrar(nursery: trio.Nursery, net: MemoryNetwork, n: int) -> Registrar:
    config = RegistrarConfig(server_id=0x100 + n, **FAST)
    registrar: Registrar = await nursery.start(serve_registrar, net.hosts[f"pr{n}"], config)
    return registrar


def has_peers(registrar: Registrar, server_ids: set[int]) -> bool:
    return {p.server_id for p in registrar.core.peers()} == server_ids


class Recorder:
    """Everything a PE or PU reported on its event channel."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def run(self, channel: trio.MemoryReceiveChannel[Event]) -> None:
        async for event in channel:
            self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


async def test_registration_life_cycle(clock: trio.testing.MockClock) -> None:
    """Register (with the policy and user transport), re-register every interval, answer the
    registrar's Keep Alives, and deregister when the block ends."""
    net = network()
    policy = PoolMemberSelectionPolicy(PolicyType.WEIGHTED_ROUND_ROBIN, weight=5)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            pr = await start_registrar(nursery, net, 1)
            recorder = Recorder()
            async with open_pool_element(
                net.hosts["pe"],
                "EchoPool",
                registrars=["198.51.100.1:3863,203.0.113.1"],
                announces=False,
                policy=policy,
                pe_id=0x2001,
                port=7000,
                reregistration_interval=6000,
            ) as pe:
                nursery.start_soon(recorder.run, pe.events)
                await pe.wait_registered()
                assert pe.pe_id == 0x2001
                entry = pr.core.handlespace.find(POOL, 0x2001)
                assert entry is not None and isinstance(entry.user_transport, SctpTransport)
                assert entry.user_transport.port == 7000
                assert set(entry.user_transport.addresses) == set(
                    ips("198.51.100.20", "203.0.113.20")
                )
                assert entry.registration_life == 18_000  # 3 x the interval, as RSPLIB
                assert entry.policy == policy
                await trio.sleep(
                    13
                )  # Keep Alives at 5 s and 11 s, re-registrations at 6 s and 12 s
                kinds = [e.reregistration for e in recorder.of(Registered)]
                assert kinds[0] is False and kinds.count(True) >= 2
                assert len(recorder.of(KeepAliveAnswered)) >= 2
                assert pr.core.handlespace.find(POOL, 0x2001) is not None
            (gone,) = recorder.of(Deregistered)
            assert isinstance(gone, Deregistered) and gone.confirmed
            assert pr.core.handlespace.find(POOL, 0x2001) is None
            assert pe.internal_errors == 0 and pr.statistics.internal_errors == 0
            nursery.cancel_scope.cancel()


async def test_rehoming_after_the_registrar_fails(clock: trio.testing.MockClock) -> None:
    """The home registrar crashes: the PE notices the lost association, hunts through its
    static list, and registers at the other registrar."""
    net = network(2)
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()

            async def run_pr1(task_status: TaskStatus[Registrar]) -> None:
                with scope:
                    config = RegistrarConfig(server_id=0x101, **FAST)
                    await serve_registrar(net.hosts["pr1"], config, task_status=task_status)

            pr1: Registrar = await nursery.start(run_pr1)
            pr2 = await start_registrar(nursery, net, 2)
            recorder = Recorder()
            async with open_pool_element(
                net.hosts["pe"],
                POOL,
                registrars=["198.51.100.1:3863", "198.51.100.2:3863"],
                announces=False,
                pe_id=0x2001,
            ) as pe:
                nursery.start_soon(recorder.run, pe.events)
                await pe.wait_registered()
                assert pe.home is not None and pe.home.address is not None
                first = pe.home.address.addresses[0]
                home_pr, other = (pr1, pr2) if first in ips("198.51.100.1") else (pr2, pr1)
                assert home_pr.core.handlespace.find(POOL, 0x2001) is not None
                net.hosts["pr1" if home_pr is pr1 else "pr2"].crash()
                if home_pr is pr1:
                    scope.cancel()
                await pe.wait_unregistered()
                await pe.wait_registered()
                assert other.core.handlespace.find(POOL, 0x2001) is not None
                assert recorder.of(HomeRegistrarLost)
            nursery.cancel_scope.cancel()


async def test_registrar_found_through_server_announces(clock: trio.testing.MockClock) -> None:
    """No static registrar: the PE learns one from its Server Announces (239.0.0.50:3863)."""
    net = network()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            pr = await start_registrar(nursery, net, 1)
            async with open_pool_element(net.hosts["pe"], POOL, pe_id=0x2002) as pe:
                await pe.wait_registered()
                assert pr.core.handlespace.find(POOL, 0x2002) is not None
                assert pe.home is not None and pe.home.server_id == 0x101
            nursery.cancel_scope.cancel()


async def test_takeover_moves_the_home(clock: trio.testing.MockClock) -> None:
    """PR1 becomes unreachable for its peers (not for the PE); PR2 takes over and sends an
    Endpoint Keep Alive with the H bit on a new association; the PE adopts PR2 as home."""
    net = network(3)
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            prs = [await start_registrar(nursery, net, n) for n in (1, 2, 3)]
            everyone = {0x101, 0x102, 0x103}
            for r in prs:
                others = everyone - {r.server_id}
                await wait_until(functools.partial(has_peers, r, others))
            recorder = Recorder()
            async with open_pool_element(
                net.hosts["pe"], POOL, registrars=["198.51.100.1:3863"], pe_id=0x2003
            ) as pe:
                nursery.start_soon(recorder.run, pe.events)
                await pe.wait_registered()
                for r in prs[1:]:
                    await wait_until(functools.partial(r.core.handlespace.find, POOL, 0x2003))
                for a in ("198.51.100.1", "203.0.113.1"):  # PR1 is cut off from its peers
                    for n in (2, 3):
                        for b in (f"198.51.100.{n}", f"203.0.113.{n}"):
                            net.set_path_down(a, b)
                net.set_address_down("203.0.113.1")
                await wait_until(
                    lambda: any(
                        isinstance(e, HomeRegistrarChanged)
                        and e.reason is HomeChangeReason.TAKEOVER
                        for e in recorder.events
                    )
                )
                assert pe.home is not None and pe.home.server_id == 0x102
                entry = prs[1].core.handlespace.find(POOL, 0x2003)
                assert entry is not None and entry.home_registrar_id == 0x102
                await trio.sleep(12)  # the new home keeps getting Keep Alive Acks
                assert prs[1].core.handlespace.find(POOL, 0x2003) is not None
            nursery.cancel_scope.cancel()


async def test_sessions_with_services_and_cookie_echo(clock: trio.testing.MockClock) -> None:
    """Echo echoes with the PPID; PingPong sends a cookie after each Pong and restores its
    reply counter from a Cookie Echo (what a PU that failed over to it sends first)."""
    net = network()
    pu = net.hosts["pu"]
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await start_registrar(nursery, net, 1)
            async with open_pool_element(
                net.hosts["pe"],
                "PingPongPool",
                registrars=["198.51.100.1:3863"],
                handler=service_handler("pingpong"),
                announces=False,
            ) as pe:
                await pe.wait_registered()
                to = [(str(a), pe.user_transport.port) for a in pe.user_transport.addresses]
                assoc = await pu.sctp_connect(to)
                echo = CookieEcho(cookie=b"<PP-TD1>" + (41).to_bytes(8, "big"))
                await assoc.send(encode_message(echo), PPID.ASAP)
                client = PingPongClient(last_reply_no=40)
                await assoc.send(client.ping(b"abc"), 33)
                replies: list[object] = []
                while len(replies) < 2:
                    item = await assoc.receive()
                    if isinstance(item, SctpMessage):
                        if item.ppid == 33:
                            replies.append(client.received(item.ppid, item.data))
                        else:
                            replies.append(decode_message_untrusted(item.ppid, item.data))
                assert client.clean and client.last_reply_no == 41
                cookie = replies[1]
                assert getattr(cookie, "cookie", None) == b"<PP-TD1>" + (42).to_bytes(8, "big")
                await assoc.aclose()
            nursery.cancel_scope.cancel()


async def test_bad_input_from_a_pool_user(clock: trio.testing.MockClock) -> None:
    """Garbage ASAP control and an unexpected ASAP message on a session are ignored; the
    session and the PE carry on."""
    net = network()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await start_registrar(nursery, net, 1)
            seen: list[object] = []

            async def handler(session: object) -> None:
                from rserpool.drivers.pool_element import PoolElementSession

                assert isinstance(session, PoolElementSession)
                async for item in session:
                    seen.append(item)
                    if isinstance(item, DataReceived):
                        await session.send(item.data, item.ppid)

            recorder = Recorder()
            async with open_pool_element(
                net.hosts["pe"], POOL, registrars=["198.51.100.1:3863"], handler=handler
            ) as pe:
                nursery.start_soon(recorder.run, pe.events)
                await pe.wait_registered()
                to = [(str(a), pe.user_transport.port) for a in pe.user_transport.addresses]
                assoc = await net.hosts["pu"].sctp_connect(to)
                await assoc.send(b"\x0c\x00\x00\xff garbage", PPID.ASAP)
                registration = Registration(
                    pool_handle=POOL, pool_element=pe.config.pool_element(1)
                )
                await assoc.send(encode_message(registration), PPID.ASAP)
                await assoc.send(b"", PPID.ASAP)
                await assoc.send(encode_message(CookieEcho(cookie=b"x")), PPID.ASAP)
                await assoc.send(b"still here", 0)
                while True:
                    item = await assoc.receive()
                    if isinstance(item, SctpMessage):
                        assert item.data == b"still here"
                        break
                assert [type(i) for i in seen] == [CookieEchoReceived, DataReceived]
                assert len(recorder.of(MessageIgnored)) >= 2
                assert pe.registered and pe.internal_errors == 0
                await assoc.aclose()
            nursery.cancel_scope.cancel()


async def test_bad_input_from_a_registrar(clock: trio.testing.MockClock) -> None:
    """A "registrar" that answers with garbage and a wrong PPID: the PE aborts that
    association each time and hunts again (RSPLIB does the same); it never crashes."""
    net = network()
    pr_host = net.hosts["pr1"]
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            endpoint = await pr_host.sctp_endpoint(3863)
            associations: list[int] = []

            async def bad_registrar() -> None:
                while True:
                    item = await endpoint.receive()
                    if isinstance(item, CommUp):
                        associations.append(item.assoc_id)
                    elif isinstance(item, SctpMessage):
                        n = len(associations)
                        reply = [b"\x03\x00\x00\x05junk", b"\x00" * 3, b"\xff" * 64][n % 3]
                        ppid = 12 if n == 2 else PPID.ASAP
                        await endpoint.send(item.assoc_id, reply, ppid)

            nursery.start_soon(bad_registrar)
            recorder = Recorder()
            hunt_fast = RegistrarHuntConfig(server_hunt_timeout=500, server_hunt_max=1000)
            async with open_pool_element(
                net.hosts["pe"],
                POOL,
                registrars=["198.51.100.1:3863"],
                announces=False,
                hunt=hunt_fast,
            ) as pe:
                nursery.start_soon(recorder.run, pe.events)
                await wait_until(lambda: len(associations) >= 4)
                assert len(recorder.of(HomeRegistrarLost)) >= 3
                assert not pe.registered and pe.internal_errors == 0
            nursery.cancel_scope.cancel()


async def test_cancelled_block_still_deregisters(clock: trio.testing.MockClock) -> None:
    """Cancelling the caller's block does not cancel the leaving: the PE's own tasks stay up
    until the registrar has confirmed the Deregistration (clean cancellation)."""
    net = network()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            pr = await start_registrar(nursery, net, 1)
            recorder = Recorder()
            with trio.move_on_after(3) as scope:
                async with open_pool_element(
                    net.hosts["pe"], POOL, registrars=["198.51.100.1:3863"], pe_id=0x2009
                ) as pe:
                    nursery.start_soon(recorder.run, pe.events)
                    await pe.wait_registered()
                    # sleep_forever() is NoReturn, and trio-typing's CancelScope.__exit__ does
                    # not say that it swallows the Cancelled: mypy would skip what follows
                    await trio.sleep(math.inf)
            assert scope.cancelled_caught
            (gone,) = recorder.of(Deregistered)
            assert isinstance(gone, Deregistered) and gone.confirmed
            assert pr.core.handlespace.find(POOL, 0x2009) is None
            nursery.cancel_scope.cancel()
