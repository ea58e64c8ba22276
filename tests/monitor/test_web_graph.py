"""The web monitor's picture (:func:`build_snapshot`): registrars, ENRP peerings, pools with
their PEs and home registrars, PUs with the PE they are bound to, from real CSP datagrams and
from a handlespace read the way ``rserpool hsdump`` reads it (real encoded ENRP answers)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from rserpool.monitor.model import ComponentTable
from rserpool.monitor.web_graph import (
    POOL_UNKNOWN,
    RegistrarPoll,
    build_snapshot,
    pool_from_status,
)
from rserpool.proto.common import TransportAddress
from rserpool.proto.hsdump import HandlespaceDump
from rserpool.wire import (
    PPID,
    HandleTableResponse,
    ListResponse,
    PoolElement,
    PoolEntry,
    SctpTransport,
    ServerInformation,
    encode_message,
)
from rserpool.wire.constants import PolicyType, TransportUse
from rserpool.wire.policy import PoolMemberSelectionPolicy
from tests.monitor.reports import pe_report, pu_report, registrar_report

SOURCE = ("127.0.0.1", 40000)
MONITOR_ID = 0x7777  # the identifier the monitor presents to a registrar it reads


def feed(table: ComponentTable, now: float, *datagrams: bytes) -> None:
    for data in datagrams:
        assert table.receive(data, SOURCE, now) is not None


def system(now: float = 100.0) -> ComponentTable:
    """Two peered registrars, two PEs at registrar 1 (one naming its pool), one PU on PE 1."""
    table = ComponentTable()
    feed(
        table,
        now,
        registrar_report(0x101, [0x102], status="2[2] PEs in 1 Pool(s), 1 Peer(s)"),
        registrar_report(0x102, [0x101]),
        pe_report(0x2001, 0x101, [0xC0FFEE], status='echo service in "EchoPool"', load=0.5,
                  location="pe1: 127.0.0.2"),
        pe_report(0x2002, 0x101, location="pe2: 127.0.0.3"),
        pu_report(0xC0FFEE, 0x101, [0x2001], status="terminal"),
    )  # fmt: skip
    return table


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def test_nothing_heard_is_an_empty_picture() -> None:
    snap = build_snapshot(ComponentTable(), 0.0, revision="0.0")
    assert snap["revision"] == "0.0"
    for key in ("registrars", "peerings", "pools", "pool_elements", "pool_users", "components"):
        assert snap[key] == [], key
    assert snap["counts"] == {"registrar": 0, "pool-element": 0, "pool-user": 0}


def test_reports_alone_draw_registrars_peerings_homes_and_bindings() -> None:
    snap = build_snapshot(system(100.0), 101.5)
    json.dumps(snap)  # what /state.json and /events send
    assert [r["id"] for r in snap["registrars"]] == ["PR $00000101", "PR $00000102"]
    assert snap["peerings"] == [["PR $00000101", "PR $00000102"]]  # both report it: one line
    registrars = by_id(snap["registrars"])
    assert registrars["PR $00000101"]["home_of"] == 2
    assert registrars["PR $00000101"]["status"] == "2[2] PEs in 1 Pool(s), 1 Peer(s)"
    assert registrars["PR $00000102"]["home_of"] == 0
    pes = by_id(snap["pool_elements"])
    assert pes["PE $00002001"]["home"] == "PR $00000101"
    assert pes["PE $00002001"]["pool"] == "EchoPool"  # named in its status text
    assert pes["PE $00002001"]["load"] == 0.5 and pes["PE $00002001"]["last_heard"] == 1.5
    assert pes["PE $00002001"]["location"] == "pe1: 127.0.0.2"
    assert pes["PE $00002002"]["pool"] == POOL_UNKNOWN  # CSP carries no pool handle
    assert not pes["PE $00002001"]["registered"] and pes["PE $00002001"]["reported"]
    assert snap["pools"] == [
        {"name": "EchoPool", "known": True, "elements": ["PE $00002001"]},
        {"name": POOL_UNKNOWN, "known": False, "elements": ["PE $00002002"]},
    ]
    (user,) = snap["pool_users"]
    assert user["id"] == "PU $00000000c0ffee"
    assert user["bound_to"] == ["PE $00002001"] and user["registrar"] == "PR $00000101"
    assert [c["name"] for c in snap["components"]] == [
        "PR $00000101", "PR $00000102", "PE $00002001", "PE $00002002", "PU $00000000c0ffee",
    ]  # fmt: skip


def test_a_final_report_removes_the_pe_and_a_failover_moves_the_binding() -> None:
    table = system(100.0)
    feed(
        table,
        102.0,
        pe_report(0x2001, 0x101, final=True),
        pu_report(0xC0FFEE, 0x101, [0x2002]),
    )
    snap = build_snapshot(table, 102.0)
    assert "PE $00002001" not in by_id(snap["pool_elements"])
    assert all("PE $00002001" not in pool["elements"] for pool in snap["pools"])
    assert snap["pool_users"][0]["bound_to"] == ["PE $00002002"]


def test_a_pu_that_does_not_report_is_known_from_its_pe() -> None:
    table = ComponentTable()
    feed(table, 10.0, pe_report(0x2001, 0x101, [0xBEEF]))
    snap = build_snapshot(table, 10.0)
    (user,) = snap["pool_users"]
    assert user["id"] == "PU $0000000000beef" and not user["reported"]
    assert user["bound_to"] == ["PE $00002001"] and user["registrar"] is None
    (registrar,) = snap["registrars"]  # named as home, reports nothing itself
    assert registrar["id"] == "PR $00000101" and not registrar["reported"]


def test_a_registrar_whose_identifier_is_unknown_is_not_drawn() -> None:
    """A PU reports its registrar association before it learnt the registrar's id: 0."""
    table = ComponentTable()
    feed(table, 10.0, pu_report(0xBEEF, 0, [0x2001]))
    snap = build_snapshot(table, 10.0)
    assert snap["registrars"] == [] and snap["pool_users"][0]["registrar"] is None


