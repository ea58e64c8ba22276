"""Worked examples of every policy, as pasted into docs/policies.md.

python -m rserpool.policies
"""

from __future__ import annotations

import random
from collections import Counter

from rserpool.policies import PolicyEntry, SelectionStorage, get_policy, new_selection
from rserpool.wire.constants import FULL_LOAD, PolicyType
from rserpool.wire.policy import PoolMemberSelectionPolicy

T = PolicyType
PCT = FULL_LOAD // 100  # 1 % of full load
DPF = FULL_LOAD // 1000  # a DPF of 0.1 % per ms

# name -> settings (loads and degradations in %, DPF in units of 0.1 %/ms, distance in ms)
EXAMPLES: dict[PolicyType, dict[str, dict[str, int]]] = {
    T.ROUND_ROBIN: {"A": {}, "B": {}, "C": {}, "D": {}},
    T.WEIGHTED_ROUND_ROBIN: {"A": {"weight": 3}, "B": {"weight": 1}, "C": {"weight": 2}},
    T.RANDOM: {"A": {}, "B": {}, "C": {}, "D": {}},
    T.WEIGHTED_RANDOM: {"A": {"weight": 1}, "B": {"weight": 2}, "C": {"weight": 3}},
    T.PRIORITY: {"A": {"priority": 1}, "B": {"priority": 5}, "C": {"priority": 5}, "D": {}},
    T.LEAST_USED: {"A": {"load": 50}, "B": {"load": 10}, "C": {"load": 10}, "D": {"load": 30}},
    T.LEAST_USED_DEGRADATION: {
        "A": {"load": 10, "load_degradation": 15},
        "B": {"load": 20, "load_degradation": 5},
    },
    T.PRIORITY_LEAST_USED: {
        "A": {"load": 50, "load_degradation": 10},
        "B": {"load": 50, "load_degradation": 50},
        "C": {"load": 55, "load_degradation": 0},
    },
    T.RANDOMIZED_LEAST_USED: {"A": {"load": 0}, "B": {"load": 50}, "C": {"load": 75}},
    T.RANDOMIZED_PRIORITY_LEAST_USED: {
        "A": {"load": 0, "load_degradation": 50},
        "B": {"load": 25, "load_degradation": 0},
        "C": {"load": 50, "load_degradation": 25},
    },
    T.RANDOMIZED_LEAST_USED_DEGRADATION: {
        "A": {"load": 0, "load_degradation": 30},
        "B": {"load": 40, "load_degradation": 0},
    },
    T.PRIORITY_LEAST_USED_DEGRADATION: {
        "A": {"load": 10, "load_degradation": 20},
        "B": {"load": 35, "load_degradation": 5},
    },
    T.RANDOMIZED_PRIORITY_LEAST_USED_DEGRADATION: {
        "A": {"load": 0, "load_degradation": 30},
        "B": {"load": 40, "load_degradation": 0},
    },
    T.WEIGHTED_RANDOM_DPF: {
        "Near": {"weight": 100, "weight_dpf": 1, "distance": 0},
        "Mid": {"weight": 100, "weight_dpf": 1, "distance": 250},
        "Far": {"weight": 100, "weight_dpf": 1, "distance": 750},
    },
    T.LEAST_USED_DPF: {
        "Near": {"load": 20, "load_dpf": 1, "distance": 10},
        "Far": {"load": 10, "load_dpf": 1, "distance": 150},
    },
    T.LEAST_USED_DEGRADATION_DPF: {
        "Near": {"load": 15, "load_degradation": 5, "load_dpf": 1, "distance": 0},
        "Far": {"load": 10, "load_degradation": 5, "load_dpf": 1, "distance": 100},
    },
}
SCALE = {"load": PCT, "load_degradation": PCT, "load_dpf": DPF, "weight_dpf": DPF}


class Demo(PolicyEntry):
    __slots__ = ("name",)

    def __init__(self, name: str, policy: PoolMemberSelectionPolicy) -> None:
        super().__init__(policy)
        self.name = name


def build(policy_type: PolicyType) -> SelectionStorage[Demo]:
    storage: SelectionStorage[Demo] = new_selection(policy_type)
    for name, fields in EXAMPLES[policy_type].items():
        scaled = {k: v * SCALE.get(k, 1) for k, v in fields.items()}
        storage.add(Demo(name, PoolMemberSelectionPolicy(policy_type, **scaled)))
    return storage


def describe(settings: dict[str, int]) -> str:
    units = {"load": "%", "load_degradation": "%", "load_dpf": "‰/ms", "weight_dpf": "‰/ms"}
    units["distance"] = " ms"
    return ", ".join(f"{k}={v}{units.get(k, '')}" for k, v in settings.items()) or "-"


def example(policy_type: PolicyType) -> list[str]:
    policy = get_policy(policy_type)
    lines = [f"{policy.name} (0x{policy_type.value:08x})"]
    for name, settings in EXAMPLES[policy_type].items():
        lines.append(f"  {name}: {describe(settings)}")
    storage = build(policy_type)
    rng = random.Random(5356)
    if policy.is_ordered:
        picks = [storage.select(2, rng) for _ in range(6)]
        lines.append("  6 handle resolutions of 2 PEs: " + " ".join("".join(
            e.name[0] for e in p) for p in picks))  # fmt: skip
    elif policy.update is not None:  # degradation: watch it build up
        sequence = [storage.select(1, rng)[0].name for _ in range(12)]
        lines.append("  12 handle resolutions of 1 PE: " + " ".join(sequence))
    else:
        counts = Counter(storage.select(1, rng)[0].name for _ in range(10_000))
        shares = ", ".join(f"{n} {counts[n] / 100:.1f}%" for n in EXAMPLES[policy_type])
        lines.append(f"  10000 draws of 1 PE: {shares}")
        pairs = ["".join(e.name[0] for e in storage.select(2, rng)) for _ in range(6)]
        lines.append("  6 handle resolutions of 2 PEs: " + " ".join(pairs))
    state = ", ".join(
        f"{e.name} seq={e.seq_number} sel={e.selection_counter}"
        + (f" deg={e.degradation / PCT:.0f}%" if e.degradation else "")
        + (f" round={e.round_counter} virt={e.virtual_counter}" if policy.weighted_rounds else "")
        for e in sorted(storage, key=lambda e: e.name)
    )
    lines.append(f"  state afterwards: {state}")
    return lines


def main() -> None:
    print("Generated by `python -m rserpool.policies` (random.Random(5356), MaxIncrement 0).")
    for policy_type in PolicyType:
        print()
        print("\n".join(example(policy_type)))


if __name__ == "__main__":
    main()
