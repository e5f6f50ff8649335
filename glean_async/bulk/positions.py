"""Acknowledged input positions: ranges with order-sensitive digests, and resume checks.

Each position ``p`` holding an item keyed ``k`` (its id) hashes to a 128-bit number
``h(p, k)``; a range's digest is the sum of those numbers mod 2**128. Sums merge by
addition, so ranges acknowledged out of order join into a few long ones, and because the
position is hashed with the id, the same ids in another order give another digest.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence

from .report import AckRange, BulkResumeError

__all__ = ["AckSet", "ResumeCheck", "item_hash"]

_MASK = (1 << 128) - 1


_BLAKE2B_16 = hashlib.blake2b(digest_size=16)  # copied: cheaper than making one per item


def item_hash(position: int, key: str) -> int:
    """``h(position, key)``: a 128-bit number (BLAKE2b-128 of ``position NUL key``)."""
    state = _BLAKE2B_16.copy()
    state.update(f"{position}\x00{key}".encode())
    return int.from_bytes(state.digest(), "big")


def bytes_key(data: bytes) -> str:
    """The key of an item without an id: a hash of its serialized form."""
    return "\x00" + hashlib.blake2b(data, digest_size=16).hexdigest()


class AckSet:
    """Disjoint acknowledged ranges ``[start, stop)``, kept sorted and merged."""

    def __init__(self, ranges: Iterable[AckRange] = ()) -> None:
        self._starts: list[int] = []
        self._spans: list[list[int]] = []  # [start, stop, digest]
        for span in ranges:
            self.add(span.start, span.stop, int(span.digest, 16))

    def add(self, start: int, stop: int, digest: int) -> None:
        """Add ``[start, stop)`` (not overlapping what is there), merging neighbours."""
        index = bisect.bisect_left(self._starts, start)
        if index > 0 and self._spans[index - 1][1] > start:
            raise ValueError(f"positions {start}..{stop - 1} were already acknowledged")
        if index < len(self._spans) and self._spans[index][0] < stop:
            raise ValueError(f"positions {start}..{stop - 1} were already acknowledged")
        span = [start, stop, digest & _MASK]
        if index > 0 and self._spans[index - 1][1] == start:
            index -= 1
            before = self._spans[index]
            span = [before[0], stop, (before[2] + span[2]) & _MASK]
            del self._starts[index], self._spans[index]
        if index < len(self._spans) and self._spans[index][0] == stop:
            after = self._spans[index]
            span = [span[0], after[1], (span[2] + after[2]) & _MASK]
            del self._starts[index], self._spans[index]
        self._starts.insert(index, span[0])
        self._spans.insert(index, span)

    def add_keys(self, positions: Sequence[int], keys: Sequence[str]) -> None:
        """Add the items at ``positions`` (ascending) keyed ``keys``, run by run."""
        run_start = previous = -2
        digest = 0
        blank, from_bytes = _BLAKE2B_16.copy, int.from_bytes  # item_hash, inlined
        for position, key in zip(positions, keys, strict=True):
            if position != previous + 1:
                if run_start >= 0:
                    self.add(run_start, previous + 1, digest)
                run_start, digest = position, 0
            state = blank()
            state.update(f"{position}\x00{key}".encode())
            digest += from_bytes(state.digest(), "big")
            previous = position
        if run_start >= 0:
            self.add(run_start, previous + 1, digest)

    def __contains__(self, position: int) -> bool:
        index = bisect.bisect_right(self._starts, position) - 1
        return index >= 0 and position < self._spans[index][1]

    def __len__(self) -> int:
        return sum(stop - start for start, stop, _ in self._spans)

    def ranges(self) -> list[AckRange]:
        return [AckRange(start, stop, f"{digest:032x}") for start, stop, digest in self._spans]

    @property
    def end(self) -> int:
        """One past the last acknowledged position (0 when there is none)."""
        return self._spans[-1][1] if self._spans else 0


class ResumeCheck:
    """Checks, position by position, that an input matches a report's ranges.

    Call :meth:`see` for every acknowledged position in order, then :meth:`finish` at
    the end of the input; either raises :class:`BulkResumeError` on a mismatch.
    """

    def __init__(self, ranges: Sequence[AckRange]) -> None:
        self._ranges = sorted(ranges, key=lambda span: span.start)
        self._index = 0
        self._sum = 0
        self.done = not self._ranges

    def see(self, position: int, key: str) -> None:
        span = self._ranges[self._index]
        self._sum += item_hash(position, key)
        if position == span.stop - 1:
            if f"{self._sum & _MASK:032x}" != span.digest:
                raise BulkResumeError(
                    f"the input does not match the report being resumed: the items at "
                    f"positions {span.start}..{span.stop - 1} have other ids (or another "
                    "order) than the ones acknowledged; nothing was sent"
                )
            self._sum = 0
            self._index += 1
            self.done = self._index == len(self._ranges)

    def finish(self, items_read: int) -> None:
        if not self.done:
            span = self._ranges[self._index]
            raise BulkResumeError(
                f"the input is shorter than the upload being resumed: it ended after "
                f"{items_read} items, but the report acknowledged positions "
                f"{span.start}..{span.stop - 1}; nothing was sent"
            )
