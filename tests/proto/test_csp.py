"""The CSP reporter core (rserpool.proto.csp) with injected time: when reports are due, what
their time stamps say, the FINAL report, and RSPLIB's status and location texts."""

from __future__ import annotations

import pytest

from rserpool.proto.csp import (
    LOOKING_FOR_REGISTRAR,
    ReportFields,
    StatusReporter,
    Stopwatch,
    c_text,
    component_location,
    registrar_status,
    session_status,
)
from rserpool.wire.csp import ComponentAssociation, component_id, decode_report_untrusted

PE = component_id(2, 0x2001)
START = 7_000_000  # µs on the caller's clock when the component starts reporting


class Fields:
    """A fields callback that counts its calls and says how often it was asked."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __call__(self, now: int) -> ReportFields:
        self.asked.append(now)
        duration = now - START if now >= START else None
        association = ComponentAssociation(component_id(1, 0x101), duration, ppid=11)
        return ReportFields(f"report {len(self.asked)}", "vm", 0.25, (association,))


def test_first_report_at_once_then_every_interval() -> None:
    fields = Fields()
    reporter = StatusReporter(PE, 300_000, fields)
    assert reporter.next_deadline() is None  # due at once
    first = decode_report_untrusted(reporter.poll(START) or b"")
    assert (first.sender_id, first.sender_timestamp_us, first.report_interval_us) == (
        PE,
        0,
        300_000,
    )
    assert first.status == "report 1" and first.workload == pytest.approx(0.25, abs=1e-4)
    assert reporter.next_deadline() == START + 300_000
    assert reporter.poll(START + 299_999) is None
    assert fields.asked == [START]  # not asked when nothing is due
    second = decode_report_untrusted(reporter.poll(START + 300_050) or b"")
    assert second.sender_timestamp_us == 300_050  # µs since the first report
    assert second.associations[0].duration_us == 300_050
    # RSPLIB restarts its timer when a report goes out: the next is an interval after that
    assert reporter.next_deadline() == START + 600_050
    assert reporter.reports == 2


def test_a_late_poll_sends_one_report_not_a_burst() -> None:
    reporter = StatusReporter(PE, 250_000, Fields())
    reporter.poll(0)
    assert reporter.poll(10_000_000) is not None
    assert reporter.poll(10_000_001) is None
    assert reporter.next_deadline() == 10_250_000


def test_final_report() -> None:
    fields = Fields()
    reporter = StatusReporter(PE, 1_000_000, fields)
    reporter.poll(START)
    final = decode_report_untrusted(reporter.final(START + 2_500_000))
    assert final.final and final.sender_id == PE
    assert (final.status, final.location, final.workload, final.associations) == ("", "", 0.0, ())
    assert final.sender_timestamp_us == 2_500_000
    assert final.report_interval_us == 1_000_000
    assert fields.asked == [START]  # a FINAL report asks nothing
    assert reporter.next_deadline() is None


def test_a_final_report_before_any_other_has_time_stamp_zero() -> None:
    reporter = StatusReporter(PE, 1_000_000, Fields())
    assert decode_report_untrusted(reporter.final(123)).sender_timestamp_us == 0


def test_bad_reporters() -> None:
    with pytest.raises(ValueError, match="no object part"):
        StatusReporter(component_id(3, 0), 1_000_000, Fields())
    with pytest.raises(ValueError, match="report interval"):
        StatusReporter(PE, 0, Fields())
    with pytest.raises(ValueError, match="report interval"):
        StatusReporter(PE, 2**32, Fields())


def test_texts_are_rsplib_c_strings() -> None:
    reporter = StatusReporter(PE, 1_000_000, lambda now: ReportFields("x" * 200, "é" * 100))
    report = decode_report_untrusted(reporter.poll(0) or b"")
    assert report.status == "x" * 127  # 127 characters and the NUL
    assert report.location == "é" * 63  # 126 bytes: the 64th would not fit whole
    assert c_text("short") == "short"


def test_status_texts() -> None:
    assert registrar_status(3, 2, 1, 1) == "3[2] PEs in 1 Pool, 1 Peer"
    assert registrar_status(0, 0, 0, 0) == "0[0] PEs in 0 Pools, 0 Peers"
    assert registrar_status(10, 0, 2, 3) == "10[0] PEs in 2 Pools, 3 Peers"
    assert [session_status(n) for n in (0, 1, 2)] == ["0 Sessions", "1 Session", "2 Sessions"]
    assert LOOKING_FOR_REGISTRAR == "Looking for Registrar ..."


@pytest.mark.parametrize(
    ("addresses", "with_port", "expected"),
    [
        ([("198.51.100.1", 3863), ("203.0.113.1", 3863)], True,
         "vm: 198.51.100.1:3863, 203.0.113.1"),
        ([("198.51.100.1", 3863), ("203.0.113.1", 3863)], False, "vm: 198.51.100.1, 203.0.113.1"),
        # global addresses only, when there are any
        ([("10.0.0.1", 9), ("127.0.0.1", 9), ("198.51.100.7", 9)], True, "vm: 198.51.100.7:9"),
        # else the site-local ones
        ([("127.0.0.1", 9), ("10.0.0.1", 9), ("192.168.1.1", 9)], True,
         "vm: 10.0.0.1:9, 192.168.1.1"),
        # loopback and link-local never: the host name alone
        ([("127.0.0.1", 9), ("169.254.1.1", 9), ("fe80::1", 9)], True, "vm"),
        ([], True, "vm"),
        ([("2001:db8::1", 2960), ("::ffff:198.51.100.2", 1)], True,
         "vm: [2001:db8::1]:2960, 198.51.100.2"),
        ([("::ffff:198.51.100.2", 5)], True, "vm: 198.51.100.2:5"),
    ],
)  # fmt: skip
def test_location(addresses: list[tuple[str, int]], with_port: bool, expected: str) -> None:
    assert component_location("vm", addresses, with_port=with_port) == expected


def test_location_without_host_name() -> None:
    assert component_location("", [("198.51.100.1", 1)], with_port=True) == "198.51.100.1:1"
    assert component_location("", [("127.0.0.1", 1)], with_port=True) == "(local only)"
    long = [(f"198.51.100.{n}", 1) for n in range(1, 30)]
    assert len(component_location("a-host", long, with_port=True)) == 127


def test_stopwatch() -> None:
    watch = Stopwatch()
    assert watch.elapsed("home", 100) == 0
    assert watch.elapsed("pe", 150) == 0
    watch.lap()
    assert watch.elapsed("home", 400) == 300
    watch.lap()  # "pe" was not mentioned: forgotten
    assert watch.elapsed("pe", 500) == 0
    assert watch.elapsed("home", 500) == 400
