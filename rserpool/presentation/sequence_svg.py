"""A :class:`~rserpool.presentation.sequence.SequenceDiagram` as an SVG picture.

The SVG is written out here, element by element: it is self-contained (no script, no external
font or style sheet: a generic font family, the styles inline), scales with its ``viewBox``
and opens in any browser or image viewer. Left to right, one column per lifeline: a box with
the node's name and addresses, a dashed lifeline down from it. Top to bottom, one row per
(folded) message, rows shaded alternately, the time since the first frame at the left: a
solid arrow for a request, a dashed one for a response or acknowledgement, ASAP in blue, ENRP
in green, an undecodable message in red. The caption sits at the bottom.

Each lifeline is a ``<line class="lifeline">``, each message a ``<g class="message">`` (its
``<title>`` names the frames, for a viewer's tooltip), so the picture can be checked by
reading it as XML.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from rserpool.presentation.sequence import Arrow, Note, SequenceDiagram
from rserpool.presentation.sequence_mermaid import addresses_shown
from rserpool.presentation.sequence_nodes import Participant

FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"
CHAR = 6.8  # px: a generous average width of a character at 12 px
MARGIN = 16
ROW = 34  # px per message row
LINE = 14  # px per line of text in a lifeline's box
MIN_COLUMN, MAX_COLUMN = 150, 280
COLOURS = {"asap": "#1f5fa8", "enrp": "#2e7d32", "undecodable": "#c62828"}
SHADE = "#f1f4f8"


def _width(text: str, size: float = 12) -> float:
    return len(text) * CHAR * size / 12


def _column(diagram: SequenceDiagram, index: dict[str, int]) -> float:
    """A column width that lets most labels fit between the lifelines they join."""
    need = float(MIN_COLUMN)
    for p in diagram.participants:
        lines = [p.name, *addresses_shown(p)]
        need = max(need, max(_width(line) for line in lines) + 24)
    for row in diagram.rows:
        if isinstance(row, Arrow):
            span = max(1, abs(index[row.src] - index[row.dst]))
            need = max(need, _width(row.text) / span + 24)
    return min(need, MAX_COLUMN)


def _colour(arrow: Arrow) -> str:
    if "(undecodable)" in arrow.label:
        return "undecodable"
    return "enrp" if arrow.protocol == "enrp" else "asap"


def render_svg(diagram: SequenceDiagram) -> str:
    """The diagram as the text of an SVG file."""
    index = {p.id: n for n, p in enumerate(diagram.participants)}
    column = _column(diagram, index)
    times = [_width(row.when, 11) for row in diagram.rows if isinstance(row, Arrow)]
    time_width = max([60.0, *times]) + 24  # the time column
    x = {p.id: MARGIN + time_width + column * (n + 0.5) for n, p in enumerate(diagram.participants)}
    width = MARGIN * 2 + time_width + column * max(1, len(diagram.participants))
    top = MARGIN + (26 if diagram.title else 0)
    box = LINE * (1 + max((len(addresses_shown(p)) for p in diagram.participants), default=0)) + 12
    rows_top = top + box + 12
    rows_bottom = rows_top + ROW * len(diagram.rows)
    caption_top = rows_bottom + 20
    height = caption_top + 16 * len(diagram.caption) + MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family="{FONT}" font-size="12">',
        f"<title>{escape(diagram.title or 'ASAP/ENRP sequence diagram')}</title>",
        "<defs>",
        *(
            f'<marker id="head-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
            f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
            for name, colour in COLOURS.items()
        ),
        "</defs>",
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="white"/>',
    ]
    if diagram.title:
        out.append(f'<text x="{MARGIN}" y="{MARGIN + 12}" font-size="14" font-weight="bold">'
                   f"{escape(diagram.title)}</text>")  # fmt: skip
    for n in range(0, len(diagram.rows), 2):
        y = rows_top + ROW * n
        out.append(f'<rect class="shade" x="{MARGIN}" y="{y}" width="{width - 2 * MARGIN:.0f}"'
                   f' height="{ROW}" fill="{SHADE}"/>')  # fmt: skip
    for p in diagram.participants:
        out.extend(_participant(p, x[p.id], top, box, column, rows_bottom))
    for n, row in enumerate(diagram.rows):
        y = rows_top + ROW * n
        if isinstance(row, Arrow):
            out.extend(_arrow(row, x, y, MARGIN + time_width - 10))
        else:
            out.extend(_note(row, x, y))
    for n, sentence in enumerate(diagram.caption):
        out.append(f'<text class="caption" x="{MARGIN}" y="{caption_top + 16 * n + 12}" '
                   f'font-size="11" fill="#555">{escape(sentence)}</text>')  # fmt: skip
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _participant(
    p: Participant, x: float, top: float, box: float, column: float, bottom: float
) -> list[str]:
    w = column - 16
    fill, stroke = ("#fff8e1", "#b08d2f") if p.role == "group" else ("#eef3fb", "#4a6b94")
    lines = [
        f'<g class="participant" id={quoteattr(p.id)}>',
        f'<rect x="{x - w / 2:.1f}" y="{top}" width="{w:.1f}" height="{box}" rx="4" '
        f'fill="{fill}" stroke="{stroke}"/>',
        f'<text x="{x:.1f}" y="{top + LINE + 2}" text-anchor="middle" font-weight="bold">'
        f"{escape(p.name)}</text>",
    ]
    for n, address in enumerate(addresses_shown(p), 1):
        lines.append(f'<text x="{x:.1f}" y="{top + LINE * (n + 1) + 2}" text-anchor="middle" '
                     f'font-size="11" fill="#333">{escape(address)}</text>')  # fmt: skip
    lines.append("</g>")
    lines.append(f'<line class="lifeline" data-participant={quoteattr(p.id)} x1="{x:.1f}" '
                 f'y1="{top + box}" x2="{x:.1f}" y2="{bottom + 8}" stroke="#8a99ad" '
                 f'stroke-dasharray="4 4"/>')  # fmt: skip
    return lines


def _arrow(arrow: Arrow, x: dict[str, float], y: float, time_x: float) -> list[str]:
    colour = _colour(arrow)
    frames = ", ".join(str(f) for f in arrow.frames[:20])
    more = " …" if len(arrow.frames) > 20 else ""
    x1, x2 = x[arrow.src], x[arrow.dst]
    dash = ' stroke-dasharray="6 4"' if arrow.reply else ""
    style = f'stroke="{COLOURS[colour]}" stroke-width="1.5" fill="none"{dash}'
    lines = [
        f'<g class="message" data-src={quoteattr(arrow.src)} data-dst={quoteattr(arrow.dst)} '
        f"data-count={quoteattr(str(arrow.count))}>",
        f"<title>{escape(f'{arrow.text} at {arrow.when}, frame(s) {frames}{more}')}</title>",
        f'<text class="time" x="{time_x:.1f}" y="{y + 22}" text-anchor="end" '
        f'font-size="11" fill="#555">{escape(arrow.when)}</text>',
    ]
    if x1 == x2:  # to itself: a small loop to the right
        lines.append(f'<path d="M{x1:.1f},{y + 14} h28 v12 h-28" {style} '
                     f'marker-end="url(#head-{colour})"/>')  # fmt: skip
        lines.append(f'<text x="{x1 + 34:.1f}" y="{y + 24}">{escape(arrow.text)}</text>')
    else:
        lines.append(f'<line x1="{x1:.1f}" y1="{y + 26}" x2="{x2:.1f}" y2="{y + 26}" {style} '
                     f'marker-end="url(#head-{colour})"/>')  # fmt: skip
        lines.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{y + 20}" text-anchor="middle" '
                     f'fill="#111">{escape(arrow.text)}</text>')  # fmt: skip
    lines.append("</g>")
    return lines


def _note(note: Note, x: dict[str, float], y: float) -> list[str]:
    xs = [x[pid] for pid in note.over]
    w = max(_width(note.text, 11) + 16, max(xs) - min(xs) + 40)
    left = (min(xs) + max(xs)) / 2 - w / 2
    return [
        '<g class="note">',
        f'<rect x="{left:.1f}" y="{y + 6}" width="{w:.1f}" height="{ROW - 10}" rx="3" '
        'fill="#fffde7" stroke="#c9b458"/>',
        f'<text x="{left + w / 2:.1f}" y="{y + 22}" text-anchor="middle" font-size="11">'
        f"{escape(note.text)}</text>",
        "</g>",
    ]
