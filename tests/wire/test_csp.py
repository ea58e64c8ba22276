"""The Component Status Protocol codec (rserpool.wire.csp): golden bytes written out by hand
and captured from RSPLIB 3.4.4, round trips, every rule a monitor rejects a datagram by, and
untrusted input that raises only DecodeError."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rserpool.wire import DecodeError, EncodeError
from rserpool.wire.csp import (
    ASSOCIATION_SIZE,
    FIXED_SIZE,
    TRUE_LENGTH,
    ZERO_LENGTH,
    ComponentAssociation,
    ComponentStatusReport,
    component_id,
    decode_report_untrusted,
    encode_report,
    group_of,
    object_of,
)

GOLDEN = sorted((Path(__file__).parent / "golden" / "csp").glob("*.hex"))


def field(text: str, size: int = 128) -> str:
    """A NUL-padded text field, as hex."""
    return (text.encode() + bytes(size - len(text))).hex()


# A registrar's report with one peer, spelt out field by field (288 + 24 bytes).
HAND_CHECKED = bytes.fromhex(
    "01"  # Type: report
    "00"  # Flags
    "0138"  # Length: 312
    "00000200"  # Version
    "0100000000000101"  # SenderID: group 1 (registrar), object 0x101
    "00000000000f4240"  # SenderTimeStamp: 1 000 000 µs
    "000493e0"  # ReportInterval: 300 000 µs
    + field("vm: 198.51.100.1:3863")
    + field("1[1] PEs in 1 Pool, 1 Peer")
    + "ffff"  # Workload: unknown
    "0001"  # Associations: 1
    "0100000000000102"  # ReceiverID: registrar 0x102
    "ffffffffffffffff"  # Duration: unknown
    "0000"  # Flags
    "0084"  # ProtocolID: 132 (SCTP)
    "0000000c"  # PPID: 12 (ENRP)
)
HAND_REPORT = ComponentStatusReport(
    sender_id=component_id(1, 0x101),
    sender_timestamp_us=1_000_000,
    report_interval_us=300_000,
    location="vm: 198.51.100.1:3863",
    status="1[1] PEs in 1 Pool, 1 Peer",
    associations=(ComponentAssociation(component_id(1, 0x102), ppid=12),),
)


def test_hand_checked_report() -> None:
    assert len(HAND_CHECKED) == FIXED_SIZE + ASSOCIATION_SIZE == 312
    assert encode_report(HAND_REPORT) == HAND_CHECKED
    assert decode_report_untrusted(HAND_CHECKED) == HAND_REPORT
    # RSPLIB versions that byte-swap the length with htonl() write 0: accepted as well
    zero = encode_report(HAND_REPORT, length_field=ZERO_LENGTH)
    assert zero[2:4] == b"\x00\x00" and zero[4:] == HAND_CHECKED[4:]
    assert decode_report_untrusted(zero) == HAND_REPORT


def test_final_and_workload_bytes() -> None:
    final = ComponentStatusReport(component_id(3, 0xABCDEF), 5, 250_000, workload=0.0, final=True)
    data = encode_report(final)
    assert data[:2] == b"\x01\x01" and len(data) == FIXED_SIZE
    assert data[-4:] == b"\x00\x00\x00\x00"  # workload 0, no associations
    half = encode_report(ComponentStatusReport(component_id(2, 1), 0, 1, workload=0.5))
    assert half[284:286] == b"\x7f\xff"  # round(0.5 x 0xfffe)
    assert decode_report_untrusted(half).workload == pytest.approx(0.5)


def load_golden(path: Path) -> bytes:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return bytes.fromhex("".join(lines))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_rsplib_report_decodes_and_reencodes(path: Path) -> None:
    """Reports captured from RSPLIB's rspregistrar and rspserver in the test guest."""
    data = load_golden(path)
    report = decode_report_untrusted(data)
    assert encode_report(report) == data
    assert struct.unpack_from("!H", data, 2)[0] == len(data)  # RSPLIB 3.4.4's Length
    expected = RSPLIB_GOLDEN[path.stem]
    assert (group_of(report.sender_id), object_of(report.sender_id)) == expected["sender"]
    assert report.status == expected["status"]
    assert report.final == expected["final"]
    assert [(a.receiver_id, a.ppid) for a in report.associations] == expected["associations"]
    assert report.report_interval_us == 300_000


PR_UNKNOWN = component_id(1, 0)  # a registrar whose id is not known yet
RSPLIB_GOLDEN: dict[str, dict[str, object]] = {
    "rspregistrar": {  # a static peer whose id it does not know yet: PR $00000000
        "sender": (1, 0x72), "status": "0[0] PEs in 0 Pools, 1 Peer", "final": False,
        "associations": [(PR_UNKNOWN, 12)],
    },
    "rspregistrar-one-pe": {
        "sender": (1, 0x72), "status": "1[1] PEs in 1 Pool, 1 Peer", "final": False,
        "associations": [(PR_UNKNOWN, 12)],
    },
    "rspserver-looking-for-registrar": {
        "sender": (2, 0x7201), "status": "Looking for Registrar ...", "final": False,
        "associations": [],
    },
    "rspserver": {  # registered; its registrar's id is learnt from a Keep Alive later
        "sender": (2, 0x7201), "status": "0 Sessions", "final": False,
        "associations": [(PR_UNKNOWN, 11)],
    },
    "rspserver-final": {"sender": (2, 0x7201), "status": "", "final": True, "associations": []},
}  # fmt: skip


