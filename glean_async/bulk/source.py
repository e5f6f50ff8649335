"""The input of a bulk run: any iterable or async iterable, read lazily, one item at a time."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

__all__ = ["Source", "chunks_of", "items_of", "length_hint"]

Source = Iterable[Any] | AsyncIterable[Any]


async def items_of(source: Source) -> AsyncIterator[Any]:
    """The items of ``source``, pulled one at a time as the run needs them."""
    if isinstance(source, AsyncIterable):
        async for item in source:
            yield item
        return
    for item in _checked(source):
        yield item


async def chunks_of(source: Source, size: int = 64) -> AsyncIterator[list[Any]]:
    """The items of ``source`` in lists: of up to ``size`` from a plain iterable (read
    ``size`` at a time, which costs far less per item than an async generator step), of
    one from an async iterable (as each arrives). When the iterable raises, the items
    read before it come first, then the error."""
    if isinstance(source, AsyncIterable):
        async for item in source:
            yield [item]
        return
    iterator = iter(_checked(source))
    while True:
        chunk: list[Any] = []
        try:
            for item in iterator:
                chunk.append(item)
                if len(chunk) == size:
                    break
        except BaseException:
            if chunk:
                yield chunk
            raise
        if not chunk:
            return
        yield chunk


def _checked(source: Iterable[Any]) -> Iterable[Any]:
    if isinstance(source, (str, bytes, bytearray)) or not isinstance(source, Iterable):
        raise TypeError(f"expected an iterable of items, got {type(source).__name__}")
    return source


def length_hint(source: Source) -> int | None:
    """The number of items, when the input knows it without being read."""
    try:
        return len(source)  # type: ignore[arg-type]
    except TypeError:
        return None
