"""Tests of shared.runtime: the background loop, sync clients and sync event streams.

Everything talks real HTTP to an aiohttp.web server that runs on its own event loop in a
thread of the test process (sync clients block, so the server cannot share the test's
loop). Ctrl-C, interpreter exit and fork-then-exit are checked in subprocess scripts
under tests/runtime_scripts/.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from shared import runtime
from shared.runtime import BackgroundLoop, SyncClientBase, SyncEventStream, get_background_loop
from tests import loops
from tests.runtime_scripts.toyclient import ToyClient, ToyStream, ToySyncClient

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "runtime_scripts"
WAIT = 10.0


class ServerState:
    """What the server saw, readable from the test thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.peers: set[tuple[str, int]] = set()
        self.slow_started = threading.Event()
        self.slow_cancelled = threading.Event()
        self.stream_started = threading.Event()
        self.stream_cancelled = threading.Event()

    def reset(self) -> None:
        with self.lock:
            self.peers.clear()
        for event in (
            self.slow_started,
            self.slow_cancelled,
            self.stream_started,
            self.stream_cancelled,
        ):
            event.clear()

    def saw(self, request: web.Request) -> None:
        assert request.transport is not None
        with self.lock:
            self.peers.add(request.transport.get_extra_info("peername"))


def make_app(state: ServerState) -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        state.saw(request)
        return web.Response(text="hello")

    async def echo(request: web.Request) -> web.Response:
        state.saw(request)
        await asyncio.sleep(0.001)
        return web.Response(text=request.query["x"])

    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def slow(request: web.Request) -> web.Response:
        state.slow_started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            state.slow_cancelled.set()
            raise
        return web.Response(text="slow")

    async def lines(request: web.Request) -> web.StreamResponse:
        count, bad = int(request.query["n"]), int(request.query.get("bad", -1))
        response = web.StreamResponse()
        await response.prepare(request)
        for index in range(count):
            await response.write(b"bad\n" if index == bad else f"event {index}\n".encode())
        await response.write_eof()
        return response

    async def lines_slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"first\n")
        state.stream_started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            state.stream_cancelled.set()
            raise
        return response

    app = web.Application()
    for path, handler in [
        ("/hello", hello),
        ("/echo", echo),
        ("/fail", fail),
        ("/slow", slow),
        ("/lines", lines),
        ("/lines-slow", lines_slow),
    ]:
        app.router.add_get(path, handler)
    return app


