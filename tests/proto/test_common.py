"""Shared sans-IO conventions: timers, jitter, transport addresses, the import boundary."""

from __future__ import annotations

import ast
import ipaddress
import random
import subprocess
import sys
from pathlib import Path

from rserpool.proto.common import (
    Endpoint,
    Multicast,
    Send,
    TimerTable,
    TransportAddress,
    earliest,
    randomized,
)
from rserpool.proto.registrar.addresses import AddressScope, on_association, usable
from rserpool.wire import PPID, ListRequest, ServerAnnounce

PROTO = Path(__file__).resolve().parents[2] / "rserpool" / "proto"
FORBIDDEN = {"trio", "socket", "time", "asyncio", "threading", "select", "selectors"}


def test_timer_table_orders_replaces_and_cancels() -> None:
    table: TimerTable[tuple[str, int]] = TimerTable()
    assert table.next_deadline() is None and table.pop_due(10**9) == []
    table.set(("a", 1), 50)
    table.set(("b", 1), 20)
    table.set(("c", 1), 20)
    table.set(("a", 1), 10)  # replaces 50
    table.cancel(("c", 1))
    assert table.next_deadline() == 10 and len(table) == 2 and ("a", 1) in table
    assert table.pop_due(9) == []
    assert table.pop_due(20) == [("a", 1), ("b", 1)]
    assert table.next_deadline() is None and len(table) == 0
    for i in range(1000):  # lazy deletion stays bounded
        table.set(("x", 0), i)
    assert len(table._heap) < 200
    assert table.get(("x", 0)) == 999


def test_randomized_jitter_bounds() -> None:
    rng = random.Random(4)
    values = [randomized(1000, rng) for _ in range(2000)]
    assert min(values) >= 875 and max(values) <= 1125 and len(set(values)) > 100
    assert randomized(1, rng) == 1
    assert earliest(None, 5, 3, None) == 3 and earliest(None) is None


def test_actions_encode_and_name_their_ppid() -> None:
    to = TransportAddress((ipaddress.ip_address("::ffff:10.0.0.1"),), 9901)
    assert to.addresses == (ipaddress.ip_address("10.0.0.1"),) and str(to) == "10.0.0.1:9901"
    send = Send(Endpoint.ENRP, None, ListRequest(sender_id=1, receiver_id=2), to)
    assert send.ppid == PPID.ENRP and send.encode()[:1] == b"\x05"
    assert "to 10.0.0.1:9901" in str(send)
    announce = Multicast(Endpoint.ASAP, ServerAnnounce(server_id=7))
    assert announce.encode() == b"\x0a\x00\x00\x08\x00\x00\x00\x07"


def test_filters() -> None:
    a = [ipaddress.ip_address(x) for x in ("127.0.0.1", "10.0.0.1", "10.0.0.1", "fe80::1")]
    assert usable(a, AddressScope.SITE_LOCAL) == (a[1],)
    assert usable(a, AddressScope.LOOPBACK) == (a[0], a[1], a[3])
    peer = TransportAddress((a[0], a[1]), 1)
    assert on_association([*a, ipaddress.ip_address("10.0.0.2")], peer, AddressScope.LOOPBACK) == (
        a[0],
        a[1],
    )


def test_importing_proto_imports_no_io() -> None:
    code = (
        "import sys, rserpool.proto.registrar, rserpool.proto.common\n"
        "import rserpool.proto.client.pool_user, rserpool.proto.client.pool_element\n"
        "bad = {'trio', 'socket', 'selectors', 'asyncio'} & set(sys.modules)\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROTO.parents[1])


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_import_boundary() -> None:
    """rserpool.proto is sans-IO: no trio, sockets or clocks; random only as a type."""
    files = sorted(PROTO.rglob("*.py"))
    assert len(files) >= 10
    for path in files:
        imported = _imports(path)
        assert not imported & FORBIDDEN, f"{path.name} imports {imported & FORBIDDEN}"
        assert imported <= {
            "__future__",
            "rserpool",
            "collections",
            "dataclasses",
            "enum",
            "heapq",
            "ipaddress",
            "random",
            "struct",
            "typing",
        }, path.name
        text = path.read_text()
        # random is only allowed for the type of the injected generator
        for bad in (
            "random.random(",
            "random.randint(",
            "random.choice(",
            "random.uniform(",
            "random.seed(",
            "random.shuffle(",
        ):
            assert bad not in text, f"{path.name} uses the global random generator"


def test_every_core_keeps_the_one_contract() -> None:
    """RegistrarCore, PoolElementCore and PoolUserCore are all a ``Core`` (checked by mypy
    here, and at run time for the method names)."""
    from rserpool.proto.client.hunt_types import EndpointAction, RegistrarHuntConfig
    from rserpool.proto.client.pool_element import PoolElementCore
    from rserpool.proto.client.pool_user import PoolUserCore
    from rserpool.proto.common import Action, Core
    from rserpool.proto.registrar import RegistrarConfig, RegistrarCore

    registrar: Core[Action] = RegistrarCore(RegistrarConfig(server_id=1), random.Random(1), 0)
    pe: Core[EndpointAction] = PoolElementCore(RegistrarHuntConfig(), random.Random(1), 0)
    pu: Core[object] = PoolUserCore(RegistrarHuntConfig(), random.Random(1), 0)
    for core in (registrar, pe, pu):
        core.handle_timers(0)
        assert isinstance(core.outgoing(), list) and isinstance(core.events(), list)
        assert (deadline := core.next_deadline()) is None or deadline >= 0
