"""Exact orders of the ordered policies (RFC 5356 §4-5, RSPLIB sorting orders)."""

from __future__ import annotations

import random

import pytest

from rserpool.policies import (
    POLICIES,
    OrderedSelection,
    PolicyEntry,
    RotationSelection,
    SelectionStorage,
    ValueSelection,
    get_policy,
    new_selection,
    policy_by_name,
    select_from,
)
from rserpool.wire.constants import FULL_LOAD, PolicyType
from rserpool.wire.policy import PoolMemberSelectionPolicy as Policy

T = PolicyType
PCT = FULL_LOAD // 100  # 1 % load


class Named(PolicyEntry):
    __slots__ = ("name",)

    def __init__(self, name: str, policy: Policy) -> None:
        super().__init__(policy)
        self.name = name


def pool(
    policy_type: PolicyType, **settings: dict[str, int]
) -> tuple[SelectionStorage[Named], dict[str, Named]]:
    storage: SelectionStorage[Named] = new_selection(policy_type)
    entries = {}
    for name, fields in settings.items():
        entries[name] = Named(name, Policy(policy_type, **fields))
        storage.add(entries[name])
    return storage, entries


def names(entries: list[Named]) -> str:
    return "".join(e.name for e in entries)


def run(storage: SelectionStorage[Named], rounds: int, n: int, max_increment: int = 0) -> list[str]:
    rng = random.Random(0)
    return [names(storage.select(n, rng, max_increment)) for _ in range(rounds)]


def test_every_policy_type_has_a_table_row() -> None:
    assert set(POLICIES) == set(PolicyType)
    for policy_type, row in POLICIES.items():
        assert get_policy(int(policy_type)) is row
        assert policy_by_name(row.name) is row
        assert (row.key is None) != (row.value is None)
    with pytest.raises(KeyError):
        get_policy(0x12345678)
    with pytest.raises(KeyError):
        policy_by_name("NoSuchPolicy")


def test_storage_kinds() -> None:
    assert isinstance(new_selection(T.ROUND_ROBIN), RotationSelection)
    assert isinstance(new_selection(T.PRIORITY), OrderedSelection)
    assert isinstance(new_selection(T.RANDOMIZED_LEAST_USED), ValueSelection)
    with pytest.raises(ValueError):
        OrderedSelection(get_policy(T.RANDOM))
    with pytest.raises(ValueError):
        ValueSelection(get_policy(T.LEAST_USED))
    with pytest.raises(ValueError):
        RotationSelection(get_policy(T.WEIGHTED_ROUND_ROBIN))


def test_round_robin_head_advances_by_one_per_resolution() -> None:
    storage, _ = pool(T.ROUND_ROBIN, A={}, B={}, C={}, D={})
    assert run(storage, 5, 3) == ["ABC", "BCD", "CDA", "DAB", "ABC"]


def test_round_robin_max_increment_moves_that_many() -> None:
    storage, _ = pool(T.ROUND_ROBIN, A={}, B={}, C={}, D={}, E={})
    assert run(storage, 3, 3, max_increment=2) == ["ABC", "CDE", "EAB"]
    assert run(storage, 2, 2, max_increment=5) == ["BC", "DE"]


def test_round_robin_removal_and_late_join() -> None:
    storage, e = pool(T.ROUND_ROBIN, A={}, B={}, C={})
    assert run(storage, 1, 1) == ["A"]
    storage.remove(e["B"])
    late = Named("D", Policy(T.ROUND_ROBIN))
    storage.add(late)  # joins at the back, behind A which was just used
    assert run(storage, 4, 2) == ["CA", "AD", "DC", "CA"]
    assert len(storage) == 3
    assert names(storage.in_selection_order()) == "ADC"
    assert {x.name for x in storage} == {"A", "C", "D"}


def test_round_robin_entry_removed_and_added_again_is_queued_once() -> None:
    storage, e = pool(T.ROUND_ROBIN, A={}, B={}, C={})
    storage.remove(e["A"])
    storage.add(e["A"])  # its old position at the front is stale now
    assert names(storage.in_selection_order()) == "BCA"
    assert run(storage, 4, 3) == ["BCA", "CAB", "ABC", "BCA"]
    assert sorted(x.name for x in storage) == ["A", "B", "C"]


def test_removed_entries_never_come_back_even_after_many_operations() -> None:
    for policy_type in (T.ROUND_ROBIN, T.LEAST_USED):
        storage: SelectionStorage[Named] = new_selection(policy_type)
        entries = [Named(str(i), Policy(policy_type, load=i % 7)) for i in range(300)]
        for entry in entries:
            storage.add(entry)
        for entry in entries[:250]:
            storage.remove(entry)  # forces compaction
        for _ in range(20):
            storage.select(3, random.Random(1))
        chosen = [x.name for x in storage.select(100, random.Random(1))]
        assert sorted(chosen) == sorted(str(i) for i in range(250, 300))
        assert len(storage) == 50


def test_weighted_round_robin_serves_in_proportion_and_interleaves() -> None:
    storage, _ = pool(T.WEIGHTED_ROUND_ROBIN, A={"weight": 3}, B={"weight": 1}, C={"weight": 2})
    sequence = "".join(run(storage, 12, 1))
    assert sequence == "BCCAAABCCAAA"