class ServerThread:
    """An aiohttp.web server on 127.0.0.1 (port 0), on its own loop in a daemon thread."""

    def __init__(self) -> None:
        self.state = ServerState()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(make_app(self.state), handler_cancellation=True)
        self.url = ""

    def start(self) -> None:
        self.thread.start()
        port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(WAIT)
        self.url = f"http://127.0.0.1:{port}"

    async def _start(self) -> int:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return int(self.runner.addresses[0][1])

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(WAIT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


@pytest.fixture(scope="module")
def server_thread() -> Iterator[ServerThread]:
    server = ServerThread()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(server_thread: ServerThread) -> ServerThread:
    server_thread.state.reset()
    return server_thread


@pytest.fixture
def client(server: ServerThread) -> Iterator[ToySyncClient]:
    with ToySyncClient(server.url) as sync_client:
        yield sync_client


@pytest.fixture
def fresh_loop() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


def run_script(name: str, *args: str) -> subprocess.Popen[str]:
    env = loops.subprocess_env({**os.environ, "PYTHONPATH": str(ROOT)})
    return subprocess.Popen(
        [sys.executable, "-W", "default", str(SCRIPTS / name), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class LineReader:
    """Reads a subprocess's stdout lines in a thread, so each read can time out."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=self._pump, args=(stdout,), daemon=True).start()

    def _pump(self, stdout: Any) -> None:
        for line in stdout:
            self.lines.put(line.rstrip("\n"))

    def next(self) -> str:
        return self.lines.get(timeout=WAIT)


# --- BackgroundLoop ---------------------------------------------------------------


async def add(a: int, b: int, *, times: int = 1) -> int:
    await asyncio.sleep(0)
    return (a + b) * times


class Boom(Exception):
    pass


async def explode() -> None:
    await asyncio.sleep(0)
    raise Boom("from the loop")


def test_run_returns_result_with_args_and_kwargs(fresh_loop: BackgroundLoop) -> None:
    assert fresh_loop.run(add, 2, 3, times=4) == 20


def test_run_propagates_exception_type_and_traceback(fresh_loop: BackgroundLoop) -> None:
    with pytest.raises(Boom, match="from the loop") as info:
        fresh_loop.run(explode)
    assert any(entry.name == "explode" for entry in info.traceback)


def test_run_propagates_base_exception_and_loop_survives(fresh_loop: BackgroundLoop) -> None:
    async def leave() -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        fresh_loop.run(leave)
    assert fresh_loop.run(add, 1, 1) == 2


def test_run_from_loop_thread_raises_instead_of_hanging(fresh_loop: BackgroundLoop) -> None:
    async def reenter() -> int:
        return fresh_loop.run(add, 1, 2)

    outcome: list[BaseException | int] = []

    def attempt() -> None:
        try:
            outcome.append(fresh_loop.run(reenter))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(WAIT)
    assert not worker.is_alive(), "run() from the loop thread deadlocked"
    assert len(outcome) == 1
    assert isinstance(outcome[0], RuntimeError)
    assert "background event loop thread" in str(outcome[0])


def test_run_inside_running_loop_works_and_warns_once(fresh_loop: BackgroundLoop) -> None:
    async def main() -> list[int]:
        return [fresh_loop.run(add, 1, index) for index in range(3)]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(main()) == [1, 2, 3]
        assert asyncio.run(main()) == [1, 2, 3]
    runtime_warnings = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime_warnings) == 1
    assert "async client" in str(runtime_warnings[0].message)
    assert runtime_warnings[0].filename == __file__


def test_run_outside_a_loop_does_not_warn(fresh_loop: BackgroundLoop) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fresh_loop.run(add, 1, 2) == 3


def test_close_then_run_starts_a_new_loop(fresh_loop: BackgroundLoop) -> None:
    first = fresh_loop.run(threading_ident)
    fresh_loop.close()
    fresh_loop.close()
    assert not fresh_loop.is_running()
    second = fresh_loop.run(threading_ident)
    assert first != threading.get_ident() and second != threading.get_ident()
    assert fresh_loop.is_running()


def test_close_ends_calls_still_running_on_the_loop(fresh_loop: BackgroundLoop) -> None:
    started = threading.Event()
    unwound = threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            unwound.set()

    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            outcome.append(fresh_loop.run(forever))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    assert started.wait(WAIT)
    fresh_loop.close()
    worker.join(WAIT)
    assert not worker.is_alive(), "a call running at close() never finished"
    assert unwound.is_set()
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError)
    assert "stopped before the call finished" in str(outcome[0])


def _sums_from_threads(
    loop: BackgroundLoop, threads: int, calls: int, gate: threading.Barrier | None = None
) -> dict[int, list[int]]:
    """Each of ``threads`` threads runs ``calls`` calls of ``add`` on ``loop``."""
    results: dict[int, list[int]] = {}

    def work(index: int) -> None:
        if gate is not None:
            gate.wait(WAIT)
        results[index] = [loop.run(add, index, step) for step in range(calls)]

    workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT)
    return results


def test_many_threads_share_the_loop_and_each_get_their_own_result(
    fresh_loop: BackgroundLoop,
) -> None:
    results = _sums_from_threads(fresh_loop, 8, 20)
    assert results == {index: [index + step for step in range(20)] for index in range(8)}


def _count_wake_ups(loop: BackgroundLoop, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of queued calls each wake-up of ``loop`` found, as they happen."""
    wake_ups: list[int] = []
    spawn_queued = loop._spawn_queued

    def counted(running: Any) -> None:
        wake_ups.append(len(running.queue))
        spawn_queued(running)

    monkeypatch.setattr(loop, "_spawn_queued", counted)
    return wake_ups


def test_calls_queued_from_many_threads_share_wake_ups_and_all_run(
    fresh_loop: BackgroundLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls queued while a wake-up of the loop is on its way ride on it; none is lost."""
    wake_ups = _count_wake_ups(fresh_loop, monkeypatch)
    results = _sums_from_threads(fresh_loop, 16, 50, threading.Barrier(16))
    assert results == {index: [index + step for step in range(50)] for index in range(16)}
    assert sum(wake_ups) >= 16 * 50  # every call was started by one wake-up or another
    assert len(wake_ups) <= 16 * 50


def test_calls_queued_while_the_loop_is_busy_are_started_by_one_wake_up(
    fresh_loop: BackgroundLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked, release = threading.Event(), threading.Event()

    async def hold_the_loop() -> None:
        blocked.set()
        release.wait(WAIT)  # blocks the loop thread itself: nothing else runs on it

    holder = threading.Thread(target=fresh_loop.run, args=(hold_the_loop,))
    holder.start()
    assert blocked.wait(WAIT)
    running = fresh_loop._running
    assert running is not None
    wake_ups = _count_wake_ups(fresh_loop, monkeypatch)
    results: dict[int, int] = {}

    def call(index: int) -> None:
        results[index] = fresh_loop.run(add, index, 100)

    callers = [threading.Thread(target=call, args=(index,)) for index in range(8)]
    for caller in callers:
        caller.start()
    deadline = time.monotonic() + WAIT
    while len(running.queue) < 8 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(running.queue) == 8  # queued behind one wake-up the busy loop has not run
    release.set()
    for thread in [holder, *callers]:
        thread.join(WAIT)
    assert results == {index: index + 100 for index in range(8)}
    assert wake_ups == [8]


def test_a_call_to_a_closed_loop_is_refused_and_nothing_stays_queued(
    fresh_loop: BackgroundLoop,
) -> None:
    assert fresh_loop.run(add, 1, 2) == 3
    running = fresh_loop._running
    assert running is not None
    fresh_loop.close()
    running.thread.join(WAIT)
    call: Any = runtime._Call(add, (1, 2), {})
    with pytest.raises(RuntimeError, match="not running"):
        fresh_loop._submit(running, call)
    assert not running.queue and not running.waking
    assert call.done.is_set() and call.cancelled


async def threading_ident() -> int:
    return threading.get_ident()


def test_get_background_loop_is_process_wide() -> None:
    assert get_background_loop() is get_background_loop()


# --- SyncClientBase ----------------------------------------------------------------


def test_sync_client_basic_request(client: ToySyncClient) -> None:
    assert client.get("/hello") == "hello"
    assert client.get("/echo?x=42") == "42"


def test_sync_client_error_propagates_with_its_type(client: ToySyncClient) -> None:
    import aiohttp

    with pytest.raises(aiohttp.ClientResponseError) as info:
        client.get("/fail")
    assert info.value.status == 500
    assert client.get("/hello") == "hello"


def test_sync_client_creates_async_client_lazily_and_closes_it(server: ServerThread) -> None:
    made: list[ToyClient] = []

    def make() -> ToyClient:
        made.append(ToyClient(server.url))
        return made[-1]

    sync_client: SyncClientBase[ToyClient] = SyncClientBase(make)
    assert made == []
    with sync_client as same:
        assert same is sync_client
        assert sync_client._run(lambda c: c.get("/hello")) == "hello"
        assert sync_client._run(lambda c: c.get("/hello")) == "hello"
        assert len(made) == 1
    assert made[0].closed
    sync_client.close()
    with pytest.raises(RuntimeError, match="closed"):
        sync_client._run(lambda c: c.get("/hello"))
    assert len(made) == 1


def test_sync_client_inside_running_loop(client: ToySyncClient) -> None:
    async def main() -> list[str]:
        return [client.get(f"/echo?x={index}") for index in range(3)]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(main()) == ["0", "1", "2"]
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) <= 1


def test_threads_share_one_session_and_connection_pool(server: ServerThread) -> None:
    threads, per_thread, limit = 16, 20, 4
    results: list[list[tuple[str, int]]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    with ToySyncClient(server.url, limit=limit) as sync_client:

        def work(slot: int) -> None:
            try:
                start.wait(WAIT)
                for index in range(per_thread):
                    results[slot].append(sync_client.get_via(f"/echo?x={slot}-{index}"))
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(WAIT * 2)
        async_client = sync_client.async_client()
        connector_id = id(async_client.session().connector)

    assert errors == []
    for slot, pairs in enumerate(results):
        assert [body for body, _ in pairs] == [f"{slot}-{index}" for index in range(per_thread)]
    connectors = {connector for pairs in results for _, connector in pairs}
    assert connectors == {connector_id}
    assert async_client.sessions_created == 1
    assert 1 <= len(server.state.peers) <= limit


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_uses_same_sync_client_then_parent_still_works(
    client: ToySyncClient,
) -> None:
    parent_body, parent_connector = client.get_via("/hello")
    assert parent_body == "hello"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # child: report through the exit status only
        status = 1
        try:
            body, connector = client.get_via("/hello")
            status = 0 if body == "hello" and connector != parent_connector else 2
            client.close()
        finally:
            os._exit(status)
    assert wait_for_child(pid) == 0
    assert client.get_via("/hello") == ("hello", parent_connector)


def wait_for_child(pid: int) -> int:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child hung")


def test_unreferenced_sync_client_is_closed_by_finalizer(server: ServerThread) -> None:
    sync_client = ToySyncClient(server.url)
    assert sync_client.get("/hello") == "hello"
    async_client = sync_client.async_client()
    del sync_client
    deadline = time.monotonic() + WAIT
    while not async_client.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert async_client.closed


# --- SyncEventStream -----------------------------------------------------------------


def test_stream_full_iteration_releases(client: ToySyncClient) -> None:
    stream = client.stream("/lines?n=4")
    underlying = stream_source(stream)
    assert list(stream) == [f"event {index}" for index in range(4)]
    assert underlying.aclose_calls >= 1


def test_stream_break_releases(client: ToySyncClient) -> None:
    stream = client.stream("/lines?n=50")
    underlying = stream_source(stream)
    seen = []
    for event in stream:
        seen.append(event)
        if len(seen) == 2:
            break
    assert seen == ["event 0", "event 1"]
    assert underlying.aclose_calls == 1
    assert list(stream) == []


def test_stream_with_block_releases(client: ToySyncClient) -> None:
    stream = client.stream("/lines?n=50")
    underlying = stream_source(stream)
    with stream as events:
        assert next(events) == "event 0"
        assert next(events) == "event 1"
    assert underlying.aclose_calls == 1
    with pytest.raises(StopIteration):
        next(stream)
    stream.close()
    assert underlying.aclose_calls == 1


def test_stream_error_propagates_and_releases(client: ToySyncClient) -> None:
    stream = client.stream("/lines?n=5&bad=2")
    underlying = stream_source(stream)
    seen = []
    with pytest.raises(ValueError, match="bad event"):
        for event in stream:
            seen.append(event)
    assert seen == ["event 0", "event 1"]
    assert underlying.aclose_calls == 1


def test_stream_next_stops_at_end(client: ToySyncClient) -> None:
    stream = client.stream("/lines?n=1")
    assert next(stream) == "event 0"
    with pytest.raises(StopIteration):
        next(stream)
    assert stream_source(stream).aclose_calls >= 1


def stream_source(stream: SyncEventStream[str]) -> ToyStream:
    source = stream._stream
    assert isinstance(source, ToyStream)
    return source


# --- Subprocess scripts ---------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_request_and_stream_read(server: ServerThread) -> None:
    process = run_script("interrupt.py", server.url)
    try:
        lines = LineReader(process)
        assert lines.next() == "ready hello"
        assert server.state.slow_started.wait(WAIT)
        process.send_signal(signal.SIGINT)
        assert lines.next() == "interrupted-request"
        assert server.state.slow_cancelled.wait(WAIT), "server did not see the request end"

        assert lines.next() == "event first"
        assert server.state.stream_started.wait(WAIT)
        time.sleep(0.2)  # let the script block in the next read
        process.send_signal(signal.SIGINT)
        assert lines.next() == "interrupted-stream"
        assert server.state.stream_cancelled.wait(WAIT), "server did not see the stream end"
        assert lines.next() == "stream-closed 1"
        assert lines.next() == "after hello"
        assert process.wait(WAIT) == 0
    finally:
        process.kill()
        _, stderr = process.communicate()
    assert "Traceback" not in stderr, stderr


def test_never_closed_client_exits_cleanly(server: ServerThread) -> None:
    process = run_script("never_closed.py", server.url)
    stdout, stderr = process.communicate(timeout=WAIT * 2)
    assert process.returncode == 0, stderr
    assert stdout.splitlines() == [
        "global hello",
        "local hello",
        "thread hello",
        "event event 0",
        "done",
        "closed at exit: True",
    ]
    for bad in ("Unclosed", "Event loop is closed", "Traceback", "Exception ignored"):
        assert bad not in stderr, stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_exiting_normally_leaves_parent_working(server: ServerThread) -> None:
    process = run_script("fork_exit.py", server.url)
    stdout, stderr = process.communicate(timeout=WAIT * 2)
    assert process.returncode == 0, stderr
    assert stdout.splitlines() == [
        "parent-before hello",
        "child hello",
        "child-status 0",
        "parent-after hello",
    ]
    for bad in ("Unclosed", "Event loop is closed", "Traceback", "Exception ignored"):
        assert bad not in stderr, stderr
