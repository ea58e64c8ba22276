"""The sequence diagram's renderers: Mermaid text that Mermaid's grammar accepts, and SVG that
is well-formed, self-contained XML with one lifeline per node and one group per arrow."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rserpool.capture import read_capture
from rserpool.presentation.sequence import Arrow, Note, SequenceDiagram, sequence_diagram
from rserpool.presentation.sequence_mermaid import addresses_shown, render_mermaid, text
from rserpool.presentation.sequence_nodes import Participant
from rserpool.presentation.sequence_svg import render_svg

CAPTURES = sorted((Path(__file__).parent.parent / "data" / "captures").glob("*.pcapng"))
SVG = "{http://www.w3.org/2000/svg}"

# Mermaid's sequenceDiagram lexer: an actor id has no "-", ">", ":", ",", ";"; text after the
# ":" of a message and an alias end at "#" (a comment) or ";" (a new statement): we write
# those as entity codes (#35; #59;), which Mermaid decodes before lexing.
ENTITY = re.compile(r"#\d+;")
PARTICIPANT = re.compile(r"^    participant ([^\->:\n,;\s]+) as ([^#;\n]+)$")
MESSAGE = re.compile(r"^    ([^\->:\n,;\s]+)(->>|-->>)([^\->:\n,;\s]+): ([^#;\n]+)$")
NOTE = re.compile(r"^    Note over ([^\->:\n,;\s]+)(?:,([^\->:\n,;\s]+))?: ([^#;\n]+)$")


def diagram_of(path: Path) -> SequenceDiagram:
    return sequence_diagram(read_capture(path.read_bytes()).records, path.name)


def parse_mermaid(source: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The participants and messages of Mermaid text; fails on any line the grammar (as far
    as we use it) would not take, or on a participant used before it is declared."""
    lines = source.splitlines()
    assert lines[0] == "sequenceDiagram" and source.endswith("\n")
    declared: list[str] = []
    messages: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        plain = ENTITY.sub("", line)
        if plain.startswith("    %% "):
            continue
        if m := PARTICIPANT.match(plain):
            assert m[1] not in declared and not messages
            declared.append(m[1])
        elif m := MESSAGE.match(plain):
            assert m[1] in declared and m[3] in declared, line
            messages.append((m[1], m[3], m[4]))
        elif m := NOTE.match(plain):
            assert m[1] in declared and (m[2] is None or m[2] in declared), line
        else:
            raise AssertionError(f"not Mermaid: {line!r}")
    return declared, messages


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_mermaid_declares_every_participant_and_draws_every_arrow(path: Path) -> None:
    diagram = diagram_of(path)
    declared, messages = parse_mermaid(render_mermaid(diagram))
    assert declared == [p.id for p in diagram.participants]
    assert [(src, dst) for src, dst, _ in messages] == [(a.src, a.dst) for a in diagram.arrows]
    assert all(label.endswith(f"({a.when})") for (_, _, label), a in
               zip(messages, diagram.arrows, strict=True))  # fmt: skip


def test_mermaid_of_the_demo_capture() -> None:
    source = render_mermaid(diagram_of(CAPTURES[-1]))  # udp-loopback.pcapng
    assert source.splitlines()[:4] == [
        "sequenceDiagram",
        "    %% udp-loopback.pcapng",
        "    participant pu1 as PU 127.0.0.1",
        "    participant pr1 as PR $00000101<br/>127.0.0.1",
    ]
    assert "    pe1->>pr1: Registration: EchoPool $00002001 (0.037 s)\n" in source
    assert "    pr1-->>pe1: Registration Response: $00002001 OK (0.040 s)\n" in source