def test_every_golden_file_is_expected() -> None:
    assert sorted(p.stem for p in GOLDEN) == sorted(RSPLIB_GOLDEN)


# ------------------------------------------------------------------ round trips

texts = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=60,
).filter(lambda t: len(t.encode()) <= 128)
u64 = st.integers(0, 2**64 - 1)
associations = st.builds(
    ComponentAssociation,
    receiver_id=u64,
    duration_us=st.none() | st.integers(0, 2**64 - 2),
    flags=st.integers(0, 0xFFFF),
    protocol_id=st.integers(0, 0xFFFF),
    ppid=st.integers(0, 2**32 - 1),
)
reports = st.builds(
    ComponentStatusReport,
    sender_id=u64,
    sender_timestamp_us=u64,
    report_interval_us=st.integers(0, 2**32 - 1),
    location=texts,
    status=texts,
    workload=st.none() | st.integers(0, 0xFFFE).map(lambda k: k / 0xFFFE),
    associations=st.lists(associations, max_size=6).map(tuple),
    final=st.booleans(),
    flags=st.integers(0, 0x7F).map(lambda f: f << 1),
)


@settings(max_examples=300, deadline=None)
@given(report=reports, true_length=st.booleans())
def test_round_trip(report: ComponentStatusReport, true_length: bool) -> None:
    data = encode_report(report, length_field=TRUE_LENGTH if true_length else ZERO_LENGTH)
    assert len(data) == FIXED_SIZE + ASSOCIATION_SIZE * len(report.associations)
    decoded = decode_report_untrusted(data)
    assert decoded == report
    assert encode_report(decoded, length_field=TRUE_LENGTH if true_length else ZERO_LENGTH) == data


def test_text_is_cut_at_a_character_boundary() -> None:
    report = ComponentStatusReport(1, 0, 0, location="é" * 100)
    assert decode_report_untrusted(encode_report(report)).location == "é" * 64
    with pytest.raises(EncodeError):
        encode_report(ComponentStatusReport(1, 0, 0, status="a\x00b"))
    with pytest.raises(EncodeError):
        encode_report(ComponentStatusReport(1, 0, 2**32))


# ------------------------------------------------------------------ what a monitor rejects


def rejected(data: bytes, words: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_report_untrusted(data)
    assert words in str(info.value)


def test_rejections() -> None:
    good = bytearray(HAND_CHECKED)
    rejected(bytes(good[:23]), "shorter than its header")
    rejected(b"\x02" + bytes(good[1:]), "not a report")
    rejected(bytes(good[:4]) + b"\x00\x00\x02\x01" + bytes(good[8:]), "version 0x0201")
    rejected(bytes(good[:200]), "shorter than its fixed part")
    rejected(bytes(good) + bytes(24), "does not hold its 1 associations")
    rejected(bytes(good[:-1]), "does not hold its 1 associations")
    rejected(bytes(good[:-24]), "does not hold its 1 associations")
    more = bytearray(good)
    more[286:288] = b"\x00\x02"  # claims two associations, carries one
    rejected(bytes(more), "does not hold its 2 associations")
    for length in (1, 288, 313, 0xFFFF):
        lying = bytearray(good)
        lying[2:4] = struct.pack("!H", length)
        rejected(bytes(lying), f"Length {length} is neither 0 nor")
    exact = bytearray(good)
    exact[2:4] = struct.pack("!H", len(good))
    assert decode_report_untrusted(bytes(exact)) == HAND_REPORT


# ------------------------------------------------------------------ untrusted input


def decode_or_decode_error(data: bytes) -> None:
    try:
        report = decode_report_untrusted(data)
    except DecodeError as exc:
        assert "offset" in str(exc)
        return
    assert len(data) == FIXED_SIZE + ASSOCIATION_SIZE * len(report.associations)
    again = decode_report_untrusted(encode_report(report))
    assert again.associations == report.associations and again.sender_id == report.sender_id


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    decode_or_decode_error(data)


@settings(max_examples=300, deadline=None)
@given(report=reports, data=st.data())
def test_mutated_reports(report: ComponentStatusReport, data: st.DataObject) -> None:
    encoded = bytearray(encode_report(report))
    for _ in range(data.draw(st.integers(1, 6))):
        bit = data.draw(st.integers(0, len(encoded) * 8 - 1))
        encoded[bit // 8] ^= 1 << (bit % 8)
    cut = data.draw(st.integers(0, len(encoded)))
    tail = data.draw(st.binary(max_size=30))
    decode_or_decode_error(bytes(encoded))
    decode_or_decode_error(bytes(encoded[:cut]) + tail)
