"""Pool member selection policies (RFC 5356 plus RSPLIB 3.4.4's private-use ones), sans-IO.

Randomness comes from an injected :class:`random.Random`; nothing here reads a clock.

Use :func:`new_selection` to get a storage for one pool (registrar) or one cached pool (pool
user), :meth:`SelectionStorage.add`/``remove``/``update`` entries, and
:meth:`SelectionStorage.select` ``n`` distinct ones; :func:`select_from` does a one-shot
selection over any collection of entries.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from rserpool.policies.definitions import (
    MAX_LOAD,
    MAX_WEIGHT,
    POLICIES,
    PoolPolicy,
    get_policy,
    policy_by_name,
)
from rserpool.policies.entry import PolicyEntry
from rserpool.policies.ordered import OrderedSelection, RotationSelection
from rserpool.policies.storage import E, SelectionStorage
from rserpool.policies.weighted import FenwickTree, ValueSelection
from rserpool.wire.constants import PolicyType

__all__ = [
    "MAX_LOAD",
    "MAX_WEIGHT",
    "POLICIES",
    "FenwickTree",
    "OrderedSelection",
    "PolicyEntry",
    "PoolPolicy",
    "RotationSelection",
    "SelectionStorage",
    "ValueSelection",
    "get_policy",
    "new_selection",
    "policy_by_name",
    "select_from",
]


def new_selection(policy_type: PolicyType | int) -> SelectionStorage[E]:
    """An empty selection storage for ``policy_type`` (KeyError if unsupported)."""
    policy = get_policy(policy_type)
    if policy.policy_type == PolicyType.ROUND_ROBIN:
        return RotationSelection(policy)
    if policy.is_ordered:
        return OrderedSelection(policy)
    return ValueSelection(policy)


def select_from(
    entries: Iterable[E],
    n: int,
    rng: random.Random,
    policy_type: PolicyType | int | None = None,
    max_increment: int = 0,
) -> list[E]:
    """One-shot: select ``n`` distinct entries of a collection that has no storage yet.

    The policy type defaults to the first entry's. Runtime state (sequence numbers, degradation,
    WRR counters) starts afresh, so this suits a pool user's freshly resolved list; keep a
    :class:`SelectionStorage` when the rotation must persist between selections.
    """
    items = list(entries)
    if not items:
        return []
    storage: SelectionStorage[E] = new_selection(
        items[0].policy.policy_type if policy_type is None else policy_type
    )
    for entry in items:
        storage.add(entry)
    try:
        return storage.select(n, rng, max_increment)
    finally:
        for entry in items:
            storage.remove(entry)
