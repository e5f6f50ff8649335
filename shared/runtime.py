"""Run an async SDK client's coroutines from synchronous code.

The generated sync facades (``flux0_async.sync.Flux0``, ``glean_async.sync.Glean``) are
subclasses of :class:`SyncClientBase`. Every call they make runs on one process-wide
event loop, owned by an anyio :class:`~anyio.from_thread.BlockingPortal` on a daemon
thread (:func:`get_background_loop`). All sync clients, from every thread, therefore
share that loop, and each async client keeps one connection pool.

What the plain portal does not handle is handled here:

- Ctrl-C while a call waits cancels the task on the loop, waits for it to unwind (so the
  connection is closed), then re-raises :class:`KeyboardInterrupt`.
- A call from the loop thread raises :class:`RuntimeError` instead of deadlocking; a
  call from a thread that runs its own event loop works and warns once.
- After ``os.fork()`` the child starts its own loop and its own async clients; the
  parent's are abandoned there, never closed (their loop does not exist in the child).
- At interpreter exit every still-open async client is closed on the loop, then the
  loop is stopped, so a script that never closes its client prints no warnings.

The loop is asyncio's default one, which follows an installed event-loop policy;
:func:`set_loop_factory` picks another (``set_loop_factory(uvloop.new_event_loop)``).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from types import FrameType, TracebackType
from typing import Any, Generic, Protocol, TypeVar, cast

import anyio
from anyio.from_thread import BlockingPortal

__all__ = [
    "AsyncClosable",
    "AsyncEventSource",
    "BackgroundLoop",
    "SyncClientBase",
    "SyncEventStream",
    "get_background_loop",
    "set_loop_factory",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
_SyncClientT = TypeVar("_SyncClientT", bound="SyncClientBase[Any]")
_SyncStreamT = TypeVar("_SyncStreamT", bound="SyncEventStream[Any]")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]

_WAIT_SLICE = 0.2
"""Longest single wait in a calling thread, so Ctrl-C is seen even where waits are not
interruptible (Windows)."""
_CANCEL_GRACE = 5.0
"""How long Ctrl-C waits for the cancelled task to finish before re-raising anyway."""
_CLOSE_GRACE = 5.0
"""How long closing the loop waits for clients and pending cleanups to close."""

_RUNNING_LOOP_WARNING = (
    "A sync SDK client was called from a thread that is running an event loop; the call "
    "blocks that loop until it finishes. In async code use the async client instead "
    "(e.g. `flux0_async.Flux0` with `await`)."
)


class AsyncClosable(Protocol):
    """What a sync client wraps: any object with ``async def aclose()``."""

    def aclose(self) -> Awaitable[None]: ...


class AsyncEventSource(Protocol[T_co]):
    """What a sync event stream wraps: an async iterator with ``async def aclose()``."""

    def __anext__(self) -> Awaitable[T_co]: ...

    def aclose(self) -> Awaitable[None]: ...


A = TypeVar("A", bound=AsyncClosable)


class _Signal:
    """A one-shot flag a thread can wait for: a lighter :class:`threading.Event`.

    ``wait`` blocks on a plain lock (released once, by ``set``), so Ctrl-C interrupts it
    as it interrupts ``Event.wait``.
    """

    __slots__ = ("_flag", "_lock")

    def __init__(self) -> None:
        self._flag = False
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        if not self._flag:
            self._flag = True
            self._lock.release()

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; ``True`` once the flag is set."""
        if self._flag:
            return True
        if self._lock.acquire(timeout=timeout):
            self._lock.release()  # let any other waiter through too
            return True
        return self._flag


