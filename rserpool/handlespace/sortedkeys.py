"""A sorted list of ``(pool handle, PE id)`` keys for cursor paging (ENRP Handle Table Response).

A list of sorted blocks of at most ``2 * LOAD`` keys plus the list of block maxima, as in
``sortedcontainers``: insertion and removal cost one bisection over the maxima and one
``memmove`` within a block, i.e. O(log n + LOAD) whatever n is.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator

Key = tuple[bytes, int]

LOAD = 256


class SortedKeys:
    __slots__ = ("_blocks", "_len", "_maxes")

    def __init__(self) -> None:
        self._blocks: list[list[Key]] = []
        self._maxes: list[Key] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def add(self, key: Key) -> None:
        maxes = self._maxes
        blocks = self._blocks
        if not maxes:
            blocks.append([key])
            maxes.append(key)
        else:
            i = bisect_left(maxes, key)
            if i == len(maxes):
                i -= 1
                blocks[i].append(key)
                maxes[i] = key
            else:
                insort(blocks[i], key)
            block = blocks[i]
            if len(block) > 2 * LOAD:
                tail = block[LOAD:]
                del block[LOAD:]
                maxes[i] = block[-1]
                blocks.insert(i + 1, tail)
                maxes.insert(i + 1, tail[-1])
        self._len += 1

    def remove(self, key: Key) -> None:
        maxes = self._maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            raise KeyError(key)
        block = self._blocks[i]
        j = bisect_left(block, key)
        if block[j] != key:
            raise KeyError(key)
        del block[j]
        self._len -= 1
        if not block:
            del self._blocks[i]
            del maxes[i]
        elif j == len(block):
            maxes[i] = block[-1]

    def __iter__(self) -> Iterator[Key]:
        for block in self._blocks:
            yield from block

    def after(self, cursor: Key | None, limit: int) -> list[Key]:
        """Up to ``limit`` keys greater than ``cursor`` (from the start if None), in order."""
        out: list[Key] = []
        if limit <= 0:
            return out
        i = j = 0
        if cursor is not None:
            i = bisect_right(self._maxes, cursor)
            if i == len(self._maxes):
                return out
            j = bisect_right(self._blocks[i], cursor)
        blocks = self._blocks
        while i < len(blocks) and len(out) < limit:
            block = blocks[i]
            out.extend(block[j : j + limit - len(out)])
            i += 1
            j = 0
        return out
