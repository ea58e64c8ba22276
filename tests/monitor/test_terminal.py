"""The terminal view rendered as plain text: cspmonitor's fields, --full associations, limits,
and a report's text shown literally (no markup, no escape codes)."""

from __future__ import annotations

import io

import trio
import trio.testing
from rich.console import Console

from rserpool.monitor.model import ComponentTable
from rserpool.monitor.receiver import MonitorEvent
from rserpool.monitor.terminal import (
    TerminalDisplay,
    View,
    duration_text,
    location_text,
    printable,
    protocol_text,
    render,
    uptime_text,
)
from rserpool.wire.csp import (
    ComponentAssociation,
    ComponentStatusReport,
    component_id,
    encode_report,
)

PR = component_id(1, 0x2A)
PE = component_id(2, 0x2001)
PU = component_id(3, 0xC0FFEE)
SOURCE = ("198.51.100.1", 2960)


COMPACT = View()


def text_of(table: ComponentTable, now: float, view: View = COMPACT) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(render(table, now, view, "header"))
    return out.getvalue()


def system() -> ComponentTable:
    table = ComponentTable()
    reports = [
        ComponentStatusReport(
            PR,
            3_723_000_000,
            1_000_000,
            location="pr1: 198.51.100.1",
            status="2[2] PEs in 1 Pool, 0 Peers",
            associations=(
                ComponentAssociation(PE, 65_000_000, ppid=11),
                ComponentAssociation(component_id(1, 0x2B), None, ppid=12),
            ),
        ),
        ComponentStatusReport(
            PE,
            5_000_000,
            1_000_000,
            location="pe1: 198.51.100.11",
            status="EchoPool",
            workload=0.5,
            associations=(ComponentAssociation(PU, 2_000_000, protocol_id=6, ppid=0),),
        ),
        ComponentStatusReport(PU, 1_000_000, 1_000_000, location="pu1", status="[bold]hi\x1b[2J"),
    ]
    for r in reports:
        table.receive(encode_report(r), SOURCE, now=10.0)
    return table


def test_compact_lists_each_role() -> None:
    text = text_of(system(), now=10.3)
    lines = text.splitlines()
    assert lines[0] == "header"
    titles = [line.strip() for line in lines if line.startswith(("Registrars", "Pool "))]
    assert titles == ["Registrars (1)", "Pool Elements (1)", "Pool Users (1)"]
    pr = next(line for line in lines if line.startswith("PR $0000002a")).split()
    assert pr[:5] == ["PR", "$0000002a", "pr1:", "198.51.100.1", "01:02:03"]
    assert "0.3s" in pr and "2" in pr and "2[2] PEs in 1 Pool, 0 Peers" in " ".join(pr)
    pe = next(line for line in lines if line.startswith("PE $00002001"))
    assert "50%" in pe and "EchoPool" in pe and "00:00:05" in pe
    pu = next(line for line in lines if line.startswith("PU $00000000c0ffee"))
    assert "[bold]hi\\x1b[2J" in pu  # as sent: no markup taken, the escape made visible
    assert "->" not in text  # compact: no associations
    assert lines[-1] == "1 registrar, 1 pool element, 1 pool user; 0 undecodable datagrams"
    assert "\x1b" not in text


def test_full_lists_associations_under_their_component() -> None:
    lines = text_of(system(), now=10.3, view=View(full=True)).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("PR $0000002a"))
    assert lines[at + 1].split() == ["->", "PE", "$00002001", "ASAP/SCTP", "0:01:05"]
    assert lines[at + 2].split() == ["->", "PR", "$0000002b", "ENRP/SCTP"]
    at = next(i for i, line in enumerate(lines) if line.startswith("PE $00002001"))
    assert lines[at + 1].split() == ["->", "PU", "$00000000c0ffee", "Data/TCP", "0:00:02"]


def test_limits_and_counts() -> None:
    table = ComponentTable()
    for n in range(5):
        report = ComponentStatusReport(component_id(2, n), 0, 1_000_000, location="x" * 100)
        table.receive(encode_report(report), SOURCE, now=0.0)
    table.receive(b"junk", ("192.0.2.9", 7), now=0.0)
    text = text_of(table, now=0.0, view=View(max_pe=2, max_location_size=10))
    assert text.count("PE $") == 2 and "(3 further PEs hidden)" in text
    assert "xxxxxxx... " in text and "x" * 11 not in text
    assert "0 pool users; 1 undecodable datagram (last: 192.0.2.9:7: CSP datagram" in text


def test_empty_table() -> None:
    text = text_of(ComponentTable(), now=0.0)
    assert "no component has reported yet" in text
    assert "0 registrars, 0 pool elements, 0 pool users" in text


def test_field_formats() -> None:
    assert uptime_text(3723.9) == "01:02:03"
    assert uptime_text(100 * 3600 + 5) == "  4d 04h"
    assert uptime_text(15000 * 24 * 3600) == "??:??:??"
    assert duration_text(None) == "" and duration_text(3_723_000_000) == "1:02:03"
    assert protocol_text(132, 11) == "ASAP/SCTP" and protocol_text(132, 12) == "ENRP/SCTP"
    assert protocol_text(17, 0) == "Data/UDP" and protocol_text(99, 0x2A) == "$0000002a/$0063"
    assert protocol_text(132, 33) == "PingPong/SCTP" and protocol_text(132, 32) == "FractGen/SCTP"
    assert location_text("abcdef", 6) == "abcdef" and location_text("abcdefg", 6) == "abc..."
    assert printable("a\x00b\u202ec\nd") == "a\\x00b\\u202ec\\x0ad"


async def test_live_redraws_at_once_on_change_and_every_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150, color_system="standard")
    table = ComponentTable()
    display = TerminalDisplay(table, COMPACT, "watching", update_interval=1.0, console=console)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(display.run)
        await trio.testing.wait_all_tasks_blocked()
        assert "no component has reported yet" in out.getvalue()
        start = trio.current_time()
        report = ComponentStatusReport(PE, 0, 1_000_000, status="EchoPool")
        change = table.receive(encode_report(report), SOURCE, now=start)
        assert change is not None
        display.sink(MonitorEvent(change.kind, change.component, start))
        await trio.testing.wait_all_tasks_blocked()
        assert trio.current_time() == start  # drawn at once, not at the next interval
        assert "PE $00002001" in out.getvalue() and "\x1b[" in out.getvalue()
        await trio.sleep(3.5)
        # "Heard" counts up: redrawn every second, from the change's redraw (0.1 s after it) on
        assert all(f"{n}.1s" in out.getvalue() for n in (1, 2, 3))
        nursery.cancel_scope.cancel()


async def test_snapshots_when_piped(autojump_clock: trio.testing.MockClock) -> None:
    out = io.StringIO()
    console = Console(file=out, width=150, color_system=None)
    table = ComponentTable()
    table.receive(encode_report(ComponentStatusReport(PE, 0, 10_000_000)), SOURCE, now=0.0)
    display = TerminalDisplay(table, COMPACT, "watching", update_interval=1.0, console=console)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(display.run)
        await trio.sleep(2.5)
        nursery.cancel_scope.cancel()
    text = out.getvalue()
    assert text.startswith("watching\n") and text.count("watching") == 1
    assert text.count("Component status at") == 3  # at 0, 1 and 2 s
    assert text.count("PE $00002001") == 3 and "\x1b" not in text
