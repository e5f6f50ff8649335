"""The stream object returned by streaming operations: items parsed from a live response.

:class:`EventStream` reads the body chunk by chunk, decodes it (SSE or NDJSON), parses
each item into its model and hands it out through ``async for``. Whatever ends the
iteration (end of body, ``break``, an error, cancellation, ``async with`` exit,
:meth:`EventStream.aclose`), the connection is released: returned to the pool when the
body was read to its end, closed otherwise.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import aiohttp

    from shared.sse import Decoder

__all__ = ["EventStream"]

T = TypeVar("T")
R = TypeVar("R")


class EventStream(Generic[T]):
    """Async iterator and async context manager over the items of a streamed response.

    ``response`` is the live aiohttp response; ``decoder`` turns its body chunks into raw
    items (events or JSON values); ``parse`` turns each raw item into what the user gets.
    ``map_error`` converts an exception raised while reading or decoding the body into
    the SDK's own (it may return the exception unchanged); exceptions raised by
    ``parse`` propagate as they are.

    A stream can be iterated once. ``async for`` over it may stop early with ``break``
    while the stream object is still referenced: the iterator it handed out is closed by
    the event loop once dropped, and that releases the connection.
    """

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        decoder: Decoder[R],
        parse: Callable[[R], T],
        *,
        map_error: Callable[[BaseException], BaseException] | None = None,
    ) -> None:
        self.response = response
        self._decoder: Decoder[Any] = decoder
        self._parse: Callable[[Any], T] = parse
        self._map_error = map_error
        self._started = False
        self._closed = False
        self._released = False
        # the iterator handed to ``__anext__`` callers (kept alive by the stream)
        self._own_items: AsyncGenerator[T, None] | None = None
        # the iterator handed out by ``__aiter__`` (kept alive only by the caller)
        self._lent_items: weakref.ref[AsyncGenerator[T, None]] | None = None
        self._ready = 0  # items already decoded and waiting behind the last one handed out
        self._deferred: BaseException | None = None  # raised by the next next_batch()

    def __repr__(self) -> str:
        state = "closed" if self._closed or self._released else "open"
        return f"<EventStream {self.response.method} {self.response.url.path} {state}>"

    def __aiter__(self) -> AsyncIterator[T]:
        """Start iterating (or go on after ``anext``); a stream is iterated only once."""
        if self._closed:
            raise RuntimeError("this stream is closed")
        if self._own_items is not None:
            return self._own_items  # ``anext(stream)`` came first: carry on from there
        if self._started:
            raise RuntimeError("this stream was already iterated; it can be iterated only once")
        self._started = True
        items = self._items()
        self._lent_items = weakref.ref(items)
        return items

    async def __anext__(self) -> T:
        """Return the next item; ``StopAsyncIteration`` at the end or once closed."""
        items = self._own_items
        if items is None:
            items = self._start_own_items()
        if items is None:
            raise StopAsyncIteration
        return await items.__anext__()

    async def next_batch(self, limit: int = 64) -> list[T]:
        """The next item plus up to ``limit - 1`` already decoded after it; ``[]`` at the end.

        Lets a consumer on another thread (the sync facade) make one round trip per
        network chunk (or per ``limit`` items, so the first item is not held back while a
        large chunk is parsed) instead of one per item. An error after the first item is kept
        and raised by the following call, so no item before it is lost.
        """
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        try:
            batch = [await self.__anext__()]
        except StopAsyncIteration:
            return []
        while self._ready > 0 and len(batch) < limit:
            try:
                batch.append(await self.__anext__())
            except StopAsyncIteration:
                break
            except Exception as exc:
                self._deferred = exc
                break
        return batch

    async def __aenter__(self) -> EventStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the stream and release its connection; safe to call more than once."""
        self._closed = True
        for items in (self._own_items, self._lent()):
            if items is not None:
                await _close_quietly(items)
        self._release()

    def _start_own_items(self) -> AsyncGenerator[T, None] | None:
        """First ``__anext__`` call: start the stream's own iterator (``None`` if done)."""
        if self._closed:
            return None
        if self._started:
            return self._lent()  # continue the iterator ``__aiter__`` handed out, if alive
        self._started = True
        self._own_items = self._items()
        return self._own_items

    def _lent(self) -> AsyncGenerator[T, None] | None:
        """The iterator ``__aiter__`` handed out, if the caller still holds it."""
        return self._lent_items() if self._lent_items is not None else None

    async def _items(self) -> AsyncGenerator[T, None]:
        """Read, decode and parse the body; release the connection however this ends."""
        try:
            chunks = self.response.content.iter_any()
            parse = self._parse
            while True:
                raw_items, at_end = await self._read_items(chunks)
                ready = len(raw_items)
                for raw in raw_items:
                    ready -= 1
                    self._ready = ready
                    yield parse(raw)
                if at_end:
                    return
        finally:
            self._release()

    async def _read_items(self, chunks: AsyncIterator[bytes]) -> tuple[list[Any], bool]:
        """Read the next chunk and decode it: (items, end of body reached)."""
        try:
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return self._decoder.flush(), True
            return self._decoder.feed(chunk), False
        except Exception as exc:
            if self._map_error is None:
                raise
            mapped = self._map_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def _release(self) -> None:
        """Return the connection to the pool if the body was read whole, else close it."""
        if self._released:
            return
        self._released = True
        if self.response.content.is_eof():
            self.response.release()
        else:
            self.response.close()


async def _close_quietly(items: AsyncGenerator[Any, None]) -> None:
    """Close an iterator; one still running in another task is left to its task."""
    # "already running" raises RuntimeError: the caller closes the connection instead
    with contextlib.suppress(RuntimeError):
        await items.aclose()
