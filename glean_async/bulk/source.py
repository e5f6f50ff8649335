"""The input of a bulk run: any iterable or async iterable, read lazily, one item at a time."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

__all__ = ["Source", "items_of", "length_hint"]

Source = Iterable[Any] | AsyncIterable[Any]


async def items_of(source: Source) -> AsyncIterator[Any]:
    """The items of ``source``, pulled one at a time as the run needs them."""
    if isinstance(source, AsyncIterable):
        async for item in source:
            yield item
        return
    if isinstance(source, (str, bytes, bytearray)) or not isinstance(source, Iterable):
        raise TypeError(f"expected an iterable of items, got {type(source).__name__}")
    for item in source:
        yield item


def length_hint(source: Source) -> int | None:
    """The number of items, when the input knows it without being read."""
    try:
        return len(source)  # type: ignore[arg-type]
    except TypeError:
        return None
