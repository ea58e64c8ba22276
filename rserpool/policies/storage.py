"""The selection storage interface (RSPLIB ``PoolElementSelectionStorage``).

A storage holds the PE entries of one pool (or of one pool in a pool user's cache) under one
policy and answers "select n distinct entries". Two implementations exist:
:class:`~rserpool.policies.ordered.OrderedSelection` (a heap) and
:class:`~rserpool.policies.weighted.ValueSelection` (a Fenwick tree); :func:`new_selection`
picks the right one for a policy type.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Iterator
from typing import Generic, TypeVar

from rserpool.policies.definitions import PoolPolicy
from rserpool.policies.entry import PolicyEntry
from rserpool.wire.policy import PoolMemberSelectionPolicy

E = TypeVar("E", bound=PolicyEntry)


class SelectionStorage(abc.ABC, Generic[E]):
    """PE entries of one pool, kept ready for selection under ``policy``.

    Sequence numbers are per storage, as RSPLIB's ``GlobalSeqNumber`` is per pool.
    """

    __slots__ = ("_live", "_next_seq", "policy")

    def __init__(self, policy: PoolPolicy) -> None:
        self.policy = policy
        self._next_seq = 0
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def _take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq = seq + 1
        return seq

    def add(self, entry: E) -> None:
        """Insert a new entry, resetting its state (RSPLIB ``poolNodeAddPoolElementNode``)."""
        if entry.selection_token is not None:
            raise ValueError("entry is already in a selection storage")
        entry.seq_number = self._take_seq()
        entry.selection_counter = 0
        entry.degradation = 0
        entry.round_counter = 0
        entry.virtual_counter = 0
        if self.policy.weighted_rounds:
            entry.round_counter = self._current_round()
            entry.virtual_counter = entry.policy.weight
        self._live += 1
        self._link(entry)

    def remove(self, entry: E) -> None:
        """Take an entry out; O(1) or O(log n)."""
        if entry.selection_token is None:
            raise ValueError("entry is not in a selection storage")
        self._unlink(entry)
        entry.selection_token = None
        self._live -= 1

    def update(self, entry: E, policy: PoolMemberSelectionPolicy) -> bool:
        """Apply re-registered policy settings (RSPLIB ``poolElementNodeUpdate``).

        If the settings changed, or degradation had accumulated, the degradation is reset to 0
        (RFC 5356 §5.2.2), WRR's virtual counter is capped at the new weight and the entry is
        re-sorted; it keeps its sequence number. Returns whether anything changed.
        """
        if (policy is entry.policy or policy == entry.policy) and entry.degradation == 0:
            return False
        entry.policy = policy
        entry.degradation = 0
        entry.virtual_counter = min(entry.virtual_counter, policy.weight)
        self._unlink(entry)
        self._link(entry)
        return True

    def _max_increment(self, max_increment: int) -> int:
        return max_increment if max_increment > 0 else self.policy.default_max_increment

    def _current_round(self) -> int:
        return 0

    @abc.abstractmethod
    def _link(self, entry: E) -> None: ...

    @abc.abstractmethod
    def _unlink(self, entry: E) -> None: ...

    @abc.abstractmethod
    def select(self, n: int, rng: random.Random, max_increment: int = 0) -> list[E]:
        """Select up to ``n`` distinct entries and advance the policy state.

        ``max_increment`` (RSPLIB ``MaxIncrement``, 0 = the policy's default) bounds how many of
        the selected entries get the policy update (rotation, degradation, round counters).
        """

    @abc.abstractmethod
    def __iter__(self) -> Iterator[E]:
        """The entries, in no particular order."""

    @abc.abstractmethod
    def in_selection_order(self) -> list[E]:
        """Ordered policies: the current order; value policies: entries by decreasing value.

        O(n log n): for dumps, tests and documentation, not for the hot path.
        """
