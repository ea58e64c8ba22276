"""Golden vectors captured from real RSPLIB 3.4.4 traffic: decode + re-encode is byte-identical.

Each ``golden/*.hex`` file holds comment lines (``#``) naming its source and where it was
captured, a ``ppid: N`` line, then the message as hex (whitespace ignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rserpool.wire import decode_message_untrusted, dump, encode_message

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.hex"))


def load(path: Path) -> tuple[int, bytes]:
    ppid: int | None = None
    hex_lines = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("ppid:"):
            ppid = int(line.split(":", 1)[1], 0)
        else:
            hex_lines.append(line)
    assert ppid in (11, 12), f"{path.name}: needs a 'ppid: 11' or 'ppid: 12' line"
    return ppid, bytes.fromhex("".join(hex_lines))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_vector(path: Path) -> None:
    ppid, data = load(path)
    message = decode_message_untrusted(ppid, data)
    assert encode_message(message) == data
    assert message.summary()
    assert dump(data, ppid).splitlines()[-1] == "=> " + message.summary()
