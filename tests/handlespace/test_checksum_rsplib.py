"""Our ownership checksum equals the one RSPLIB 3.4.4 puts on the wire.

The golden vector ``enrp-presence-pr1-owning-4-pes.hex`` is a Presence that rspregistrar 0x101
sent while it owned exactly the PEs that interop/golden.py registered there: EchoPool 0x2001,
0x2002, 0x2003 and OddPool 0x3001 (an odd-length pool handle, so the padding rule is exercised).
"""

from __future__ import annotations

from pathlib import Path

from rserpool.handlespace.checksum import compute_checksum
from rserpool.wire import Presence, decode_message_untrusted

GOLDEN = Path(__file__).parent.parent / "wire" / "golden"
PR1_OWNS = [
    (b"EchoPool", 0x2001),
    (b"EchoPool", 0x2002),
    (b"EchoPool", 0x2003),
    (b"OddPool", 0x3001),
]


def load(name: str) -> bytes:
    text = (GOLDEN / name).read_text().splitlines()
    return bytes.fromhex("".join(line for line in text if not line.startswith(("#", "ppid"))))


def test_presence_checksum_matches_rsplib() -> None:
    presence = decode_message_untrusted(12, load("enrp-presence-pr1-owning-4-pes.hex"))
    assert isinstance(presence, Presence)
    assert presence.sender_id == 0x101
    assert presence.pe_checksum == compute_checksum(PR1_OWNS)


def test_empty_registrar_sends_ffff() -> None:
    presence = decode_message_untrusted(12, load("enrp-presence.hex"))
    assert isinstance(presence, Presence)
    assert presence.pe_checksum == compute_checksum([]) == 0xFFFF
