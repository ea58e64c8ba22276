"""rserpool.drivers.csp: what the registrar, a PE and a PU report (on the in-memory network in
virtual time), and the reports on a real UDP socket: at once, every interval, FINAL only after
a clean end, and a monitor that cannot be reached troubles nobody."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from rserpool.apps.pingpong import run_pingpong
from rserpool.apps.service_handlers import service_handler
from rserpool.drivers.csp import (
    now_us,
    pool_element_fields,
    pool_user_fields,
    registrar_fields,
    reporting,
)
from rserpool.drivers.pool_element import open_pool_element
from rserpool.drivers.pool_user import open_pool_user
from rserpool.proto.csp import ReportFields, StatusReporter
from rserpool.wire import PolicyType, PoolMemberSelectionPolicy
from rserpool.wire.csp import component_id, decode_report_untrusted
from tests.drivers.test_pool_user import PR, network, pool_elements, registrar

REGISTRAR = component_id(1, 0x101)


async def test_what_each_role_reports(clock: trio.testing.MockClock) -> None:
    """Registrar, two PingPong PEs and a PU; the PE serving the PU crashes: the PU's
    association follows its session to the other PE."""
    net = network(pes=2)
    with trio.fail_after(200):
        async with trio.open_nursery() as nursery:
            pr = await registrar(nursery, net)
            pr_fields = registrar_fields(pr, "vm")
            async with (
                pool_elements(net, "PingPongPool", "pingpong", count=2) as pes,
                open_pool_user(net.hosts["pu"], registrars=[PR], announces=False) as pu,
            ):
                report = pr_fields(now_us())
                assert report.status == "2[2] PEs in 1 Pool, 0 Peers"
                assert report.location == "vm: 198.51.100.1:3863"
                assert (report.workload, report.associations) == (None, ())
                pe_fields = {pe.pe_id: pool_element_fields(pe, "vm") for pe in pes}
                first = pe_fields[0x2001](now_us())
                assert first.status == "0 Sessions" and first.workload is None
                port = pes[0].user_transport.port
                assert first.location == f"vm: 198.51.100.11:{port}, 203.0.113.11"
                (home,) = first.associations
                assert (home.ppid, home.protocol_id, home.duration_us) == (11, 132, 0)
                assert home.receiver_id in (REGISTRAR, component_id(1, 0))  # id learnt later
                await trio.sleep(6)  # an Endpoint Keep Alive tells the PE its registrar's id
                (home,) = pe_fields[0x2001](now_us()).associations
                assert home.receiver_id == REGISTRAR and home.duration_us == 6_000_000

                pu_fields = pool_user_fields(pu, "vm")
                idle = pu_fields(now_us())
                assert idle.status == "0 Sessions" and idle.associations == ()
                assert idle.location == "vm: 198.51.100.30, 203.0.113.30"  # no port: the host's
                async with pu.session("PingPongPool") as session:
                    await run_pingpong(session, 3, 0.1, say=lambda line: None)
                    serving = session.pe_id
                    assert serving is not None
                    connected = pu_fields(now_us())
                    assert connected.status == "1 Session"
                    home, to_pe = connected.associations
                    assert home.ppid == 11
                    assert to_pe.receiver_id == component_id(2, serving)
                    assert (to_pe.ppid, to_pe.protocol_id) == (33, 132)  # PingPong's PPID
                    assert connected.location.startswith("vm: 198.51.100.30:")
                    assert pe_fields[serving](now_us()).status == "1 Session"
                    net.hosts[f"pe{serving - 0x2000}"].crash()
                    await run_pingpong(session, 3, 0.1, say=lambda line: None)
                    other = session.pe_id
                    assert other is not None and other != serving
                    _, to_pe = pu_fields(now_us()).associations
                    assert to_pe.receiver_id == component_id(2, other)
                    assert to_pe.duration_us is not None and to_pe.duration_us < 5_000_000
            nursery.cancel_scope.cancel()


async def test_pool_element_looking_for_registrar(clock: trio.testing.MockClock) -> None:
    net = network(pes=1)
    policy = PoolMemberSelectionPolicy(PolicyType.LEAST_USED, load=0x40000000)
    async with open_pool_element(
        net.hosts["pe1"], "EchoPool", registrars=[PR], announces=False, pe_id=0x2001,
        handler=service_handler("echo"), policy=policy,
    ) as pe:  # fmt: skip
        fields = pool_element_fields(pe, "vm")
        await trio.sleep(1)  # nobody answers at 198.51.100.1
        report = fields(now_us())
        assert report.status == "Looking for Registrar ..."
        assert report.associations == ()
        assert report.workload == pytest.approx(0.25)  # LeastUsed: the load is the workload


# ------------------------------------------------------------------ on a real UDP socket


def simple(now: int) -> ReportFields:
    return ReportFields("1 Session", "vm")


async def test_reports_at_once_every_interval_and_final() -> None:
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as monitor:
        await monitor.bind(("127.0.0.1", 0))
        address = monitor.getsockname()
        reporter = StatusReporter(component_id(3, 0xABC), 250_000, simple)
        got = []
        with trio.fail_after(10):
            async with reporting(reporter, address):
                for _ in range(3):
                    got.append(decode_report_untrusted(await monitor.recv(65536)))
            got.append(decode_report_untrusted(await monitor.recv(65536)))
        assert [r.final for r in got] == [False, False, False, True]
        stamps = [r.sender_timestamp_us for r in got[:3]]
        assert stamps[0] == 0 and 240_000 <= stamps[1] - stamps[0] <= 1_000_000
        assert got[1].status == "1 Session" and got[3].status == ""


async def test_a_cancelled_block_sends_final_a_failed_one_does_not() -> None:
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as monitor:
        await monitor.bind(("127.0.0.1", 0))
        address = monitor.getsockname()
        with trio.move_on_after(0.1):  # as SIGTERM cancels a component
            async with reporting(StatusReporter(component_id(2, 1), 10**6, simple), address):
                await trio.sleep(10)
        first = decode_report_untrusted(await monitor.recv(65536))
        final = decode_report_untrusted(await monitor.recv(65536))
        assert not first.final and final.final
        with pytest.RaisesGroup(
            pytest.RaisesExc(RuntimeError, match="boom"), flatten_subgroups=True
        ):
            async with reporting(StatusReporter(component_id(2, 2), 10**6, simple), address):
                await trio.sleep(0.05)
                raise RuntimeError("boom")
        assert not decode_report_untrusted(await monitor.recv(65536)).final
        with trio.move_on_after(0.3) as nothing_more:
            await monitor.recv(65536)
        assert nothing_more.cancelled_caught  # no FINAL after a failure


async def test_an_unreachable_monitor_troubles_nobody() -> None:
    """Sending to the broadcast address without SO_BROADCAST fails (EACCES) at every report:
    dropped quietly, the block runs on and ends normally."""
    reporter = StatusReporter(component_id(1, 7), 250_000, simple)
    async with reporting(reporter, ("255.255.255.255", 2960)):
        await trio.sleep(0.6)
    assert reporter.reports >= 3  # made and sent off, the FINAL one included
    async with reporting(None, ("", 0)) as nothing:  # not asked to report
        assert nothing is None
