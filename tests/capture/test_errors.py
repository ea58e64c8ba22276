"""Bad capture files: one CaptureError with a clear reason (and what came before the damage);
random and mutated bytes never raise anything else."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rserpool.capture import CaptureError, read_capture
from tests.capture.builder import SLL2, capture, data_chunk, fragments, sctp, udp
from tests.wire.samples import SAMPLES

GOOD_NG = capture([sctp([data_chunk(m, tsn)]) for tsn, m in enumerate(SAMPLES[:3])])
GOOD_PCAP = capture([sctp([data_chunk(m, tsn)]) for tsn, m in enumerate(SAMPLES[:3])], ng=False)
_SHB_LENGTH = struct.unpack_from("<I", GOOD_NG, 4)[0]  # the IDB follows the section header


def _with(data: bytes, offset: int, patch: bytes) -> bytes:
    return data[:offset] + patch + data[offset + len(patch) :]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a pcap or pcapng file"),
        (b"hello, this is a text file\n", "not a pcap or pcapng file"),
        (b"\x7fELF\x02\x01\x01" + bytes(60), "not a pcap or pcapng file"),
        (GOOD_NG[:8], "the file is cut short in its header"),
        (GOOD_NG[: _SHB_LENGTH + 10], "the file is cut short in its header"),
        (GOOD_PCAP[:10], "the file is cut short in its header"),
        (GOOD_PCAP[:30], "the file is cut short in frame 1"),
        (_with(GOOD_NG, 12, b"\x09\x00"), "corrupt file header: unknown pcapng version 9.0"),
        (_with(GOOD_PCAP, 20, struct.pack("<I", 147)), "link type 147 is not supported"),
    ],
    ids=[
        "empty",
        "text",
        "elf",
        "ng-shb",
        "ng-idb",
        "pcap-header",
        "pcap-frame",
        "ng-version",
        "linktype",
    ],
)
def test_unreadable_files_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(CaptureError) as caught:
        read_capture(data)
    assert caught.value.reason == reason == str(caught.value)
    assert caught.value.partial is None


@pytest.mark.parametrize("good", [GOOD_NG, GOOD_PCAP], ids=["pcapng", "pcap"])
@pytest.mark.parametrize("cut", [1, 5, 20])
def test_a_capture_cut_short_keeps_the_frames_before_the_cut(good: bytes, cut: int) -> None:
    with pytest.raises(CaptureError) as caught:
        read_capture(good[:-cut])
    assert caught.value.reason == "the file is cut short in frame 3"
    partial = caught.value.partial
    assert partial is not None and partial.frames == 2
    assert [r.message for r in partial.records] == SAMPLES[:2]


def test_trailing_garbage_is_a_cut_frame() -> None:
    with pytest.raises(CaptureError, match=r"^the file is cut short in frame 4$"):
        read_capture(GOOD_NG + b"abc")


def test_a_capture_with_no_frames_is_fine() -> None:
    decoded = read_capture(capture([]))
    assert (decoded.records, decoded.frames) == ((), 0)
    assert read_capture(GOOD_PCAP[:24]).frames == 0  # a pcap file header alone


# ------------------------------------------------------------------------------- fuzzing

#: Captures to mutate: SCTP with bundles and fragments, UDP, SLL2, pcap and pcapng.
_BIG = SAMPLES[16]  # Handle Table Response
_SEEDS = [
    GOOD_NG,
    GOOD_PCAP,
    capture([sctp(fragments(_BIG, 9, [20, 20])), udp(SAMPLES[9])], link_type=SLL2),
    capture([sctp([data_chunk(m, i) for i, m in enumerate(SAMPLES[:6])])], ng=False),
]


def _read(data: bytes) -> None:
    try:
        decoded = read_capture(data)
    except CaptureError as exc:
        assert exc.reason
        decoded_or_none = exc.partial
    else:
        decoded_or_none = decoded
    if decoded_or_none is not None:
        for record in decoded_or_none.records:
            assert (record.message is None) == (record.error is not None)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_capture_error(data: bytes) -> None:
    _read(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_after_a_capture_magic_raise_only_capture_error(tail: bytes) -> None:
    _read(GOOD_NG[:12] + tail)
    _read(GOOD_PCAP[:24] + tail)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 10_000),
)
def test_mutated_captures_raise_only_capture_error(
    seed: bytes, changes: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for offset, value in changes:
        data[offset % len(data)] = value
    _read(bytes(data))
    _read(bytes(data[: cut % (len(data) + 1)]))
