"""The policy table (RSPLIB ``PoolPolicyArray`` in ``poolpolicy-template_impl.h``, RFC 5356).

A policy is one of two kinds:

* **ordered**: PEs are kept sorted by ``key(entry) + (seq_number,)``; a selection returns the
  first *n* and moves the first ``max_increment`` of them behind their equals (new sequence
  number) after applying ``update`` (round counters, degradation).
* **value**: PEs are drawn at random, without replacement, with probability proportional to
  ``value(entry)``; the first ``max_increment`` drawn get ``update`` and a new value.

All loads, degradations and DPFs are fractions of 0xffffffff (``FULL_LOAD``); distances are ms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rserpool.policies.entry import PolicyEntry
from rserpool.wire.constants import FULL_LOAD, PolicyType

MAX_LOAD = FULL_LOAD  # RSPLIB PPV_MAX_LOAD
MAX_WEIGHT = 0xFFFFFFFF  # RSPLIB PPV_MAX_WEIGHT

KeyFunction = Callable[[PolicyEntry], tuple[int, int]]
ValueFunction = Callable[[PolicyEntry], int]
UpdateFunction = Callable[[PolicyEntry], None]


def load_sum(v1: int, v2: int, v3: int = 0) -> int:
    """``v1 + v2 + v3`` clamped to 0..MAX_LOAD (RSPLIB ``getSum``)."""
    return min(max(v1 + v2 + v3, 0), MAX_LOAD)


def value_fraction(v1: int, v2: int = 0, v3: int = 0) -> int:
    """``MAX_LOAD - v1 - v2 - v3`` clamped to 1..MAX_WEIGHT (RSPLIB ``getValueFraction``).

    Never 0: a fully loaded PE keeps a tiny chance of being chosen.
    """
    return min(max(MAX_LOAD - v1 - v2 - v3, 1), MAX_WEIGHT)


def distance_penalty(distance: int, dpf: int) -> float:
    """Distance [ms] × DPF (a fraction of 0xffffffff), as RSPLIB computes it in doubles."""
    return float(distance) * (float(dpf) / float(FULL_LOAD))


def _accumulate_degradation(entry: PolicyEntry) -> None:
    entry.degradation = load_sum(entry.degradation, entry.policy.load_degradation)


def _weighted_round_robin_update(entry: PolicyEntry) -> None:
    if entry.virtual_counter > 1:
        entry.virtual_counter -= 1
    else:
        entry.round_counter += 1
        entry.virtual_counter = entry.policy.weight


def _key_none(entry: PolicyEntry) -> tuple[int, int]:
    return (0, 0)


def _key_weighted_round_robin(entry: PolicyEntry) -> tuple[int, int]:
    return (entry.round_counter, entry.virtual_counter)


def _key_priority(entry: PolicyEntry) -> tuple[int, int]:
    return (-entry.policy.priority, 0)  # highest priority first (RFC 5356 §4.5.2)


def _key_least_used(entry: PolicyEntry) -> tuple[int, int]:
    return (entry.policy.load, 0)


def _key_least_used_degradation(entry: PolicyEntry) -> tuple[int, int]:
    return (load_sum(entry.policy.load, entry.degradation), 0)


def _key_priority_least_used(entry: PolicyEntry) -> tuple[int, int]:
    return (load_sum(entry.policy.load, entry.policy.load_degradation), 0)


def _key_priority_least_used_degradation(entry: PolicyEntry) -> tuple[int, int]:
    p = entry.policy
    return (load_sum(p.load, p.load_degradation, entry.degradation), 0)


def _key_least_used_dpf(entry: PolicyEntry) -> tuple[int, int]:
    p = entry.policy
    v = round(p.load + distance_penalty(p.distance, p.load_dpf) * MAX_LOAD)
    return (min(v, MAX_LOAD), 0)


def _key_least_used_degradation_dpf(entry: PolicyEntry) -> tuple[int, int]:
    p = entry.policy
    v = round(p.load + entry.degradation + distance_penalty(p.distance, p.load_dpf) * MAX_LOAD)
    return (min(v, MAX_LOAD), 0)


def _value_random(entry: PolicyEntry) -> int:
    return 1


def _value_weighted_random(entry: PolicyEntry) -> int:
    return entry.policy.weight


def _value_weighted_random_dpf(entry: PolicyEntry) -> int:
    p = entry.policy
    v = p.weight - round(p.weight * distance_penalty(p.distance, p.weight_dpf))
    if v < 0:
        return 1
    return min(v, MAX_WEIGHT)


def _value_randomized_least_used(entry: PolicyEntry) -> int:
    return value_fraction(entry.policy.load)


def _value_randomized_least_used_degradation(entry: PolicyEntry) -> int:
    return value_fraction(entry.policy.load, entry.degradation)


def _value_randomized_priority_least_used(entry: PolicyEntry) -> int:
    return value_fraction(entry.policy.load, entry.policy.load_degradation)


def _value_randomized_priority_least_used_degradation(entry: PolicyEntry) -> int:
    p = entry.policy
    return value_fraction(p.load, p.load_degradation, entry.degradation)


@dataclass(frozen=True, slots=True)
class PoolPolicy:
    """One row of the policy table."""

    policy_type: PolicyType
    name: str  # RSPLIB's name, as ``rspserver -policy=`` spells it
    default_max_increment: int  # used when the caller's MaxIncrement is 0
    key: KeyFunction | None = None  # ordered policies
    value: ValueFunction | None = None  # value (random) policies
    update: UpdateFunction | None = None  # applied to selected PEs within MaxIncrement
    weighted_rounds: bool = False  # WRR: new PEs join the current round

    @property
    def is_ordered(self) -> bool:
        return self.key is not None


_T = PolicyType
POLICIES: dict[PolicyType, PoolPolicy] = {
    p.policy_type: p
    for p in (
        PoolPolicy(_T.ROUND_ROBIN, "RoundRobin", 1, key=_key_none),
        PoolPolicy(
            _T.WEIGHTED_ROUND_ROBIN,
            "WeightedRoundRobin",
            1,
            key=_key_weighted_round_robin,
            update=_weighted_round_robin_update,
            weighted_rounds=True,
        ),
        PoolPolicy(_T.RANDOM, "Random", 0, value=_value_random),
        PoolPolicy(_T.WEIGHTED_RANDOM, "WeightedRandom", 0, value=_value_weighted_random),
        PoolPolicy(_T.PRIORITY, "Priority", 1, key=_key_priority),
        PoolPolicy(_T.LEAST_USED, "LeastUsed", 1, key=_key_least_used),
        PoolPolicy(
            _T.LEAST_USED_DEGRADATION,
            "LeastUsedDegradation",
            1,
            key=_key_least_used_degradation,
            update=_accumulate_degradation,
        ),
        PoolPolicy(_T.PRIORITY_LEAST_USED, "PriorityLeastUsed", 1, key=_key_priority_least_used),
        PoolPolicy(
            _T.RANDOMIZED_LEAST_USED,
            "RandomizedLeastUsed",
            1,
            value=_value_randomized_least_used,
        ),
        PoolPolicy(
            _T.RANDOMIZED_PRIORITY_LEAST_USED,
            "RandomizedPriorityLeastUsed",
            1,
            value=_value_randomized_priority_least_used,
        ),
        PoolPolicy(
            _T.RANDOMIZED_LEAST_USED_DEGRADATION,
            "RandomizedLeastUsedDegradation",
            1,
            value=_value_randomized_least_used_degradation,
            update=_accumulate_degradation,
        ),
        PoolPolicy(
            _T.PRIORITY_LEAST_USED_DEGRADATION,
            "PriorityLeastUsedDegradation",
            1,
            key=_key_priority_least_used_degradation,
            update=_accumulate_degradation,
        ),
        PoolPolicy(
            _T.RANDOMIZED_PRIORITY_LEAST_USED_DEGRADATION,
            "RandomizedPriorityLeastUsedDegradation",
            1,
            value=_value_randomized_priority_least_used_degradation,
            update=_accumulate_degradation,
        ),
        PoolPolicy(
            _T.WEIGHTED_RANDOM_DPF, "WeightedRandomDPF", 0, value=_value_weighted_random_dpf
        ),
        PoolPolicy(_T.LEAST_USED_DPF, "LeastUsedDPF", 1, key=_key_least_used_dpf),
        PoolPolicy(
            _T.LEAST_USED_DEGRADATION_DPF,
            "LeastUsedDegradationDPF",
            1,
            key=_key_least_used_degradation_dpf,
            update=_accumulate_degradation,
        ),
    )
}


def get_policy(policy_type: PolicyType | int) -> PoolPolicy:
    """The table row for ``policy_type``; KeyError if the type is not supported."""
    try:
        return POLICIES[PolicyType(policy_type)]
    except ValueError:
        raise KeyError(policy_type) from None


def policy_by_name(name: str) -> PoolPolicy:
    """The table row for RSPLIB's policy name (e.g. ``"LeastUsedDegradation"``)."""
    for policy in POLICIES.values():
        if policy.name == name:
            return policy
    raise KeyError(name)
