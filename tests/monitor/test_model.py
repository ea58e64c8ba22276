"""The monitor's component table, with injected time: cspmonitor's purge rule, FINAL reports,
its order and counts, undecodable datagrams."""

from __future__ import annotations

import pytest

from rserpool.monitor.model import ComponentTable, describe_id, role_of
from rserpool.wire.csp import (
    ComponentAssociation,
    ComponentGroup,
    ComponentStatusReport,
    component_id,
    encode_report,
)

SOURCE = ("198.51.100.1", 40000)
PR = component_id(ComponentGroup.REGISTRAR, 0x2A)
PE1 = component_id(ComponentGroup.POOL_ELEMENT, 0x2001)
PE2 = component_id(ComponentGroup.POOL_ELEMENT, 0x1000)
PU = component_id(ComponentGroup.POOL_USER, 0xC0FFEE)


def report(
    cid: int,
    interval: float = 1.0,
    location: str = "",
    status: str = "",
    final: bool = False,
) -> bytes:
    return encode_report(
        ComponentStatusReport(
            sender_id=cid,
            sender_timestamp_us=1_000_000,
            report_interval_us=round(interval * 1e6),
            location=location,
            status=status,
            associations=(ComponentAssociation(PR, 1_000_000, ppid=11),),
            final=final,
        )
    )


def test_describe_id_as_cspmonitor() -> None:
    assert describe_id(PR) == "PR $0000002a"
    assert describe_id(PE1) == "PE $00002001"
    assert describe_id(PU) == "PU $00000000c0ffee"
    assert describe_id(component_id(9, 0x1234)) == "ID $00000000001234"
    assert [role_of(c) for c in (PR, PE1, PU, 0)] == [
        "registrar",
        "pool-element",
        "pool-user",
        "unknown",
    ]


def test_purged_after_ten_report_intervals() -> None:
    """A 250 ms reporter is purged after 2.5 s of silence, not after the 30 s purge interval."""
    table = ComponentTable(purge_interval=30.0)
    change = table.receive(report(PE1, interval=0.25), SOURCE, now=100.0)
    assert change is not None and change.kind == "added"
    assert table.next_deadline() == pytest.approx(102.5)
    assert table.expire(102.49) == [] and PE1 in table.components
    assert [c.cid for c in table.expire(102.5)] == [PE1]
    assert table.components == {} and table.next_deadline() is None


def test_purge_interval_caps_the_silence() -> None:
    """A 10 s reporter would wait 100 s; the purge interval (30 s) comes first."""
    table = ComponentTable(purge_interval=30.0)
    table.receive(report(PR, interval=10.0), SOURCE, now=0.0)
    assert table.next_deadline() == pytest.approx(30.0)
    assert table.expire(29.9) == []
    assert [c.cid for c in table.expire(30.0)] == [PR]


def test_each_report_restarts_the_silence() -> None:
    table = ComponentTable()
    table.receive(report(PE1, interval=1.0), SOURCE, now=0.0)
    change = table.receive(report(PE1, interval=1.0, status="busy"), SOURCE, now=9.0)
    assert change is not None and change.kind == "updated"
    assert change.component.reports == 2 and change.component.first_seen == 0.0
    assert table.expire(10.0) == []
    assert table.next_deadline() == pytest.approx(19.0)
    assert table.components[PE1].report.status == "busy"


def test_final_report_removes_at_once() -> None:
    """RSPLIB's FINAL report has no location or status: what the previous one said stays."""
    table = ComponentTable()
    table.receive(report(PE1, location="pe1", status="EchoPool"), SOURCE, now=0.0)
    revision = table.revision
    change = table.receive(report(PE1, final=True), ("198.51.100.2", 7), now=1.0)
    assert change is not None and change.kind == "removed"
    gone = change.component
    assert (gone.report.location, gone.report.status, gone.report.final) == (
        "pe1",
        "EchoPool",
        True,
    )
    assert gone.as_json(1.0)["final"] is True and gone.as_json(1.0)["last_heard"] == 0.0
    assert gone.source == ("198.51.100.2", 7) and gone.reports == 2
    assert table.components == {} and table.revision == revision + 1
    # A FINAL report of a component never seen: removed too, nothing stays behind.
    change = table.receive(report(PE2, final=True), SOURCE, now=2.0)
    assert change is not None and change.kind == "removed" and table.components == {}


def test_order_is_group_then_location_then_id() -> None:
    table = ComponentTable()
    for cid, location in [
        (PU, "a"),
        (PE1, "b-host"),
        (PE2, "b-host"),
        (component_id(2, 0x3000), "a-host"),
        (PR, "z"),
    ]:
        table.receive(report(cid, location=location), SOURCE, now=0.0)
    assert [c.name for c in table.listing()] == [
        "PR $0000002a",
        "PE $00003000",  # location a-host before b-host
        "PE $00001000",  # same location: by id
        "PE $00002001",
        "PU $00000000c0ffee",
    ]
    assert table.counts() == {"registrar": 1, "pool-element": 3, "pool-user": 1}


def test_undecodable_datagrams_are_counted() -> None:
    table = ComponentTable()
    assert table.receive(b"\x01garbage", ("192.0.2.7", 5), now=0.0) is None
    assert table.receive(report(PE1)[:-1], ("192.0.2.8", 6), now=0.0) is None
    assert table.undecodable == 2
    assert table.last_error.startswith("192.0.2.8:6: CSP report of")
    assert table.components == {} and table.revision == 0


def test_as_json() -> None:
    table = ComponentTable()
    table.receive(report(PE1, interval=0.5, location="pe1", status="EchoPool"), SOURCE, 10.0)
    document = table.components[PE1].as_json(now=10.25)
    assert document["name"] == "PE $00002001" and document["role"] == "pool-element"
    assert document["id"] == "0x0200000000002001" and document["source"] == "198.51.100.1:40000"
    assert document["last_heard"] == 0.25 and document["report_interval"] == 0.5
    assert document["uptime"] == 1.0 and document["workload"] is None
    assert document["associations"] == [
        {
            "peer": "0x010000000000002a",
            "peer_name": "PR $0000002a",
            "duration": 1.0,
            "protocol": 132,
            "ppid": 11,
            "flags": 0,
        }
    ]
