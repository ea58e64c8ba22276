"""rserpool.capture on real captures: tshark ``-i any`` pcapng files (Linux cooked SLL) written
by the guest tests (``make test-kernel ARGS="tests/interop/test_registrar_rsplib.py"``) with
RSPLIB 3.4.4's programs and ours on kernel SCTP. Every ASAP/ENRP message is found and decodes.

* ``rserpool-registrar.pcapng``: our registrar; RSPLIB's rspserver registers, rspterminal
  resolves, both hsdumps talk ENRP to it; multicast Server Announces and Presences (UDP).
* ``enrp-peering.pcapng``: our registrar peers with RSPLIB's over ENRP (Presence, List and
  Handle Table exchange, Handle Updates both ways); 17 DATA chunks retransmitted.
* ``takeover.pcapng``: two of ours and RSPLIB's registrar; the PE's home is killed and ours
  takes over, sending the PE an Endpoint Keep Alive with the H bit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from interop.capture import decode as tshark_decode
from rserpool.capture import read_capture
from rserpool.cli import main
from rserpool.wire import EndpointKeepAlive, HandleUpdate

CAPTURES = Path(__file__).parent.parent / "data" / "captures"

#: file: (frames, messages, retransmitted chunks). The message counts are what tshark 4.0.17
#: finds (interop.capture.decode, run once on each file: 0 malformed); the test below
#: compares with tshark again where it is installed.
EXPECTED = {
    "rserpool-registrar.pcapng": (142, 40, 2),
    "enrp-peering.pcapng": (280, 95, 17),
    "takeover.pcapng": (155, 28, 3),
}
ASAP_CORE = {"Registration", "Registration Response", "Deregistration", "Deregistration Response",
             "Endpoint Keep Alive", "Endpoint Keep Alive Ack"}  # fmt: skip
ENRP_SYNC = {"Presence", "List Request", "List Response", "Handle Table Request",
             "Handle Table Response"}  # fmt: skip
TYPES = {
    "rserpool-registrar.pcapng": {f"ASAP {n}" for n in ASAP_CORE}
    | {"ASAP Handle Resolution", "ASAP Handle Resolution Response", "ASAP Server Announce"}
    | {f"ENRP {n}" for n in ENRP_SYNC},
    "enrp-peering.pcapng": {f"ASAP {n}" for n in ASAP_CORE}
    | {"ASAP Server Announce", "ENRP Handle Update"}
    | {f"ENRP {n}" for n in ENRP_SYNC},
    "takeover.pcapng": {f"ASAP {n}" for n in ASAP_CORE} | {f"ENRP {n}" for n in ENRP_SYNC},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_message_is_found_and_decodes(name: str) -> None:
    decoded = read_capture((CAPTURES / name).read_bytes())
    frames, messages, retransmitted = EXPECTED[name]
    assert decoded.link_type == 113  # tshark -i any: Linux cooked capture (SLL)
    assert (decoded.frames, len(decoded.messages), decoded.duplicates) == (
        frames, messages, retransmitted
    )  # fmt: skip
    assert decoded.undecodable == [] and decoded.incomplete == []
    assert {r.name for r in decoded.messages} == TYPES[name]
    assert all(r.message is not None and r.ppid in (11, 12) for r in decoded.records)
    times = [r.time for r in decoded.records]
    assert times == sorted(times) and times[0] >= 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tshark_finds_the_same_messages_in_the_same_frames(name: str) -> None:
    """tshark must be installed (as for tests/wire/test_tshark.py)."""
    theirs = tshark_decode(CAPTURES / name)
    ours = read_capture((CAPTURES / name).read_bytes())
    assert theirs.malformed == 0
    assert [(r.frame, r.protocol, r.type, r.data) for r in ours.messages] == [
        (m.frame, m.protocol, m.type, m.raw) for m in theirs.messages
    ]


def test_what_the_captures_show() -> None:
    peering = read_capture((CAPTURES / "enrp-peering.pcapng").read_bytes())
    updates = [r for r in peering.messages if isinstance(r.message, HandleUpdate)]
    assert {r.src[0] for r in updates} == {"198.51.100.1", "198.51.100.2"}  # both ways
    takeover = read_capture((CAPTURES / "takeover.pcapng").read_bytes())
    home = [r.message for r in takeover.messages if isinstance(r.message, EndpointKeepAlive)]
    assert any(m.home and m.server_id == 0x502 for m in home)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rserpool_decode_prints_them(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", str(CAPTURES / name)]) == 0
    lines = capsys.readouterr().out.splitlines()
    frames, messages, _ = EXPECTED[name]
    assert len(lines) == messages + 1
    assert lines[-1].startswith(f"{messages} ASAP/ENRP messages in {frames} frames, 0 undecodable")