def test_mermaid_text_is_taken_literally() -> None:
    assert text("a;b #1 <x> 50%%\n c") == "a#59;b #35;1 #60;x#62; 50#37;#37; c"
    odd = Participant("pu1", "PU", "PU 192.0.2.7", ("192.0.2.7", "192.0.2.8"))
    pr = Participant("pr1", "PR", "PR #1; <b>", ())
    arrow = Arrow("pu1", "pr1", "Handle Resolution", "pool;#1", 1.5, 1.5, 1, (3,))
    note = Note(("pr1",), "restarted; #2", 2.0)
    source = render_mermaid(SequenceDiagram("a;b", (odd, pr), (arrow, note), ("x;y",)))
    declared, messages = parse_mermaid(source)
    assert declared == ["pu1", "pr1"]
    assert messages == [("pu1", "pr1", "Handle Resolution: pool1 (1.500 s)")]  # codes removed
    assert "    participant pu1 as PU 192.0.2.7<br/>192.0.2.8\n" in source
    assert "    Note over pr1: restarted#59; #35;2\n" in source
    assert source.endswith("    Note over pu1,pr1: x#59;y\n")


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_svg_has_a_lifeline_per_node_and_a_group_per_arrow(path: Path) -> None:
    diagram = diagram_of(path)
    svg = render_svg(diagram)
    root = ET.fromstring(svg)  # well-formed, or this raises
    assert root.tag == f"{SVG}svg"
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    assert width > 0 and height > 0
    lifelines = root.findall(f"{SVG}line[@class='lifeline']")
    assert [line.attrib["data-participant"] for line in lifelines] == [
        p.id for p in diagram.participants
    ]
    boxes = root.findall(f"{SVG}g[@class='participant']")
    assert [[t.text for t in box.iter(f"{SVG}text")] for box in boxes] == [
        [p.name, *addresses_shown(p)] for p in diagram.participants
    ]
    groups = root.findall(f"{SVG}g[@class='message']")
    assert [(g.attrib["data-src"], g.attrib["data-dst"], int(g.attrib["data-count"]))
            for g in groups] == [(a.src, a.dst, a.count) for a in diagram.arrows]  # fmt: skip
    for g, arrow in zip(groups, diagram.arrows, strict=True):
        texts = [t.text for t in g.iter(f"{SVG}text")]
        assert texts == [arrow.when, arrow.text]
        assert g.find(f"{SVG}line") is not None or g.find(f"{SVG}path") is not None
    shades = root.findall(f"{SVG}rect[@class='shade']")
    assert len(shades) == (len(diagram.rows) + 1) // 2  # every other row
    # self-contained: nothing fetched, nothing run
    assert not any(e.tag in (f"{SVG}script", f"{SVG}image", f"{SVG}style") for e in root.iter())
    assert "href" not in svg.replace('marker-end="url(#head-', "")
    assert "@import" not in svg and "http" not in svg.replace('xmlns="http://www.w3.org', "")


def test_lifeline_boxes_say_name_and_addresses() -> None:
    shown = {p.name: addresses_shown(p) for p in diagram_of(CAPTURES[2]).participants}
    assert shown == {  # takeover.pcapng
        "PR 198.51.100.49": [],  # its name says its address
        "PR $01a27f1d": ["198.51.100.82", "127.0.0.1", "::1", "+5 more"],
        "PR $00000503": ["198.51.100.81", "198.51.100.18", "198.51.100.34"],
        "PR $00000502": ["198.51.100.65", "198.51.100.33"],
        "PR $b76b087b": ["198.51.100.82", "198.51.100.50", "198.51.100.66"],
        "PE $00002001": ["198.51.100.50", "198.51.100.66", "198.51.100.82"],
    }


def test_svg_of_a_diagram_with_a_note_a_loop_and_odd_text() -> None:
    pu = Participant("pu1", "PU", "PU <a&b>", ("192.0.2.7",))
    arrow = Arrow("pu1", "pu1", "Cookie", '"quoted" & <tagged>', 0.5, 0.5, 1, (1,), reply=True)
    note = Note(("pu1",), "A & B", 0.6)
    root = ET.fromstring(render_svg(SequenceDiagram("t & t", (pu,), (arrow, note), ())))
    (group,) = root.findall(f"{SVG}g[@class='message']")
    texts = [t.text for t in group.iter(f"{SVG}text")]
    assert texts == ["0.500 s", 'Cookie: "quoted" & <tagged>']
    assert group.find(f"{SVG}path") is not None  # a loop back to the same lifeline
    (note_group,) = root.findall(f"{SVG}g[@class='note']")
    assert [t.text for t in note_group.iter(f"{SVG}text")] == ["A & B"]
    assert [t.text for t in root.findall(f"{SVG}title")] == ["t & t"]
