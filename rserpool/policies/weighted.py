"""Value (random) policies: weighted sampling without replacement over a Fenwick tree.

RSPLIB's value tree (``poolPolicySelectPoolElementNodesByValueTree``) draws ``random % sum`` and
finds the node whose value interval holds it, unlinking drawn nodes so that none is drawn
twice. Here each entry owns a slot of a Fenwick (binary indexed) tree of values: a draw is one
O(log N) descent, taking an entry out for the rest of the draw is one O(log N) update.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from rserpool.policies.definitions import PoolPolicy, ValueFunction
from rserpool.policies.storage import E, SelectionStorage


class FenwickTree:
    """Prefix sums over a growable array of non-negative integers."""

    __slots__ = ("_tree", "total")

    def __init__(self) -> None:
        self._tree: list[int] = [0]  # 1-based
        self.total = 0

    def __len__(self) -> int:
        return len(self._tree) - 1

    def append(self, value: int) -> int:
        """Add a new last element; returns its index. O(log n)."""
        tree = self._tree
        i = len(tree)  # 1-based index of the new element
        node = value
        low = i & -i
        j = i - 1
        while j > i - low:  # children of node i: i-1, then hop by lowest set bit
            node += tree[j]
            j -= j & -j
        tree.append(node)
        self.total += value
        return i - 1

    def add(self, index: int, delta: int) -> None:
        """Element ``index`` += ``delta``. O(log n)."""
        tree = self._tree
        n = len(tree)
        i = index + 1
        while i < n:
            tree[i] += delta
            i += i & -i
        self.total += delta

    def find(self, r: int) -> int:
        """The smallest index whose prefix sum exceeds ``r`` (0 <= r < total). O(log n)."""
        tree = self._tree
        n = len(tree) - 1
        pos = 0
        step = 1 << (n.bit_length() - 1) if n else 0
        while step:
            nxt = pos + step
            if nxt <= n and tree[nxt] <= r:
                pos = nxt
                r -= tree[nxt]
            step >>= 1
        return pos


class ValueSelection(SelectionStorage[E]):
    """Selection storage for Random, Weighted Random (DPF) and the Randomized LU family."""

    __slots__ = ("_entries", "_free", "_tree", "_value", "_values")

    def __init__(self, policy: PoolPolicy) -> None:
        if policy.value is None:
            raise ValueError(f"{policy.name} is not a value policy")
        super().__init__(policy)
        self._value: ValueFunction = policy.value
        self._tree = FenwickTree()
        self._values: list[int] = []
        self._entries: list[E | None] = []
        self._free: list[int] = []

    def _link(self, entry: E) -> None:
        value = self._value(entry)
        if self._free:
            slot = self._free.pop()
            self._entries[slot] = entry
            self._values[slot] = value
            self._tree.add(slot, value)
        else:
            slot = self._tree.append(value)
            self._entries.append(entry)
            self._values.append(value)
        entry.selection_token = slot

    def _unlink(self, entry: E) -> None:
        slot = entry.selection_token
        assert isinstance(slot, int)
        self._tree.add(slot, -self._values[slot])
        self._values[slot] = 0
        self._entries[slot] = None
        self._free.append(slot)

    def select(self, n: int, rng: random.Random, max_increment: int = 0) -> list[E]:
        tree = self._tree
        values = self._values
        entries = self._entries
        chosen: list[E] = []
        slots: list[int] = []
        for _ in range(min(n, self._live)):
            if tree.total < 1:
                break
            slot = tree.find(rng.randrange(tree.total))
            entry = entries[slot]
            assert entry is not None
            tree.add(slot, -values[slot])  # out of the draw until all are drawn
            chosen.append(entry)
            slots.append(slot)
        if not chosen and self._live:
            # Every PE has value 0 (WRAND weights 0, RLU loads 100 %). RFC 5356 §3.2: weight 0
            # means "no capacity", which ranks a PE below every other; when no PE has any,
            # the pool still exists, so the PEs are drawn with equal chances (RAND).
            live = [s for s, e in enumerate(entries) if e is not None]
            slots = rng.sample(live, min(n, len(live)))
            chosen = [e for s in slots if (e := entries[s]) is not None]
            for slot in slots:
                tree.add(slot, -values[slot])  # 0: keeps the restore below symmetric
        limit = self._max_increment(max_increment)
        update = self.policy.update
        for i, entry in enumerate(chosen):
            slot = slots[i]
            entry.seq_number = self._take_seq()
            entry.selection_counter += 1
            if i < limit:
                if update is not None:
                    update(entry)
                values[slot] = self._value(entry)
            tree.add(slot, values[slot])
        return chosen

    def __iter__(self) -> Iterator[E]:
        return (e for e in self._entries if e is not None)

    def in_selection_order(self) -> list[E]:
        live = [(self._values[s], s) for s, e in enumerate(self._entries) if e is not None]
        live.sort(key=lambda vs: (-vs[0], vs[1]))
        return [e for _, s in live if (e := self._entries[s]) is not None]

    def value_of(self, entry: E) -> int:
        """The entry's current weight in the draw."""
        slot = entry.selection_token
        assert isinstance(slot, int)
        return self._values[slot]
