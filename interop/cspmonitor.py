"""RSPLIB's ``cspmonitor`` read by a test: its ANSI screen parsed into components.

``cspmonitor -localaddress=ADDR:PORT -full`` redraws the whole list every update interval:

    01-Dec-2026 22:39:15.6199: Current Component Status -- 1 PRs, 1 PEs, 1 PUs
    PR $00000061 [vm: 198.51.100.1:3863] U=00:00:09 l=0.2s A=0 "1[1] PEs in 1 Pool, 0 Peers"
    PE $00006101 [vm] U=00:00:06 l=0.2s A=1 "1 Session"
       -> PR $00000061 ASAP/SCTP         duration=0:00:05

:func:`screens` splits a log of that output (escape sequences stripped) into one
:class:`Screen` per redraw; :func:`latest` is the last complete one.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

END = "\x1b[0J"  # a redraw is complete
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HEADER = re.compile(
    r"Current Component Status -- (?P<prs>\d+) PRs, (?P<pes>\d+) PEs, (?P<pus>\d+) PUs"
)
COMPONENT = re.compile(
    r"^(?P<name>(?:PR|PE|PU|ID) \$[0-9a-f ]+) \[(?P<location>[^\]]*)\]\s+U=(?P<uptime>\S+) "
    r"l=(?P<last>[\d.]+)s A=(?P<associations>\d+)(?: L=\s*(?P<load>\d+)%)? "
    r"\"(?P<status>[^\"]*)\"",
    re.MULTILINE,
)
ASSOCIATION = re.compile(r"^\s+-> (?P<peer>(?:PR|PE|PU|ID) \$[0-9a-f ]+?) (?P<protocol>\S+)")


@dataclass
class Component:
    name: str  # "PR $00000061"
    location: str
    associations: int
    status: str
    load: int | None
    peers: list[tuple[str, str]] = field(default_factory=list)  # (name, "ASAP/SCTP")


@dataclass
class Screen:
    prs: int
    pes: int
    pus: int
    components: dict[str, Component]

    def of(self, prefix: str) -> list[Component]:
        """The components whose name starts with ``prefix`` ("PU", "PE $00002001")."""
        return [c for name, c in self.components.items() if name.startswith(prefix)]


def strip(text: str) -> str:
    return ANSI.sub("", text)


def screens(text: str) -> list[Screen]:
    """Every complete redraw in ``text`` (raw cspmonitor output): each ends by erasing the
    rest of the terminal (``ESC [0J``); what follows the last one is still being written."""
    complete = text[: text.rfind(END) + len(END)] if END in text else ""
    plain = strip(complete)
    starts = [m.start() for m in HEADER.finditer(plain)]
    return [_screen(plain[begin:end]) for begin, end in itertools.pairwise([*starts, None])]


def latest(text: str) -> Screen | None:
    all_screens = screens(text)
    return all_screens[-1] if all_screens else None


def _screen(chunk: str) -> Screen:
    header = HEADER.search(chunk)
    assert header is not None
    components: dict[str, Component] = {}
    current: Component | None = None
    for line in chunk.splitlines():
        match = COMPONENT.search(line)
        if match:
            load = match["load"]
            current = Component(
                match["name"],
                match["location"],
                int(match["associations"]),
                match["status"],
                None if load is None else int(load),
            )
            components[current.name] = current
            continue
        assoc = ASSOCIATION.search(line)
        if assoc and current is not None:
            current.peers.append((assoc["peer"], assoc["protocol"]))
    return Screen(int(header["prs"]), int(header["pes"]), int(header["pus"]), components)