def test_a_reporting_pu_is_believed_over_a_stale_pe() -> None:
    table = ComponentTable()
    feed(
        table,
        10.0,
        pe_report(0x2001, 0x101, [0xBEEF]),  # still lists the session the PU left
        pu_report(0xBEEF, 0x101, [0x2002]),
    )
    (user,) = build_snapshot(table, 10.0)["pool_users"]
    assert user["bound_to"] == ["PE $00002002"] and user["reported"]


def dump_of(registrar: int, peers: list[int], pools: dict[bytes, list[tuple[int, int]]]) -> Any:
    """What ``rserpool hsdump`` holds after the registrar's real (encoded) answers."""
    dump = HandlespaceDump(MONITOR_ID, TransportAddress((), 0))
    dump.start()
    here = SctpTransport(9901, (ipaddress.ip_address("127.0.0.1"),))
    servers = tuple(ServerInformation(p, here) for p in [*peers, MONITOR_ID])
    answers = [
        ListResponse(sender_id=registrar, receiver_id=MONITOR_ID, servers=servers),
        HandleTableResponse(
            sender_id=registrar,
            receiver_id=MONITOR_ID,
            entries=tuple(
                PoolEntry(handle, tuple(_pe(pe_id, home) for pe_id, home in elements))
                for handle, elements in pools.items()
            ),
        ),
    ]
    for answer in answers:
        assert dump.receive(PPID.ENRP, encode_message(answer)) == []
    assert dump.done
    return dump


def _pe(pe_id: int, home: int) -> PoolElement:
    user = SctpTransport(7000, (ipaddress.ip_address("127.0.0.9"),), TransportUse.DATA_PLUS_CONTROL)
    policy = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    return PoolElement(pe_id, home, 90_000, user, policy)


def test_a_handlespace_names_the_pools_and_brings_silent_components() -> None:
    table = system(100.0)
    feed(table, 100.0, registrar_report(0x102, [0x101, MONITOR_ID]))  # lists the monitor
    dump = dump_of(
        0x101,
        [0x102, 0x103],
        {b"EchoPool": [(0x2001, 0x101), (0x2002, 0x101)], b"Other": [(0x3001, 0x103)]},
    )
    poll = RegistrarPoll("127.0.0.1:9901", dump, taken_at=98.0)
    snap = build_snapshot(table, 100.0, [poll])
    assert snap["pools"] == [
        {"name": "EchoPool", "known": True, "elements": ["PE $00002001", "PE $00002002"]},
        {"name": "Other", "known": True, "elements": ["PE $00003001"]},
    ]
    silent = by_id(snap["pool_elements"])["PE $00003001"]
    assert silent["registered"] and not silent["reported"]
    assert silent["home"] == "PR $00000103" and silent["policy"] == "RR"
    assert silent["location"] == "SCTP 127.0.0.9:7000 data+ctrl"
    registrars = by_id(snap["registrars"])
    assert set(registrars) == {"PR $00000101", "PR $00000102", "PR $00000103"}  # no monitor
    assert not registrars["PR $00000103"]["reported"]
    assert snap["peerings"] == [
        ["PR $00000101", "PR $00000102"],
        ["PR $00000101", "PR $00000103"],
    ]
    assert snap["handlespaces"] == [
        {"endpoint": "127.0.0.1:9901", "registrar": "PR $00000101", "pools": 2,
         "pool_elements": 3, "age": 2.0, "error": ""},
    ]  # fmt: skip


def test_a_reporting_pe_tells_its_home_itself() -> None:
    """After a takeover the PE reports its new home before the next handlespace read."""
    table = ComponentTable()
    feed(table, 5.0, pe_report(0x2001, 0x102))
    dump = dump_of(0x101, [], {b"EchoPool": [(0x2001, 0x101)]})
    snap = build_snapshot(table, 5.0, [RegistrarPoll("r", dump, 1.0)])
    pe = by_id(snap["pool_elements"])["PE $00002001"]
    assert pe["home"] == "PR $00000102" and pe["pool"] == "EchoPool"


def test_a_failed_read_is_shown_with_its_cause() -> None:
    snap = build_snapshot(ComponentTable(), 5.0, [RegistrarPoll("127.0.0.1:9901", error="refused")])
    assert snap["handlespaces"] == [
        {"endpoint": "127.0.0.1:9901", "registrar": None, "pools": None, "pool_elements": None,
         "age": None, "error": "refused"},
    ]  # fmt: skip


def test_ignored_identifiers_are_not_drawn() -> None:
    table = ComponentTable()
    feed(table, 1.0, registrar_report(0x101, [0x55]), registrar_report(0x55, [0x101]))
    snap = build_snapshot(table, 1.0, ignore={0x55})
    assert [r["id"] for r in snap["registrars"]] == ["PR $00000101"]
    assert snap["peerings"] == []


def test_pool_from_status() -> None:
    assert pool_from_status('echo service in "EchoPool", 2 sessions') == "EchoPool"
    assert pool_from_status("pool PingPongPool: 3 sessions") == "PingPongPool"
    assert pool_from_status("Pool: Calc") == "Calc"
    assert pool_from_status("idle") is None
    assert pool_from_status('""') is None
