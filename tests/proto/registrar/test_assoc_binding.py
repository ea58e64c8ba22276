"""Home PEs by association: who goes when an association is lost, after PEs moved between
associations (the per-association lists remove lazily and compact themselves)."""

from __future__ import annotations

import ipaddress
import random

from rserpool.proto.common import Endpoint, TransportAddress
from rserpool.proto.registrar import (
    PoolElementRemoved,
    RegistrarConfig,
    RegistrarCore,
    RemovalReason,
)
from rserpool.wire import (
    Deregistration,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    TransportUse,
)

ADDRESS = ipaddress.IPv4Address("198.51.100.2")
PEER = TransportAddress((ADDRESS,), 5000)
PPID = 11


def _register(core: RegistrarCore, assoc_id: int, ids: range, now: int) -> None:
    user = SctpTransport(7000, (ADDRESS,), TransportUse.DATA_PLUS_CONTROL)
    policy = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    for pe_id in ids:
        pe = PoolElement(pe_id, 0, 300_000, user, policy)
        data = Registration(pool_handle=b"P", pool_element=pe).encode()
        core.receive(Endpoint.ASAP, assoc_id, PPID, data, PEER, now)
    core.outgoing()


def _lost(core: RegistrarCore, assoc_id: int) -> list[int]:
    core.events()
    core.association_lost(Endpoint.ASAP, assoc_id, 10)
    removed = [e for e in core.events() if isinstance(e, PoolElementRemoved)]
    assert {e.reason for e in removed} <= {RemovalReason.ASSOCIATION_LOST}
    return [e.pe_id for e in removed]


def test_association_loss_removes_the_pes_bound_to_it_each_once() -> None:
    core = RegistrarCore(RegistrarConfig(server_id=0x101), random.Random(1), 0)
    _register(core, 1, range(1, 201), 1)
    _register(core, 2, range(1, 151), 2)  # 1..150 move to association 2
    _register(core, 1, range(1, 101), 3)  # 1..100 move back: listed twice on association 1
    _register(core, 1, range(1, 101), 4)  # re-registered on the same association: no change
    assert [core.pe_association(b"P", i) for i in (1, 100, 101, 150, 151, 200)] == [
        1, 1, 2, 2, 1, 1,
    ]  # fmt: skip
    bound = core._state.assoc_pes
    assert bound[1].live == 150 and len(bound[1].pes) <= 2 * 150 + 64  # compacted on the way
    assert bound[2].live == 50
    assert _lost(core, 1) == [*range(1, 101), *range(151, 201)]  # in key order, each once
    assert len(core.handlespace) == 50 and 1 not in bound
    assert _lost(core, 1) == []  # idempotent
    assert _lost(core, 2) == list(range(101, 151))
    assert len(core.handlespace) == 0 and not bound


def test_a_deregistered_pe_leaves_its_association() -> None:
    core = RegistrarCore(RegistrarConfig(server_id=0x101), random.Random(1), 0)
    _register(core, 1, range(1, 4), 1)
    data = Deregistration(pool_handle=b"P", pe_id=2).encode()
    core.receive(Endpoint.ASAP, 1, PPID, data, PEER, 2)
    assert core._state.assoc_pes[1].live == 2
    assert _lost(core, 1) == [1, 3]
