"""The monitor's terminal view: a :class:`ComponentTable` drawn with rich.

:func:`render` turns the table into a rich renderable, the same information as RSPLIB's
``cspmonitor`` prints per component (``PR $0000002a [location] U=00:12:07 l=0.3s A=2 L= 50%
"status"``), as one table per role: registrars, pool elements, pool users, each sorted by
location and id. With ``full`` every association follows its component as a row of its own:
the peer, what runs on it (``ASAP/SCTP``, ``ENRP/SCTP``, ``Data/SCTP``) and for how long.

:class:`TerminalDisplay` keeps it on screen: on a terminal with :class:`rich.live.Live`, redrawn
every update interval (so that "last heard" counts up) and at once after a change; when
standard output is a pipe or a file, as plain text snapshots (no escape codes) every update
interval, one after the other, for scripts and logs.
"""

from __future__ import annotations

import os
import time
import unicodedata
from dataclasses import dataclass
from typing import NoReturn

import trio
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from rserpool.monitor.model import Component, ComponentTable, describe_id
from rserpool.monitor.receiver import MonitorEvent
from rserpool.wire.constants import PPID
from rserpool.wire.csp import ComponentAssociation, ComponentGroup
from rserpool.wire.csp import group_of as group_of_id

#: cspmonitor's (RSPLIB 3.4.4) names of PPIDs; others are shown as ``$0000002a``.
PPID_NAMES = {
    0: "Data",
    PPID.ASAP: "ASAP",
    PPID.ENRP: "ENRP",
    PPID.FRACTAL_GENERATOR: "FractGen",
    PPID.PINGPONG: "PingPong",
    PPID.CALCAPP: "CalcApp",
    PPID.SCRIPTING: "Scripting",
}
PROTOCOL_NAMES = {132: "SCTP", 6: "TCP", 17: "UDP"}  # IANA protocol numbers
HIGH_LOAD = 0.90  # cspmonitor shows a load from 90 % on in reverse video
MIN_REDRAW = 0.1  # seconds between two redraws caused by changes (a burst of reports)
PLAIN_WIDTH = 160  # columns of a snapshot written to a pipe (COLUMNS overrides)


@dataclass(frozen=True, slots=True)
class View:
    """What to show: cspmonitor's ``-full``, ``-maxpr/-maxpe/-maxpu`` (its defaults) and
    ``-maxlocationsize``."""

    full: bool = False
    max_pr: int = 6
    max_pe: int = 42
    max_pu: int = 24
    max_location_size: int = 72


@dataclass(frozen=True, slots=True)
class _Role:
    group: int
    title: str
    short: str
    colour: str


_ROLES = (
    _Role(ComponentGroup.REGISTRAR, "Registrars", "PRs", "red"),
    _Role(ComponentGroup.POOL_ELEMENT, "Pool Elements", "PEs", "blue"),
    _Role(ComponentGroup.POOL_USER, "Pool Users", "PUs", "green"),
)
_OTHER = _Role(0, "Other components", "components", "magenta")


def uptime_text(seconds: float) -> str:
    """cspmonitor's uptime: ``hh:mm:ss`` below 100 hours, then ``ddd hhh``."""
    total = max(int(seconds), 0)
    hours = total // 3600
    if hours < 100:
        return f"{hours:02d}:{total // 60 % 60:02d}:{total % 60:02d}"
    if hours // 24 < 15000:
        return f"{hours // 24:3d}d {hours % 24:02d}h"
    return "??:??:??"


def duration_text(duration_us: int | None) -> str:
    """An association's age as cspmonitor prints it (``1:02:03``); empty when unknown."""
    if duration_us is None:
        return ""
    total = duration_us // 1_000_000
    return f"{total // 3600}:{total // 60 % 60:02d}:{total % 60:02d}"


def protocol_text(protocol_id: int, ppid: int) -> str:
    """``ASAP/SCTP``, ``ENRP/SCTP``, ``Data/TCP``, ``$0000002a/SCTP``: PPID, then transport."""
    payload = PPID_NAMES.get(ppid, f"${ppid:08x}")
    transport = PROTOCOL_NAMES.get(protocol_id, f"${protocol_id:04x}")
    return f"{payload}/{transport}"


def printable(text: str) -> str:
    """``text`` with every control and format character written as an escape (``\\x1b``):
    a report's text must not move the cursor or recolour the terminal."""
    return "".join(
        ch if not unicodedata.category(ch).startswith("C") else _escape(ch) for ch in text
    )


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def location_text(location: str, size: int) -> str:
    """``location`` cut to ``size`` characters, ending in ``...`` when cut."""
    location = printable(location)
    if len(location) <= size:
        return location
    return location[: size - 3] + "..." if size >= 3 else location[:size]


def load_text(workload: float | None) -> Text:
    """``50%``; from 90 % on in reverse video; empty when the component does not know."""
    if workload is None:
        return Text("")
    return Text(f"{round(100 * workload)}%", style="reverse" if workload >= HIGH_LOAD else "")


def _role_of(component: Component) -> _Role:
    return next((r for r in _ROLES if r.group == group_of_id(component.cid)), _OTHER)


def _limit(role: _Role, view: View) -> int | None:
    return {1: view.max_pr, 2: view.max_pe, 3: view.max_pu}.get(role.group)


