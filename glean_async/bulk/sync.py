"""``glean_async.sync.Glean().bulk``: the bulk methods, each blocking.

Uploads run on the sync clients' background event loop. A plain iterator or generator
is read in the calling thread (which would wait anyway), a chunk of items at a time as
the upload asks for them, so it is never drained ahead of the upload, its code never
runs on (or blocks) the event loop, and thread-bound resources it reads from (a
database cursor, say) stay in their thread. Lists and tuples are handed over as they
are. Ctrl-C cancels the upload (no last page is sent) and is re-raised once it has
unwound; errors are raised as the async methods raise them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import queue
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from shared.runtime import get_background_loop

from .api import AsyncBulk

if TYPE_CHECKING:
    from shared.runtime import SyncClientBase

__all__ = ["SyncBulk"]

P = ParamSpec("P")
R = TypeVar("R")

CHUNK = 64
"""Items read from a plain iterator per hop to the event loop (the most read ahead)."""
_SLICE = 0.2
_CANCEL_GRACE = 5.0
_STOP = object()

Chunk = tuple[list[Any], bool, BaseException | None]  # items, input ended, input error


class _Feeder:
    """Hands a plain iterator's items, read in the calling thread, to the event loop."""

    def __init__(self, iterable: Iterable[Any], chunk: int = CHUNK) -> None:
        self._iterable = iterable
        self._chunk = chunk
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancelled = False
        self.read = 0  # items taken from the iterator so far

    # -- loop side ---------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._items()

    async def _items(self) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        while True:
            future: asyncio.Future[Chunk] = loop.create_future()
            self._requests.put((loop, future))
            items, ended, error = await future
            for item in items:
                yield item
            if error is not None:
                raise error
            if ended:
                return

    async def run(self, call: Callable[[], Awaitable[R]]) -> R:
        """Run ``call()`` as the current task, cancellable from the calling thread."""
        self._task, self._loop = asyncio.current_task(), asyncio.get_running_loop()
        if self._cancelled:
            raise asyncio.CancelledError
        return await call()

    # -- calling thread ----------------------------------------------------------------

    def drive(self, blocking: Callable[[], R]) -> R:
        """Run ``blocking()`` (which waits for the upload) on a helper thread while this
        thread feeds the iterator; Ctrl-C cancels the upload and is re-raised."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = blocking()
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                self._requests.put(_STOP)

        helper = threading.Thread(target=target, name="glean-bulk-sync", daemon=True)
        helper.start()
        try:
            self._serve()
            _join(helper, None)
        except BaseException:
            self._cancel()
            _join(helper, _CANCEL_GRACE)
            raise
        if "error" in outcome:
            raise outcome["error"]
        value: R = outcome["value"]
        return value

    def _serve(self) -> None:
        iterator: Iterator[Any] | None = None
        while True:
            try:
                request = self._requests.get(timeout=_SLICE)
            except queue.Empty:
                continue
            if request is _STOP:
                return
            loop, future = request
            if iterator is None:
                iterator = iter(self._iterable)
            loop.call_soon_threadsafe(_settle, future, self._next_chunk(iterator))

    def _next_chunk(self, iterator: Iterator[Any]) -> Chunk:
        items: list[Any] = []
        try:
            for _ in range(self._chunk):
                items.append(next(iterator))
        except StopIteration:
            return items, True, None
        except Exception as exc:
            return items, False, exc
        finally:
            self.read += len(items)
        return items, False, None

    def _cancel(self) -> None:
        self._cancelled = True
        task, loop = self._task, self._loop
        if task is not None and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone, the upload with it
                loop.call_soon_threadsafe(task.cancel)


def _settle(future: asyncio.Future[Chunk], chunk: Chunk) -> None:
    if not future.done():
        future.set_result(chunk)


def _join(thread: threading.Thread, timeout: float | None) -> None:
    """Join ``thread`` in short waits (Ctrl-C stays responsive); ``timeout`` at most."""
    waited = 0.0
    while thread.is_alive() and (timeout is None or waited < timeout):
        thread.join(_SLICE)
        waited += _SLICE


def _needs_feeder(source: Any) -> bool:
    return (
        isinstance(source, Iterable)
        and not isinstance(source, (list, tuple, str, bytes, bytearray, dict))
        and not isinstance(source, AsyncIterable)
    )


def _blocking(
    method: Callable[Concatenate[AsyncBulk, P], Awaitable[R]], source: str | None
) -> Callable[Concatenate[SyncBulk, P], R]:
    """The blocking twin of an :class:`AsyncBulk` method; ``source`` names its input."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def call(self: SyncBulk, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(None, *args, **kwargs)
        feeder = None
        if source is not None and _needs_feeder(bound.arguments.get(source)):
            feeder = _Feeder(bound.arguments[source])
            bound.arguments[source] = feeder
        rest, named = bound.args[1:], bound.kwargs
        return self._run(lambda bulk: method(bulk, *rest, **named), feeder)

    return call


class SyncBulk:
    """The ``bulk`` namespace of :class:`glean_async.sync.Glean`: every
    :class:`~glean_async.bulk.api.AsyncBulk` method, blocking (see the module docstring)."""

    def __init__(self, client: SyncClientBase[Any]) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<SyncBulk of {self._client!r}>"

    def _run(self, call: Callable[[AsyncBulk], Awaitable[R]], feeder: _Feeder | None = None) -> R:
        def on_loop(client: Any) -> Awaitable[R]:
            bulk = AsyncBulk(client._core)
            if feeder is None:
                return call(bulk)
            return feeder.run(lambda: call(bulk))

        if feeder is None:
            return self._client._run(on_loop)
        if get_background_loop().in_loop_thread():  # feeding from there would deadlock
            raise RuntimeError(
                "A sync SDK client was called from its own background event loop thread, "
                "which would deadlock. Inside async code, await the async client instead."
            )
        return feeder.drive(lambda: self._client._run(on_loop))

    documents = _blocking(AsyncBulk.documents, "documents")
    employees = _blocking(AsyncBulk.employees, "employees")
    teams = _blocking(AsyncBulk.teams, "teams")
    users = _blocking(AsyncBulk.users, "users")
    groups = _blocking(AsyncBulk.groups, "groups")
    memberships = _blocking(AsyncBulk.memberships, "memberships")
    shortcuts = _blocking(AsyncBulk.shortcuts, "shortcuts")
    index_documents = _blocking(AsyncBulk.index_documents, "documents")
    delete_documents = _blocking(AsyncBulk.delete_documents, "ids")
    open_upload = _blocking(AsyncBulk.open_upload, "first_page")
    send_pages = _blocking(AsyncBulk.send_pages, "items")
    finish_upload = _blocking(AsyncBulk.finish_upload, "last_page")
