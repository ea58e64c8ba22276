"""``open_pool_user`` on the in-memory network in virtual time, with ``serve_registrar`` and
pool elements from ``open_pool_element``.

Resolution and cache expiry, Endpoint Unreachable, sessions that fail over with Cookie Echo
(a PE crashes, or leaves) with no PingPong message lost or duplicated, a multi-homed PE that
loses a path, and bad input from a PE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio
import trio.testing

from rserpool.apps.pingpong import run_pingpong
from rserpool.apps.service_handlers import service_handler
from rserpool.drivers.pool_element import (
    PoolElementNode,
    PoolElementSession,
    open_pool_element,
)
from rserpool.drivers.pool_user import ResolutionError, open_pool_user
from rserpool.drivers.registrar import Registrar, serve_registrar
from rserpool.proto.client.pool_user import PoolUserConfig
from rserpool.proto.client.session import (
    CookieReceived,
    DataReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionSend,
)
from rserpool.proto.registrar import RegistrarConfig
from rserpool.transport import TUNED, MemoryNetwork
from rserpool.wire import Cause
from tests.drivers.helpers import wait_until

PR = "198.51.100.1:3863"


def network(pes: int = 3) -> MemoryNetwork:
    net = MemoryNetwork(seed=5, latency=0.001, sctp=TUNED)
    net.add_host("pr", ["198.51.100.1"])
    for n in range(1, pes + 1):
        net.add_host(f"pe{n}", [f"198.51.100.{10 + n}", f"203.0.113.{10 + n}"])
    net.add_host("pu", ["198.51.100.30", "203.0.113.30"])
    return net


async def registrar(nursery: trio.Nursery, net: MemoryNetwork) -> Registrar:
    config = RegistrarConfig(server_id=0x101, mentor_discovery_timeout=1000)
    started: Registrar = await nursery.start(serve_registrar, net.hosts["pr"], config)
    return started


@asynccontextmanager
async def pool_elements(
    net: MemoryNetwork, pool: str, service: str, count: int = 3
) -> AsyncIterator[list[PoolElementNode]]:
    async with AsyncExitStack() as stack:
        pes = [
            await stack.enter_async_context(
                open_pool_element(
                    net.hosts[f"pe{n}"],
                    pool,
                    registrars=[PR],
                    announces=False,
                    pe_id=0x2000 + n,
                    handler=service_handler(service),
                )
            )
            for n in range(1, count + 1)
        ]
        for pe in pes:
            await pe.wait_registered()
        yield pes


async def test_resolution_and_cache_expiry(clock: trio.testing.MockClock) -> None:
    net = network()
    config = PoolUserConfig(stale_cache_value=2000)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            pr = await registrar(nursery, net)
            async with (
                pool_elements(net, "EchoPool", "echo"),
                open_pool_user(
                    net.hosts["pu"], registrars=[PR], announces=False, config=config
                ) as pu,
            ):
                found = await pu.resolve("EchoPool", items=3)
                assert {pe.pe_id for pe in found} == {0x2001, 0x2002, 0x2003}
                resolutions = pr.statistics.received["ASAP"]
                assert {pe.pe_id for pe in pu.cached("EchoPool")} == {0x2001, 0x2002, 0x2003}
                again = await pu.resolve("EchoPool", items=1)  # from the cache: no request
                assert len(again) == 1 and pr.statistics.received["ASAP"] == resolutions
                await trio.sleep(2.5)  # stale after 2 s
                assert pu.cached("EchoPool") == []
                await pu.resolve("EchoPool", items=2)
                assert pr.statistics.received["ASAP"] == resolutions + 1
                with pytest.raises(ResolutionError) as failed:
                    await pu.resolve("NoSuchPool")
                assert failed.value.cause == Cause.UNKNOWN_POOL_HANDLE
            nursery.cancel_scope.cancel()


async def test_endpoint_unreachable_reports_keep_a_live_pe(clock: trio.testing.MockClock) -> None:
    """Reports past MaxBadPEReports (3) make the registrar check the PE with an Endpoint Keep
    Alive (RFC 5352 §3.5); the PE answers and stays. The PU drops it from its cache."""
    net = network()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            pr = await registrar(nursery, net)
            async with (
                pool_elements(net, "EchoPool", "echo"),
                open_pool_user(net.hosts["pu"], registrars=[PR], announces=False) as pu,
            ):
                await pu.resolve("EchoPool", items=3)
                for _ in range(4):
                    await pu.report_unreachable("EchoPool", 0x2002)
                assert all(pe.pe_id != 0x2002 for pe in pu.cached("EchoPool"))
                pe = pr.core.handlespace.find(b"EchoPool", 0x2002)
                await wait_until(lambda: pe is not None and pe.unreachable_reports == 0)
                await trio.sleep(12)  # past the keep-alive timeout
                assert pr.core.handlespace.find(b"EchoPool", 0x2002) is pe
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("how", ["crash", "leave"])
async def test_pingpong_fails_over_with_cookie_echo(
    clock: trio.testing.MockClock, how: str
) -> None:
    """The PE serving the session crashes (silently: found by SCTP timeouts) or leaves
    (deregisters, SHUTDOWN): the session fails over to another PE with Cookie Echo, and the
    PingPong sequence check holds: every Ping answered once, ReplyNo without a gap."""
    net = network()
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            await registrar(nursery, net)
            async with (
                pool_elements(net, "PingPongPool", "pingpong") as pes,
                open_pool_user(net.hosts["pu"], registrars=[PR], announces=False) as pu,
                pu.session("PingPongPool") as session,
            ):
                lines: list[str] = []

                async def kill_serving_pe() -> None:
                    await trio.sleep(2.05)
                    victim = session.pe_id
                    assert victim is not None
                    n = victim - 0x2000
                    if how == "crash":
                        net.hosts[f"pe{n}"].crash()
                    else:
                        await pes[n - 1].stop_pe(5)

                nursery.start_soon(kill_serving_pe)
                run = await run_pingpong(session, 40, 0.1, size=100, say=lines.append)
                client = run.client
                assert client.clean, (client, lines)
                assert not client.outstanding
                assert client.answered == set(range(1, 41))
                assert client.last_reply_no == 40
                assert run.failovers == 1 and session.failovers == 1
                assert any("with Cookie Echo" in line for line in lines)
            nursery.cancel_scope.cancel()


async def test_echo_session_notices_and_order(clock: trio.testing.MockClock) -> None:
    """Notices come in order: SessionConnected, data; after a crash FailoverNecessary, then
    FailoverComplete, and data sent meanwhile is delivered to the new PE."""
    net = network()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            await registrar(nursery, net)
            async with (
                pool_elements(net, "EchoPool", "echo"),
                open_pool_user(net.hosts["pu"], registrars=[PR], announces=False) as pu,
                pu.session("EchoPool") as session,
            ):
                await session.send(b"one")
                assert (await session.receive_data()).data == b"one"
                first = session.pe_id
                assert first is not None
                net.hosts[f"pe{first - 0x2000}"].crash()
                await session.send(b"two")  # to a dead PE: lost with it
                item = await session.receive()
                assert isinstance(item, FailoverNecessary) and item.pe_id == first
                epoch = await session.send(b"three")  # held or sent to the new PE
                item = await session.receive()
                assert isinstance(item, FailoverComplete) and item.pe_id != first
                assert not item.cookie_echoed  # Echo sends no cookies
                assert (await session.receive_data()).data == b"three"
                assert epoch in (None, 1)
            nursery.cancel_scope.cancel()


async def test_multihomed_pe_loses_a_path(clock: trio.testing.MockClock) -> None:
    """The primary path between PU and PE goes down mid-session: SCTP moves to the other
    path; the session survives without a failover and nothing is lost."""
    net = network(1)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            await registrar(nursery, net)
            async with (
                pool_elements(net, "PingPongPool", "pingpong", 1),
                open_pool_user(net.hosts["pu"], registrars=[PR], announces=False) as pu,
                pu.session("PingPongPool") as session,
            ):

                async def cut() -> None:
                    await trio.sleep(1.0)
                    net.set_path_down("198.51.100.30", "198.51.100.11")

                nursery.start_soon(cut)
                run = await run_pingpong(session, 30, 0.1)
                assert run.client.clean and not run.client.outstanding
                assert run.failovers == 0
            nursery.cancel_scope.cancel()


async def test_bad_input_from_a_pool_element(clock: trio.testing.MockClock) -> None:
    """A PE that sends garbage ASAP control on the session: the PU ignores it, keeps the
    session, and takes the next cookie."""
    net = network(1)

    async def bad_echo(session: PoolElementSession) -> None:
        async for item in session:
            if isinstance(item, DataReceived):
                conn = session.node.connections[session.id]
                conn.outbox.put(SessionSend(session.id, 11, b"\x0b\x00\x00\x09bad"))
                conn.outbox.put(SessionSend(session.id, 11, b""))
                await session.send_cookie(b"cookie-1")
                await session.send(item.data, item.ppid)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await registrar(nursery, net)
            async with (
                open_pool_element(
                    net.hosts["pe1"], "EchoPool", registrars=[PR], handler=bad_echo
                ) as pe,
                open_pool_user(net.hosts["pu"], registrars=[PR]) as pu,
            ):
                await pe.wait_registered()
                async with pu.session("EchoPool") as session:
                    await session.send(b"hello")
                    items: list[object] = []
                    while not items or not isinstance(items[-1], DataReceived):
                        items.append(await session.receive())
                    assert [type(i) for i in items][-2:] == [CookieReceived, DataReceived]
                    assert session.cookie == b"cookie-1"
                    assert pu.internal_errors == 0
            nursery.cancel_scope.cancel()


async def test_no_pool_element_then_one_appears(clock: trio.testing.MockClock) -> None:
    """A session to an empty pool waits (retrying every 250 ms, as RSPLIB) and connects once
    a PE registers; a resolution without any registrar is cancelled cleanly."""
    net = network(1)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await registrar(nursery, net)
            async with (
                open_pool_user(net.hosts["pu"], registrars=[PR]) as pu,
                pu.session("EchoPool") as session,
            ):
                await trio.sleep(3)
                assert session.pe_id is None
                async with pool_elements(net, "EchoPool", "echo", 1):
                    await session.send(b"late")
                    assert (await session.receive_data()).data == b"late"
            async with open_pool_user(
                net.hosts["pu"], registrars=["192.0.2.99:3863"], announces=False
            ) as pu:
                with trio.move_on_after(5) as scope:
                    await pu.resolve("EchoPool")
                assert scope.cancelled_caught
            nursery.cancel_scope.cancel()
