"""The CSP report codec: the byte layout RSPLIB sends, round trips, and untrusted input that
raises only DecodeError."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rserpool.wire.csp import (
    ASSOCIATION_SIZE,
    FIXED_SIZE,
    ComponentAssociation,
    ComponentGroup,
    ComponentStatusReport,
    component_id,
    decode_report_untrusted,
    encode_report,
    group_of,
    object_of,
)
from rserpool.wire.errors import DecodeError, EncodeError

PE = component_id(ComponentGroup.POOL_ELEMENT, 0x2001)
PR = component_id(ComponentGroup.REGISTRAR, 0x2A)


def rsplib_bytes(flags: int = 0, associations: int = 1) -> bytes:
    """A report built field by field as RSPLIB's componentstatuspackets.h lays it out."""
    head = struct.pack("!BBHIQQ", 1, flags, 0, 0x0200, PE, 3_723_000_000)
    body = struct.pack("!I", 250_000) + b"pe1: 198.51.100.11".ljust(128, b"\0")
    body += b"EchoPool".ljust(128, b"\0") + struct.pack("!HH", 0x7FFF, associations)
    assoc = struct.pack("!QQHHI", PR, 5_000_000, 0, 132, 11) * associations
    return head + body + assoc


def test_decodes_what_rsplib_sends() -> None:
    report = decode_report_untrusted(rsplib_bytes())
    assert report.sender_id == PE and group_of(PE) == 2 and object_of(PE) == 0x2001
    assert report.sender_timestamp_us == 3_723_000_000
    assert report.report_interval_us == 250_000
    assert report.location == "pe1: 198.51.100.11" and report.status == "EchoPool"
    assert report.workload == pytest.approx(0.5, abs=1e-4)
    assert report.associations == (ComponentAssociation(PR, 5_000_000, 0, 132, 11),)
    assert not report.final
    assert decode_report_untrusted(rsplib_bytes(flags=1)).final


def test_encodes_what_rsplib_sends() -> None:
    report = decode_report_untrusted(rsplib_bytes())
    assert encode_report(report) == rsplib_bytes()
    assert len(rsplib_bytes(associations=3)) == FIXED_SIZE + 3 * ASSOCIATION_SIZE


def test_length_field_zero_or_true_size() -> None:
    report = decode_report_untrusted(rsplib_bytes())
    true_length = encode_report(report, length_field=-1)
    assert struct.unpack_from("!H", true_length, 2)[0] == len(true_length)
    assert decode_report_untrusted(true_length) == report
    wrong = bytearray(true_length)
    struct.pack_into("!H", wrong, 2, 100)
    with pytest.raises(DecodeError, match="Length 100"):
        decode_report_untrusted(bytes(wrong))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "shorter than its header"),
        (rsplib_bytes()[:200], "shorter than its fixed part"),
        (rsplib_bytes()[:-1], "does not hold its 1 associations"),
        (rsplib_bytes() + b"\0", "does not hold its 1 associations"),
        (b"\x02" + rsplib_bytes()[1:], "type 2 is not a report"),
        (rsplib_bytes()[:4] + b"\0\0\x01\0" + rsplib_bytes()[8:], "version 0x0100"),
    ],
)
def test_refused(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_report_untrusted(data)


def test_unknown_workload_and_duration() -> None:
    report = ComponentStatusReport(
        PE, 0, 1_000_000, associations=(ComponentAssociation(PR, None),), workload=None
    )
    back = decode_report_untrusted(encode_report(report))
    assert back.workload is None and back.associations[0].duration_us is None


def test_text_is_cut_to_128_bytes_and_nul_refused() -> None:
    report = ComponentStatusReport(PE, 0, 1, status="ü" * 100)  # 200 bytes of UTF-8
    assert decode_report_untrusted(encode_report(report)).status == "ü" * 64
    with pytest.raises(EncodeError):
        encode_report(ComponentStatusReport(PE, 0, 1, location="a\0b"))


# at most 32 characters: at most 128 bytes of UTF-8, so nothing is cut
texts = st.text(st.characters(blacklist_characters="\0", codec="utf-8"), max_size=32)
reports = st.builds(
    ComponentStatusReport,
    sender_id=st.integers(0, 2**64 - 1),
    sender_timestamp_us=st.integers(0, 2**64 - 1),
    report_interval_us=st.integers(0, 2**32 - 1),
    location=texts,
    status=texts,
    workload=st.none() | st.integers(0, 0xFFFE).map(lambda n: n / 0xFFFE),
    associations=st.lists(
        st.builds(
            ComponentAssociation,
            receiver_id=st.integers(0, 2**64 - 1),
            duration_us=st.none() | st.integers(0, 2**64 - 2),
            flags=st.integers(0, 0xFFFF),
            protocol_id=st.integers(0, 0xFFFF),
            ppid=st.integers(0, 2**32 - 1),
        ),
        max_size=4,
    ).map(tuple),
    final=st.booleans(),
    flags=st.integers(0, 0xFE).map(lambda f: f & ~1),
)


@settings(max_examples=200, deadline=None)
@given(report=reports)
def test_round_trip(report: ComponentStatusReport) -> None:
    assert decode_report_untrusted(encode_report(report)) == report


def _decode_or_decode_error(data: bytes) -> None:
    try:
        report = decode_report_untrusted(data)
    except DecodeError:
        return
    assert decode_report_untrusted(encode_report(report, length_field=-1)) == report


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _decode_or_decode_error(data)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 3),
    flips=st.lists(st.tuples(st.integers(0, 359), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 400),
)
def test_mutated_reports(n: int, flips: list[tuple[int, int]], cut: int) -> None:
    """A valid report with bytes overwritten and possibly truncated."""
    data = bytearray(rsplib_bytes(associations=n))
    for offset, value in flips:
        if offset < len(data):
            data[offset] = value
    _decode_or_decode_error(bytes(data[:cut]))