class _Call(Generic[T]):
    """One call carried from a calling thread to the loop and its outcome back.

    ``spawned``, ``cancel_requested`` and ``task`` are touched only on the loop thread;
    the outcome is written once on the loop thread and read after ``done`` is set.
    """

    def __init__(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        on_done: Callable[[_Call[Any]], None] | None = None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.on_done = on_done
        self.done = _Signal()
        self.value: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.spawned = False
        self.cancel_requested = False
        self.task: asyncio.Task[None] | None = None  # set while the call runs
        self.tasks: set[asyncio.Task[None]] | None = None  # the set its task is kept in

    def succeed(self, value: Any) -> None:
        self.value = value
        self._finish()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._finish()

    def cancel(self) -> None:
        self.cancelled = True
        self._finish()

    def _finish(self) -> None:
        self.args, self.kwargs = (), {}
        self.done.set()
        if self.on_done is not None:
            self.on_done(self)

    def task_done(self, task: asyncio.Task[None]) -> None:
        """Done callback of the call's task: drops the task from the loop's set; a task
        cancelled before it ran (the loop stopping) still finishes the call (loop thread)."""
        if self.tasks is not None:
            self.tasks.discard(task)
        if not self.done.is_set():
            self.cancel()

    def outcome(self) -> T:
        """Return the value or raise the error (with its own traceback) of a done call."""
        error, self.error = self.error, None
        if error is not None:
            try:
                raise error
            finally:
                error = None
        if self.cancelled:
            raise RuntimeError("The background event loop stopped before the call finished")
        value, self.value = self.value, None
        return cast(T, value)


class _Running:
    """The live parts of a started background loop."""

    def __init__(
        self,
        portal: BlockingPortal,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
    ) -> None:
        self.portal = portal
        self.loop = loop
        # the tasks running calls (the loop holds tasks weakly); no new ones once stopping
        self.tasks: set[asyncio.Task[None]] = set()
        self.accepting = True
        self.thread = thread
        self.thread_id = thread.ident
        self.pid = _PID
        self.finished = False  # set as the loop thread ends
        # calls from other threads waiting to be started, and whether a wake-up of the
        # loop to start them is on its way (one wake-up serves every call queued till then)
        self.queue: collections.deque[_Call[Any]] = collections.deque()
        self.waking = False

    def cancel_queued(self) -> None:
        """Cancel the calls still waiting to be started (the loop is gone or stopping)."""
        while self.queue:
            self.queue.popleft().cancel()

    def usable(self) -> bool:
        return self.pid == _PID and not self.finished


class BackgroundLoop:
    """An asyncio event loop on a daemon thread that synchronous code can call into.

    The loop starts on first use. Use :func:`get_background_loop` for the process-wide
    instance that the sync clients share. ``loop_factory`` makes the event loop each time
    the loop starts (``None``: asyncio's default, which follows the event-loop policy).
    """

    def __init__(self, *, loop_factory: LoopFactory | None = None) -> None:
        self.loop_factory = loop_factory
        self._lock = threading.Lock()
        self._running: _Running | None = None
        self._warned = False
        self._clients: set[_ClientHolder[Any]] = set()
        self._cleanups: set[_Call[Any]] = set()
        _ALL_LOOPS.add(self)

    @property
    def portal(self) -> BlockingPortal:
        """The anyio blocking portal of the loop (started if needed)."""
        return self._ensure_running().portal

    def is_running(self) -> bool:
        """Whether the loop thread is up (in this process)."""
        running = self._running
        return running is not None and running.usable()

    def in_loop_thread(self) -> bool:
        """Whether the current thread is this loop's own thread."""
        running = self._running
        return running is not None and running.thread_id == threading.get_ident()

    def run(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and block until it is done.

        The result is returned and an exception is raised as it was raised on the loop.
        On Ctrl-C the task is cancelled, awaited, and :class:`KeyboardInterrupt`
        re-raised. Raises :class:`RuntimeError` when called from the loop thread.
        """
        running = self._ensure_running()
        self._check_caller(running)
        call: _Call[T] = _Call(fn, args, kwargs)
        self._submit(running, call)
        return self._wait(running, call)

    def close(self) -> None:
        """Close the async clients still open on the loop, then stop the loop.

        Closing a loop that never started (or is already closed) does nothing; the
        next :meth:`run` starts a new loop.
        """
        with self._lock:
            running = self._running
            if running is None or not running.usable():
                self._running = None
                return
            if running.thread_id == threading.get_ident():
                raise RuntimeError("BackgroundLoop.close() cannot be called from the loop thread")
        self._close_clients(running)
        self._wait_for_cleanups()
        with self._lock:
            self._running = None
        with contextlib.suppress(RuntimeError):  # the portal may have stopped already
            running.portal.call(running.portal.stop, True)
        running.thread.join(_CLOSE_GRACE)

    def _ensure_running(self) -> _Running:
        running = self._running
        if running is not None and running.usable():
            return running
        with self._lock:
            if self._running is None or not self._running.usable():
                if _shutdown_started:
                    raise RuntimeError("The interpreter is shutting down; no new SDK calls")
                self._running = self._start()
            return self._running

    def _start(self) -> _Running:
        ready: Future[_Running] = Future()
        thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="sdk-background-loop", daemon=True
        )
        thread.start()
        return ready.result()

    def _thread_main(self, ready: Future[_Running]) -> None:
        try:
            options = {"loop_factory": self.loop_factory} if self.loop_factory else {}
            anyio.run(self._serve, ready, backend="asyncio", backend_options=options)
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
        finally:
            if ready.done() and ready.exception() is None:
                ready.result().finished = True

    async def _serve(self, ready: Future[_Running]) -> None:
        async with BlockingPortal() as portal:
            loop = asyncio.get_running_loop()
            running = _Running(portal, loop, threading.current_thread())
            ready.set_result(running)
            await portal.sleep_until_stopped()
            running.accepting = False
            running.cancel_queued()
            tasks = list(running.tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)

    def _check_caller(self, running: _Running) -> None:
        if running.thread_id == threading.get_ident():
            raise RuntimeError(
                "A sync SDK client was called from its own background event loop thread, "
                "which would deadlock. Inside async code, await the async client instead."
            )
        if self._warned or asyncio._get_running_loop() is None:
            return
        with self._lock:
            first, self._warned = not self._warned, True
        if first:
            warnings.warn(_RUNNING_LOOP_WARNING, RuntimeWarning, stacklevel=_caller_level())

    def _submit(self, running: _Running, call: _Call[Any]) -> None:
        """Queue ``call`` for the loop, waking it unless a wake-up is already on its way."""
        running.queue.append(call)
        if running.waking:
            return  # the wake-up on its way starts this call too (see _spawn_queued)
        running.waking = True
        try:
            running.loop.call_soon_threadsafe(self._spawn_queued, running)
        except RuntimeError:
            running.waking = False
            running.cancel_queued()
            raise RuntimeError("The background event loop is not running") from None

    def _spawn_queued(self, running: _Running) -> None:
        """Start every queued call (loop thread); a call queued from here on wakes it anew."""
        running.waking = False
        queue = running.queue
        while queue:
            self._spawn(running, queue.popleft())

    def _spawn(self, running: _Running, call: _Call[Any]) -> None:
        """Start ``call`` as a plain asyncio task (loop thread)."""
        call.spawned = True
        if not running.accepting:
            call.cancel()
            return
        task = running.loop.create_task(_drive(call))
        running.tasks.add(task)
        call.tasks = running.tasks
        task.add_done_callback(call.task_done)

    def _wait(self, running: _Running, call: _Call[T]) -> T:
        try:
            while not call.done.wait(_WAIT_SLICE):
                pass
        except KeyboardInterrupt:
            self._cancel(running, call)
            _wait_briefly(call.done, _CANCEL_GRACE)
            raise
        return call.outcome()

    def _cancel(self, running: _Running, call: _Call[Any]) -> None:
        try:
            running.loop.call_soon_threadsafe(_cancel_on_loop, call)
        except RuntimeError:
            call.cancel()  # the loop is gone, nothing runs the call any more

    def _submit_cleanup(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn()`` on the loop without waiting (any thread, including the loop's)."""
        running = self._running
        if running is None or not running.usable() or sys.is_finalizing():
            return
        call: _Call[None] = _Call(_quietly, (fn,), {}, on_done=self._cleanups.discard)
        self._cleanups.add(call)
        try:
            running.loop.call_soon_threadsafe(self._spawn, running, call)
        except RuntimeError:
            self._cleanups.discard(call)

    def _wait_for_cleanups(self) -> None:
        deadline = time.monotonic() + _CLOSE_GRACE
        for call in list(self._cleanups):
            call.done.wait(max(0.0, deadline - time.monotonic()))

    def _close_clients(self, running: _Running) -> None:
        if not self._clients:
            return
        call: _Call[None] = _Call(self._aclose_clients, (), {})
        self._submit(running, call)
        self._wait(running, call)

    async def _aclose_clients(self) -> None:
        with anyio.move_on_after(_CLOSE_GRACE):
            async with anyio.create_task_group() as task_group:
                for holder in list(self._clients):
                    task_group.start_soon(_quietly, holder.aclose)

    def _adopt(self, holder: _ClientHolder[Any]) -> None:
        self._clients.add(holder)

    def _release(self, holder: _ClientHolder[Any]) -> None:
        self._clients.discard(holder)

    def _forget(self) -> None:
        """Drop everything inherited from the parent process (in a forked child)."""
        self._lock = threading.Lock()
        self._running = None
        self._warned = False
        self._cleanups = set()
        for holder in list(self._clients):
            holder.abandon()
        self._clients = set()


async def _drive(call: _Call[Any]) -> None:
    """Run a call on the loop and record its outcome (loop thread)."""
    if call.cancel_requested:
        call.cancel()
        return
    call.task = asyncio.current_task()
    try:
        call.succeed(await call.fn(*call.args, **call.kwargs))
    except asyncio.CancelledError:
        call.cancel()
    except BaseException as exc:
        call.fail(exc)
    finally:
        call.task = None
        if not call.done.is_set():
            call.cancel()


def _cancel_on_loop(call: _Call[Any]) -> None:
    """Cancel a call whatever stage it is at (loop thread)."""
    call.cancel_requested = True
    if call.task is not None:
        call.task.cancel()
    elif not call.spawned:
        call.cancel()


async def _quietly(fn: Callable[[], Awaitable[None]]) -> None:
    """Await a cleanup whose failure nobody is left to hear about."""
    with contextlib.suppress(Exception):
        await fn()


def _wait_briefly(event: _Signal, timeout: float) -> None:
    """Wait up to ``timeout`` for ``event``; another Ctrl-C stops waiting."""
    deadline = time.monotonic() + timeout
    try:
        while not event.wait(min(_WAIT_SLICE, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return
    except KeyboardInterrupt:
        return


def _caller_level() -> int:
    """``stacklevel`` that points a warning, warned by the caller of this function, at
    the first frame outside this module."""
    level = 1
    frame: FrameType | None = sys._getframe(1)  # the frame that calls warnings.warn
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
        level += 1
    return level


class _ClientHolder(Generic[A]):
    """The async client behind one sync client.

    Holds no reference to the sync client, so it can serve as that client's finalizer.
    The client is created, used and closed on the loop thread only.
    """

    def __init__(self, make: Callable[[], A]) -> None:
        self._make = make
        self._client: A | None = None
        self._pid = 0
        self.loop: BackgroundLoop | None = None
        self.closed = False

    def current(self, loop: BackgroundLoop) -> A:
        """The async client for this process, created on first use (loop thread)."""
        if self.closed:
            raise RuntimeError("This client is closed")
        if self._client is not None and self._pid != _PID:
            self.abandon()
        if self._client is None:
            self._client = self._make()
            self._pid = _PID
            self.loop = loop
            loop._adopt(self)
        return self._client

    async def aclose(self) -> None:
        self.closed = True
        client, self._client = self._client, None
        if self.loop is not None:
            self.loop._release(self)
        if client is not None and self._pid == os.getpid():
            await client.aclose()
        elif client is not None:
            _ABANDONED.append(client)

    def close_soon(self) -> None:
        """Finalizer: schedule ``aclose`` on the loop without waiting or doing I/O here."""
        loop = self.loop
        if sys.is_finalizing() or loop is None or self._client is None:
            return
        if self._pid != os.getpid():
            self.abandon()
            return
        loop._submit_cleanup(self.aclose)

    def abandon(self) -> None:
        """Forget a client inherited through fork, keeping it alive so it is never closed."""
        if self._client is not None:
            _ABANDONED.append(self._client)
        self._client = None
        self.loop = None


def _on_client(
    holder: _ClientHolder[A], loop: BackgroundLoop, call: Callable[[A], Awaitable[T]]
) -> Awaitable[T]:
    """``call`` on the holder's async client (loop thread): the awaitable itself, not a
    coroutine around it, so a call's task is one frame shallower."""
    return call(holder.current(loop))


class SyncClientBase(Generic[A]):
    """Base class of the generated sync clients: blocking calls over an async client.

    ``make_async_client`` is called (on the loop thread) on first use, and again in a
    child process after ``fork``. Use the client as a context manager or call
    :meth:`close`; a client that is never closed is closed when garbage collected or at
    interpreter exit.
    """

    def __init__(self, make_async_client: Callable[[], A]) -> None:
        holder: _ClientHolder[A] = _ClientHolder(make_async_client)
        self._holder = holder
        self._finalizer = weakref.finalize(self, holder.close_soon)
        self._finalizer.atexit = False

    def _run(self, call: Callable[[A], Awaitable[T]]) -> T:
        """Run ``call(async_client)`` on the background loop and return its result."""
        loop = get_background_loop()
        return cast(T, loop.run(_on_client, self._holder, loop, call))

    def _stream(self, call: Callable[[A], Awaitable[AsyncEventSource[T]]]) -> SyncEventStream[T]:
        """Run ``call(async_client)`` and wrap the async stream it returns."""
        return SyncEventStream(self._run(call), get_background_loop())

    def close(self) -> None:
        """Close the async client (and its connections). Closing twice is fine."""
        if self._holder.closed:
            return
        self._finalizer.detach()
        self._holder.closed = True
        loop = self._holder.loop
        if loop is not None and loop.is_running():
            loop.run(self._holder.aclose)

    def __enter__(self: _SyncClientT) -> _SyncClientT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SyncEventStream(Generic[T]):
    """Blocking iterator over an async event stream, read on the background loop.

    ``for ev in stream`` and ``with stream as events: for ev in events`` both release
    the underlying stream when it is exhausted, on ``break``, on an error and on
    Ctrl-C (which also cancels the pending read).
    """

    def __init__(self, stream: AsyncEventSource[T], loop: BackgroundLoop | None = None) -> None:
        self._stream = stream
        self._loop = loop if loop is not None else get_background_loop()
        self._closed = False
        self._pending: collections.deque[T] = collections.deque()
        self._finalizer = weakref.finalize(self, self._loop._submit_cleanup, stream.aclose)
        self._finalizer.atexit = False

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                try:
                    event = self.__next__()
                except StopIteration:
                    return
                yield event
        finally:
            self.close()

    def __next__(self) -> T:
        if self._pending:
            return self._pending.popleft()
        if self._closed:
            raise StopIteration
        try:
            self._pending.extend(self._loop.run(self._next_items))
        except BaseException:
            self._close_quietly()
            raise
        if not self._pending:
            self.close()
            raise StopIteration
        return self._pending.popleft()

    async def _next_items(self) -> list[T]:
        """One round trip: every item the stream has ready (one network chunk's worth)."""
        next_batch = getattr(self._stream, "next_batch", None)
        if next_batch is not None:
            return list(await next_batch())
        try:
            return [await self._stream.__anext__()]
        except StopAsyncIteration:
            return []

    def close(self) -> None:
        """Release the underlying stream. Closing twice is fine."""
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        self._finalizer.detach()
        if not self._loop.is_running():
            return  # the loop that served the stream is gone, and its connections with it
        if self._loop.in_loop_thread():
            self._loop._submit_cleanup(self._stream.aclose)
        else:
            self._loop.run(self._stream.aclose)

    def _close_quietly(self) -> None:
        """Close after an error without hiding that error."""
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self: _SyncStreamT) -> _SyncStreamT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._close_quietly()


_loop: BackgroundLoop | None = None
_loop_factory: LoopFactory | None = None
_loop_lock = threading.Lock()
_ALL_LOOPS: weakref.WeakSet[BackgroundLoop] = weakref.WeakSet()
_ABANDONED: list[object] = []
"""Async clients inherited through fork: kept alive, never closed, in the child."""
_PID = os.getpid()
"""This process's id, updated in a forked child (cheaper than ``os.getpid()`` per call)."""
_shutdown_started = False


def get_background_loop() -> BackgroundLoop:
    """The process-wide background loop (a fresh one in a forked child)."""
    global _loop
    loop = _loop
    if loop is None:
        with _loop_lock:
            if _loop is None:
                _loop = BackgroundLoop(loop_factory=_loop_factory)
            loop = _loop
    return loop


def set_loop_factory(factory: LoopFactory | None) -> None:
    """Choose the event loop the sync clients run on, e.g. ``uvloop.new_event_loop``.

    Call it before the first sync call (a forked child keeps the choice); ``None``
    restores asyncio's default. Raises :class:`RuntimeError` once the loop is running.
    """
    global _loop_factory
    with _loop_lock:
        if _loop is not None and _loop.is_running():
            raise RuntimeError(
                "The background event loop is already running; "
                "choose its loop factory before the first sync call"
            )
        _loop_factory = factory
        if _loop is not None:
            _loop.loop_factory = factory


def _after_fork_in_child() -> None:
    global _loop, _loop_lock, _PID
    _PID = os.getpid()
    _loop_lock = threading.Lock()
    _loop = None
    for loop in list(_ALL_LOOPS):
        loop._forget()


def _close_at_exit() -> None:
    """Close every open client, then every loop, before the interpreter finalizes."""
    global _shutdown_started
    _shutdown_started = True
    for loop in list(_ALL_LOOPS):
        with contextlib.suppress(Exception):
            loop.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)
