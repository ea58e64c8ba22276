"""PEs sorted by ``(pool handle, PE id)`` for cursor paging (ENRP Handle Table Response).

A list of sorted blocks of at most ``2 * LOAD`` PEs plus the list of block maxima (as keys),
as in ``sortedcontainers``: insertion and removal cost one bisection over the maxima and one
``memmove`` within a block, i.e. O(log n + LOAD) whatever n is. The blocks hold the PEs
themselves and bisect them by their key, made on the fly: no key tuple kept per PE.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from operator import attrgetter

from rserpool.handlespace.model import Key, PoolElement

LOAD = 256

_key: attrgetter[Key] = attrgetter("pool_handle", "pe_id")


class SortedElements:
    __slots__ = ("_blocks", "_len", "_maxes")

    def __init__(self) -> None:
        self._blocks: list[list[PoolElement]] = []
        self._maxes: list[Key] = []  # each block's last key: one tuple per block, not per PE
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def add(self, pe: PoolElement) -> None:
        maxes = self._maxes
        blocks = self._blocks
        key = _key(pe)
        if not maxes:
            blocks.append([pe])
            maxes.append(key)
        else:
            i = bisect_left(maxes, key)
            if i == len(maxes):
                i -= 1
                blocks[i].append(pe)
                maxes[i] = key
            else:
                insort(blocks[i], pe, key=_key)
            block = blocks[i]
            if len(block) > 2 * LOAD:
                tail = block[LOAD:]
                del block[LOAD:]
                maxes[i] = _key(block[-1])
                blocks.insert(i + 1, tail)
                maxes.insert(i + 1, _key(tail[-1]))
        self._len += 1

    def remove(self, pe: PoolElement) -> None:
        maxes = self._maxes
        key = _key(pe)
        i = bisect_left(maxes, key)
        if i == len(maxes):
            raise KeyError(key)
        block = self._blocks[i]
        j = bisect_left(block, key, key=_key)
        if j == len(block) or block[j] is not pe:
            raise KeyError(key)
        del block[j]
        self._len -= 1
        if not block:
            del self._blocks[i]
            del maxes[i]
        elif j == len(block):
            maxes[i] = _key(block[-1])

    def __iter__(self) -> Iterator[PoolElement]:
        for block in self._blocks:
            yield from block

    def after(self, cursor: Key | None, limit: int) -> list[PoolElement]:
        """Up to ``limit`` PEs whose key is greater than ``cursor`` (from the start if None)."""
        out: list[PoolElement] = []
        if limit <= 0:
            return out
        i = j = 0
        if cursor is not None:
            i = bisect_right(self._maxes, cursor)
            if i == len(self._maxes):
                return out
            j = bisect_right(self._blocks[i], cursor, key=_key)
        blocks = self._blocks
        while i < len(blocks) and len(out) < limit:
            block = blocks[i]
            out.extend(block[j : j + limit - len(out)])
            i += 1
            j = 0
        return out
