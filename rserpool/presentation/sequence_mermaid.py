"""A :class:`~rserpool.presentation.sequence.SequenceDiagram` as Mermaid text.

Mermaid (https://mermaid.js.org) draws ``sequenceDiagram`` text where Markdown is rendered
(GitHub, GitLab, many wikis and editors), so the text can go straight into a ```` ```mermaid ````
block of a document or a bug report::

    sequenceDiagram
        participant pu1 as PU 127.0.0.1
        participant pr1 as PR $00000101<br/>127.0.0.1
        pu1->>pr1: Handle Resolution: EchoPool (0.729 s)
        pr1-->>pu1: Handle Resolution Response: EchoPool: $00002001 (0.729 s)

Requests are solid arrows (``->>``), responses and acknowledgements dashed (``-->>``); the
caption is a note over all lifelines at the end.
"""

from __future__ import annotations

import re

from rserpool.presentation.sequence import Arrow, SequenceDiagram
from rserpool.presentation.sequence_nodes import Participant

_SPECIAL = re.compile(r"[#;%<>]")
MOST_ADDRESSES = 3  # addresses shown under a lifeline's name; more are counted


def addresses_shown(participant: Participant) -> list[str]:
    """The addresses to write under a lifeline's name (the rest as ``+2 more``), but not the
    one its name already says (``PU 198.51.100.7``)."""
    addresses = [a for a in participant.addresses if not participant.name.endswith(" " + a)]
    shown = addresses[:MOST_ADDRESSES]
    if len(addresses) > MOST_ADDRESSES:
        shown.append(f"+{len(addresses) - MOST_ADDRESSES} more")
    return shown


def text(value: str) -> str:
    """Text Mermaid takes literally, as entity codes: ``;`` ends a statement, ``#`` and ``%%``
    start a comment, angle brackets would be HTML."""
    return _SPECIAL.sub(lambda m: f"#{ord(m.group())};", " ".join(value.split()))


def render_mermaid(diagram: SequenceDiagram) -> str:
    """The diagram as Mermaid ``sequenceDiagram`` text, ending in a newline."""
    lines = ["sequenceDiagram"]
    if diagram.title:
        lines.append(f"    %% {text(diagram.title)}")
    for p in diagram.participants:
        alias = "<br/>".join([text(p.name), *(text(a) for a in addresses_shown(p))])
        lines.append(f"    participant {p.id} as {alias}")
    for row in diagram.rows:
        if isinstance(row, Arrow):
            arrow = "-->>" if row.reply else "->>"
            lines.append(f"    {row.src}{arrow}{row.dst}: {text(row.text)} ({row.when})")
        else:
            lines.append(f"    Note over {','.join(row.over)}: {text(row.text)}")
    if diagram.participants and diagram.caption:
        ends = diagram.participants[0].id, diagram.participants[-1].id
        over = ends[0] if ends[0] == ends[1] else ",".join(ends)
        lines.append(f"    Note over {over}: {text(' '.join(diagram.caption))}")
    return "\n".join(lines) + "\n"
