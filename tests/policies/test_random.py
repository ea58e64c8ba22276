"""Statistics of the value (random) policies, with fixed seeds and a chi-square bound."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rserpool.policies import MAX_LOAD, FenwickTree, PolicyEntry, SelectionStorage, new_selection
from rserpool.wire.constants import FULL_LOAD, PolicyType
from rserpool.wire.policy import PoolMemberSelectionPolicy as Policy

T = PolicyType
PCT = FULL_LOAD // 100

# Chi-square critical values at p = 0.001 (upper tail), by degrees of freedom.
CHI2_CRITICAL_0_001 = {1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467, 5: 20.515}


def chi_square(observed: Counter[int], expected: list[float]) -> float:
    return sum((observed[i] - e) ** 2 / e for i, e in enumerate(expected))


def storage_of(policies: list[Policy]) -> tuple[SelectionStorage[PolicyEntry], list[PolicyEntry]]:
    storage: SelectionStorage[PolicyEntry] = new_selection(policies[0].policy_type)
    entries = [PolicyEntry(p) for p in policies]
    for entry in entries:
        storage.add(entry)
    return storage, entries


def draw_counts(policies: list[Policy], draws: int, seed: int) -> Counter[int]:
    storage, entries = storage_of(policies)
    index = {id(e): i for i, e in enumerate(entries)}
    rng = random.Random(seed)
    return Counter(index[id(storage.select(1, rng)[0])] for _ in range(draws))


CASES = {
    "random": ([Policy(T.RANDOM)] * 4, [1, 1, 1, 1]),
    "weighted random": (
        [Policy(T.WEIGHTED_RANDOM, weight=w) for w in (1, 2, 3, 4)],
        [1, 2, 3, 4],
    ),
    "randomized least used": (
        [Policy(T.RANDOMIZED_LEAST_USED, load=pct * PCT) for pct in (0, 25, 50, 75)],
        [MAX_LOAD - pct * PCT for pct in (0, 25, 50, 75)],
    ),
    "randomized priority least used": (
        [
            Policy(T.RANDOMIZED_PRIORITY_LEAST_USED, load=x * PCT, load_degradation=d * PCT)
            for x, d in ((0, 0), (20, 20), (50, 10), (10, 80))
        ],
        [100, 60, 40, 10],
    ),
    "weighted random dpf": (
        [
            Policy(T.WEIGHTED_RANDOM_DPF, weight=1000, weight_dpf=FULL_LOAD // 1000, distance=d)
            for d in (0, 100, 250, 500)
        ],
        [1000, 900, 750, 500],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", [1, 2])
def test_single_draw_frequencies_follow_the_values(case: str, seed: int) -> None:
    policies, weights = CASES[case]
    draws = 20_000
    counts = draw_counts(policies, draws, seed)
    expected = [draws * w / sum(weights) for w in weights]
    assert chi_square(counts, expected) < CHI2_CRITICAL_0_001[len(weights) - 1], counts


def test_chi_square_detects_a_wrong_distribution() -> None:
    """The bound is not vacuous: uniform draws fail against weights 1:2:3:4."""
    counts = draw_counts([Policy(T.RANDOM)] * 4, 20_000, 1)
    expected = [20_000 * w / 10 for w in (1, 2, 3, 4)]
    assert chi_square(counts, expected) > CHI2_CRITICAL_0_001[3]


def test_draws_without_replacement_give_the_right_ordered_pairs() -> None:
    # Weights 1:2:3 -> P(first=i, second=j) = w_i/6 * w_j/(6 - w_i).
    weights = [1, 2, 3]
    storage, entries = storage_of([Policy(T.WEIGHTED_RANDOM, weight=w) for w in weights])
    index = {id(e): i for i, e in enumerate(entries)}
    rng = random.Random(7)
    draws = 30_000
    counts: Counter[tuple[int, int]] = Counter()
    for _ in range(draws):
        a, b = storage.select(2, rng)
        counts[(index[id(a)], index[id(b)])] += 1
    pairs = list(itertools.permutations(range(3), 2))
    expected = [draws * weights[i] / 6 * weights[j] / (6 - weights[i]) for i, j in pairs]
    observed = Counter({k: counts[p] for k, p in enumerate(pairs)})
    assert chi_square(observed, expected) < CHI2_CRITICAL_0_001[5]


def test_zero_weight_is_never_selected_and_values_are_restored() -> None:
    storage, entries = storage_of([Policy(T.WEIGHTED_RANDOM, weight=w) for w in (0, 5, 0)])
    rng = random.Random(3)
    for _ in range(200):
        assert storage.select(3, rng) == [entries[1]]
    assert [storage.value_of(e) for e in entries] == [0, 5, 0]  # type: ignore[attr-defined]


def test_fully_loaded_pe_keeps_a_tiny_chance() -> None:
    storage, entries = storage_of(
        [Policy(T.RANDOMIZED_LEAST_USED, load=FULL_LOAD), Policy(T.RANDOMIZED_LEAST_USED)]
    )
    assert storage.value_of(entries[0]) == 1  # type: ignore[attr-defined]
    assert len(storage.select(2, random.Random(0))) == 2


def test_randomized_degradation_shifts_weight_away_from_selected_pe() -> None:
    storage, entries = storage_of(
        [
            Policy(T.RANDOMIZED_LEAST_USED_DEGRADATION, load=0, load_degradation=40 * PCT),
            Policy(T.RANDOMIZED_LEAST_USED_DEGRADATION, load=50 * PCT, load_degradation=0),
        ]
    )
    before = [storage.value_of(e) for e in entries]  # type: ignore[attr-defined]
    assert before == [FULL_LOAD, FULL_LOAD - 50 * PCT]
    a = entries[0]
    rng = random.Random(5)
    assert any(storage.select(1, rng)[0] is a for _ in range(50))
    assert a.degradation == 40 * PCT and a.selection_counter == 1
    assert storage.value_of(a) == FULL_LOAD - 40 * PCT  # type: ignore[attr-defined]
    storage.update(a, a.policy)  # re-registration resets degradation
    assert a.degradation == 0 and storage.value_of(a) == FULL_LOAD  # type: ignore[attr-defined]


def test_random_max_increment_default_is_zero_like_rsplib() -> None:
    storage, entries = storage_of([Policy(T.WEIGHTED_RANDOM, weight=3)] * 3)
    storage.select(3, random.Random(0))
    assert all(e.selection_counter == 1 for e in entries)
    assert sorted(e.seq_number for e in entries) == [3, 4, 5]


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=80), st.data())
def test_fenwick_tree_matches_naive_prefix_sums(values: list[int], data: st.DataObject) -> None:
    tree = FenwickTree()
    for v in values:
        tree.append(v)
    current = list(values)
    for _ in range(data.draw(st.integers(0, 10))):
        i = data.draw(st.integers(0, len(current) - 1))
        delta = data.draw(st.integers(-current[i], 500))
        tree.add(i, delta)
        current[i] += delta
    assert tree.total == sum(current) and len(tree) == len(current)
    for r in range(tree.total):
        expected = next(i for i in range(len(current)) if sum(current[: i + 1]) > r)
        assert tree.find(r) == expected