def _table(role: _Role, components: list[Component], now: float, view: View) -> Table:
    limit = _limit(role, view)
    shown = components if limit is None else components[:limit]
    hidden = len(components) - len(shown)
    table = Table(
        title=f"{role.title} ({len(components)})",
        title_justify="left",
        title_style=f"bold {role.colour}",
        caption=f"({hidden} further {role.short} hidden)" if hidden else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        expand=False,
    )
    table.add_column("Component", no_wrap=True)
    table.add_column("Location", overflow="fold")
    table.add_column("Uptime", no_wrap=True)
    table.add_column("Heard", justify="right", no_wrap=True)
    table.add_column("Load", justify="right", no_wrap=True)
    table.add_column("A", justify="right", no_wrap=True)
    table.add_column("Status", overflow="fold")
    for c in shown:
        r = c.report
        table.add_row(  # Text, not str: a report's text is shown as sent, never as markup
            Text(c.name, style=f"bold {role.colour}"),
            Text(location_text(r.location, view.max_location_size)),
            Text(uptime_text(c.uptime)),
            Text(f"{max(now - c.last_seen, 0.0):.1f}s"),
            load_text(r.workload),
            Text(str(len(r.associations))),
            Text(printable(r.status)),
        )
        if view.full:
            for a in r.associations:
                table.add_row(*map(Text, _association_row(a)), style="dim")
    return table


def _association_row(a: ComponentAssociation) -> tuple[str, str, str]:
    """``  -> PE $00002001 | ASAP/SCTP | 0:01:02``: peer, protocol, duration."""
    peer = f"  -> {describe_id(a.receiver_id)}"
    return peer, protocol_text(a.protocol_id, a.ppid), duration_text(a.duration_us)


def counts_text(table: ComponentTable) -> str:
    """``1 registrar, 2 pool elements, 0 pool users; 0 undecodable datagrams``."""
    n = table.counts()
    parts = [
        _plural(n["registrar"], "registrar"),
        _plural(n["pool-element"], "pool element"),
        _plural(n["pool-user"], "pool user"),
    ]
    others = len(table.components) - sum(n.values())
    if others:
        parts.append(_plural(others, "other component"))
    line = ", ".join(parts) + f"; {_plural(table.undecodable, 'undecodable datagram')}"
    if table.undecodable:
        line += f" (last: {table.last_error})"
    return line


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def render(
    table: ComponentTable, now: float, view: View, header: str, clock: str = ""
) -> RenderableType:
    """The whole screen: ``header`` (what is watched; none if empty), the wall ``clock``, one
    table per role that has components, and a footer with the counts and the undecodable
    datagrams."""
    parts: list[RenderableType] = [Text(header, style="bold")] if header else []
    if clock:
        parts.append(Text(f"Component status at {clock}", style="dim"))
    by_role: dict[_Role, list[Component]] = {}
    for c in table.listing():
        by_role.setdefault(_role_of(c), []).append(c)
    if not by_role:
        parts += [Text(""), Text("no component has reported yet", style="italic")]
    for role in (*_ROLES, _OTHER):
        if role in by_role:
            parts += [Text(""), _table(role, by_role[role], now, view)]
    parts += [Text(""), Text(counts_text(table), style="bold")]
    return Group(*parts)


class TerminalDisplay:
    """Keeps :func:`render` of ``table`` on ``console``; :meth:`sink` is the receiver's sink."""

    def __init__(
        self,
        table: ComponentTable,
        view: View,
        header: str,
        update_interval: float,
        console: Console | None = None,
    ) -> None:
        self.table = table
        self.view = view
        self.header = header
        self.update_interval = update_interval
        self.console = console if console is not None else make_console()
        self._changed = trio.Event()

    def sink(self, event: MonitorEvent) -> None:
        """A report, removal, purge or undecodable datagram: redraw soon."""
        self._changed.set()

    def _render(self, header: str) -> RenderableType:
        clock = time.strftime("%H:%M:%S")
        return render(self.table, trio.current_time(), self.view, header, clock)

    async def run(self) -> NoReturn:
        """Draw until cancelled: live on a terminal, snapshots otherwise."""
        if self.console.is_terminal:
            await self._live()
        else:
            await self._snapshots()

    async def _live(self) -> NoReturn:
        with Live(
            self._render(self.header),
            console=self.console,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        ) as live:
            while True:
                changed = False
                with trio.move_on_after(self.update_interval):
                    await self._changed.wait()
                    changed = True
                self._changed = trio.Event()
                live.update(self._render(self.header), refresh=True)
                if changed:
                    await trio.sleep(MIN_REDRAW)

    async def _snapshots(self) -> NoReturn:
        """The header once, then a snapshot each update interval while there are components
        or something changed (as cspmonitor redraws)."""
        self.console.print(Text(self.header), soft_wrap=True)
        printed: tuple[int, int] | None = None
        while True:
            state = (self.table.revision, self.table.undecodable)
            if printed is None or state != printed or self.table.components:
                self.console.print(self._render(""))
                self.console.print()
                printed = state
            await trio.sleep(self.update_interval)


def make_console() -> Console:
    """A console on standard output; a pipe or a file gets plain text (no colour, no escape
    codes, whatever FORCE_COLOR says) :data:`PLAIN_WIDTH` columns wide (or COLUMNS)."""
    console = Console()
    if console.is_terminal:
        return console
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else PLAIN_WIDTH
    return Console(width=width, color_system=None, force_terminal=False)
