"""The monitor's Trio driver on a real UDP socket, in virtual time: reports become events,
silence becomes a purge at the table's deadline, garbage is counted."""

from __future__ import annotations

import ipaddress
import socket

import trio
import trio.testing

from rserpool.monitor.model import ComponentTable
from rserpool.monitor.receiver import MonitorEvent, open_csp_socket, receive_reports, source_of
from rserpool.wire.csp import ComponentStatusReport, component_id, encode_report

PE = component_id(2, 0x2001)
LOOPBACK = ipaddress.ip_address("127.0.0.1")


def datagram(final: bool = False) -> bytes:
    return encode_report(ComponentStatusReport(PE, 0, 250_000, status="EchoPool", final=final))


async def test_reports_purge_and_garbage(autojump_clock: trio.testing.MockClock) -> None:
    sock = await open_csp_socket(LOOPBACK, 0)
    port = sock.getsockname()[1]
    table = ComponentTable()
    events: list[tuple[str, float]] = []
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def sink(event: MonitorEvent) -> None:
        events.append((event.kind, event.now))

    async def send(data: bytes) -> None:
        sender.sendto(data, ("127.0.0.1", port))  # on loopback: queued before sendto returns
        await trio.testing.wait_all_tasks_blocked()

    with sock, sender:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_reports, sock, table, sink)
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
            await send(datagram())
            await send(b"not a report")
            assert [kind for kind, _ in events] == ["added", "undecodable"]
            assert table.undecodable == 1 and PE in table.components
            await trio.sleep(2.4)
            assert PE in table.components  # 10 x 250 ms have not passed yet
            await trio.sleep(0.2)
            assert events[-1] == ("purged", start + 2.5) and table.components == {}
            await send(datagram())
            await send(datagram(final=True))
            assert [kind for kind, _ in events[-2:]] == ["added", "removed"]
            assert table.components == {} and table.next_deadline() is None
            nursery.cancel_scope.cancel()


async def test_ipv6_wildcard_receives_ipv4() -> None:
    """``::`` is both families: an IPv4 sender is shown by its IPv4 address."""
    sock = await open_csp_socket(ipaddress.ip_address("::"), 0)
    port = sock.getsockname()[1]
    table = ComponentTable()
    with sock, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(datagram(), ("127.0.0.1", port))
        with trio.move_on_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    receive_reports, sock, table, lambda e: nursery.cancel_scope.cancel()
                )
    assert table.components[PE].source[0] == "127.0.0.1"
    assert source_of(("::ffff:198.51.100.1", 9, 0, 0)) == ("198.51.100.1", 9)
    assert source_of(("2001:db8::1", 9, 0, 0)) == ("2001:db8::1", 9)