def test_priority_highest_first_equal_priorities_rotate() -> None:
    storage, _ = pool(
        T.PRIORITY, A={"priority": 1}, B={"priority": 5}, C={"priority": 5}, D={"priority": 3}
    )
    assert run(storage, 3, 3) == ["BCD", "CBD", "BCD"]


def test_least_used_ascending_load_round_robin_among_equals() -> None:
    storage, _ = pool(
        T.LEAST_USED,
        A={"load": 50 * PCT},
        B={"load": 10 * PCT},
        C={"load": 10 * PCT},
        D={"load": 30 * PCT},
    )
    assert run(storage, 3, 3) == ["BCD", "CBD", "BCD"]


def test_least_used_degradation_accumulates_and_resets_on_update() -> None:
    storage, e = pool(
        T.LEAST_USED_DEGRADATION,
        A={"load": 10 * PCT, "load_degradation": 15 * PCT},
        B={"load": 20 * PCT, "load_degradation": 1 * PCT},
    )
    # A: 10 -> 25 -> 40; B: 20 -> 21 -> 22 ... -> 41 (after 21 selections of B).
    assert "".join(run(storage, 4, 1)) == "ABBB"
    assert e["A"].degradation == 15 * PCT
    assert e["B"].degradation == 3 * PCT
    same = e["B"].policy
    assert storage.update(e["B"], same)  # degradation != 0: reset and re-sort
    assert e["B"].degradation == 0
    assert not storage.update(e["B"], same)
    assert "".join(run(storage, 1, 1)) == "B"


def test_degradation_saturates_at_full_load() -> None:
    storage, e = pool(T.LEAST_USED_DEGRADATION, A={"load": 0, "load_degradation": FULL_LOAD})
    run(storage, 3, 1)
    assert e["A"].degradation == FULL_LOAD


def test_priority_least_used_uses_load_plus_degradation_constant() -> None:
    # RFC 5356 §5.3.1 example: A 50 % + 10 %, B 50 % + 50 %: A first.
    storage, _ = pool(
        T.PRIORITY_LEAST_USED,
        B={"load": 50 * PCT, "load_degradation": 50 * PCT},
        A={"load": 50 * PCT, "load_degradation": 10 * PCT},
    )
    assert run(storage, 2, 2) == ["AB", "AB"]


def test_priority_least_used_degradation_adds_accumulated_degradation() -> None:
    storage, _ = pool(
        T.PRIORITY_LEAST_USED_DEGRADATION,
        A={"load": 10 * PCT, "load_degradation": 20 * PCT},  # 30, 50, 70
        B={"load": 35 * PCT, "load_degradation": 5 * PCT},  # 40, 45, 50, 55
    )
    assert "".join(run(storage, 5, 1)) == "ABBAB"


def test_least_used_dpf_penalises_distance() -> None:
    dpf = FULL_LOAD // 1000  # 0.1 % per ms
    storage, _ = pool(
        T.LEAST_USED_DPF,
        Far={"load": 10 * PCT, "load_dpf": dpf, "distance": 150},  # 10 % + 15 %
        Near={"load": 20 * PCT, "load_dpf": dpf, "distance": 10},  # 20 % + 1 %
    )
    assert run(storage, 1, 2) == ["NearFar"]


def test_least_used_degradation_dpf() -> None:
    dpf = FULL_LOAD // 1000
    storage, e = pool(
        T.LEAST_USED_DEGRADATION_DPF,
        Far={"load": 10 * PCT, "load_degradation": 5 * PCT, "load_dpf": dpf, "distance": 100},
        Near={"load": 15 * PCT, "load_degradation": 5 * PCT, "load_dpf": dpf, "distance": 0},
    )
    # Far = 20 %, Near = 15 %: Near, Near (20 %, tie broken by sequence: Far), Far ...
    assert "".join(run(storage, 4, 1)) == "NearFarNearFar"
    assert e["Near"].degradation == 10 * PCT


def test_select_more_than_the_pool_returns_each_once() -> None:
    for policy_type in PolicyType:
        storage, _ = pool(policy_type, A={"weight": 1}, B={"weight": 2}, C={"weight": 3})
        chosen = storage.select(10, random.Random(0))
        assert sorted(names(chosen)) == ["A", "B", "C"], policy_type
        assert storage.select(0, random.Random(0)) == []


def test_select_from_any_collection() -> None:
    cache = [Named(n, Policy(T.LEAST_USED, load=x * PCT)) for n, x in (("A", 9), ("B", 1))]
    assert names(select_from(cache, 1, random.Random(0))) == "B"
    assert all(e.selection_token is None for e in cache)  # reusable afterwards
    assert select_from([], 3, random.Random(0)) == []
    assert names(select_from(cache, 2, random.Random(0), policy_type=T.ROUND_ROBIN)) == "AB"


def test_an_entry_lives_in_one_storage_at_a_time() -> None:
    storage, e = pool(T.ROUND_ROBIN, A={})
    with pytest.raises(ValueError):
        storage.add(e["A"])
    storage.remove(e["A"])
    with pytest.raises(ValueError):
        storage.remove(e["A"])
