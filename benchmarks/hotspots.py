"""cProfile of glean_async's hot paths, written to ``benchmarks/profiles/*.txt``.

``python -m benchmarks.hotspots [--quick]`` starts the benchmark server (pinned like the
benchmark's) and profiles, in this process, after a warm-up:

* ``index_c64.txt``: ``indexing.documents.index`` (1 small document), concurrency 64;
* ``search.txt``: ``client.search.query`` with the 219 KB response, concurrency 1;
* ``decode.txt``: ``converter.structure`` of that response alone;
* ``chat_stream.txt``: ``client.chat.create_stream`` (NDJSON, 2,000 lines per call);
* ``sse_stream.txt``: ``client.agents.run_stream`` (2,000 events per call);
* ``sync_index_c16.txt``: ``glean_async.sync`` ``index`` from 16 threads, and
  ``sync_chat_stream.txt``: its chat stream.

Every thread is profiled (the calling one, the sync facade's event-loop thread and the
executor threads aiohttp uses), each counting its own CPU time (``time.thread_time``),
so a thread waiting on a lock or on epoll costs nothing. Each file lists the top functions by
own time and by cumulative time, then glean_async's own functions (``shared/``,
``glean_async/``) by own time. cProfile slows Python code unevenly: read the ranks, not
the absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import cell, clients, payloads
from benchmarks.runner import cpus
from benchmarks.server import Servers, pin_to

OUT = Path(__file__).resolve().parent / "profiles"
TOP = 35


class _Snapshot:
    """Stats of a profiler still running in another thread, taken without disabling it.

    ``disable()`` from the wrong thread would close that thread's pending calls (a
    thread blocked in ``queue.get`` or ``epoll``) against this thread's clock.
    """

    def __init__(self, profiler: cProfile.Profile) -> None:
        profiler.snapshot_stats()
        self.stats = profiler.stats

    def create_stats(self) -> None:
        """pstats calls this; the stats are already taken."""


class ThreadProfilers:
    """A CPU-time profiler in every thread started after :meth:`install`.

    That covers the sync facade's event-loop thread and the executor threads that
    aiohttp hands work to, which a profiler of the calling thread alone never sees.
    """

    def __init__(self) -> None:
        self.profilers: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _start(self, frame: Any, event: str, arg: Any) -> None:
        sys.setprofile(None)
        profiler = cProfile.Profile(time.thread_time)
        with self._lock:
            self.profilers.append(profiler)
        profiler.enable()

    def install(self) -> None:
        """Profile threads started from now on."""
        threading.setprofile(self._start)

    def reset(self) -> None:
        """Forget what was measured so far."""
        with self._lock:
            for profiler in self.profilers:
                profiler.clear()

    def add_to(self, stats: pstats.Stats) -> None:
        """Add every thread's measurements to ``stats``."""
        with self._lock:
            for profiler in self.profilers:
                try:
                    stats.add(_Snapshot(profiler))
                except TypeError:  # a thread that did nothing since the reset
                    continue


THREADS = ThreadProfilers()


def measure(run: Callable[[], object]) -> tuple[pstats.Stats, float]:
    """Profile ``run()`` in this thread and in every other thread; (stats, wall seconds)."""
    THREADS.reset()
    profiler = cProfile.Profile(time.thread_time)
    start = time.perf_counter()
    profiler.enable()
    run()
    profiler.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    THREADS.add_to(stats)
    return stats, wall


def render(title: str, stats: pstats.Stats, calls: int, wall: float) -> str:
    """The text of one profile: header, top by tottime, by cumtime, ours by tottime."""
    out = io.StringIO()
    out.write(f"{title}\n{calls} calls in {wall:.2f} s (wall) under cProfile; ")
    out.write("times below are CPU seconds of every thread\n\n")
    ours = "/(shared|glean_async)/"
    for heading, sort, restrictions in (
        ("top functions by own time (tottime)", "tottime", (TOP,)),
        ("top functions by cumulative time", "cumulative", (TOP,)),
        ("glean_async's own code (shared/, glean_async/) by own time", "tottime", (ours, TOP)),
    ):
        out.write(f"=== {heading}\n")
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(sort).print_stats(*restrictions)
    text = out.getvalue()
    return text.replace(str(Path(__file__).resolve().parents[1]) + "/", "")


def profile_async_client(url: str, method: str, count: int, concurrency: int) -> str:
    """Profile ``count`` calls of the async client's ``method``."""
    loop = asyncio.new_event_loop()
    client = clients.GleanAsync(url)
    loop.run_until_complete(client.__aenter__())
    call = getattr(client, method)
    try:
        loop.run_until_complete(cell._drive_async(call, cell.warmup_count(count), concurrency))
        stats, wall = measure(
            lambda: loop.run_until_complete(cell._drive_async(call, count, concurrency))
        )
    finally:
        loop.run_until_complete(client.__aexit__())
        loop.close()
    title = f"glean_async: {method}, concurrency {concurrency}"
    return render(title, stats, count, wall)


def profile_decode(count: int) -> str:
    """Profile ``converter.structure`` of the search response (after ``json.loads``)."""
    import glean_async

    body = payloads.search_body()
    model = glean_async.models.SearchResponse
    structure = glean_async.converter.structure
    structure(json.loads(body), model)

    def run() -> None:
        for _ in range(count):
            structure(json.loads(body), model)

    stats, wall = measure(run)
    title = "glean_async: json.loads + converter.structure(SearchResponse)"
    return render(title, stats, count, wall)


def profile_sync_threads(url: str, method: str, count: int, threads: int) -> str:
    """Profile the sync facade's ``method`` called from ``threads`` threads."""
    with clients.GleanSync(url) as client:
        call = getattr(client, method)
        cell._drive_threads(call, cell.warmup_count(count), threads)
        stats, wall = measure(lambda: cell._drive_threads(call, count, threads))
    title = f"glean_async.sync: {method} from {threads} thread(s)"
    return render(title, stats, count, wall)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Profile glean_async's hot paths.")
    parser.add_argument("--quick", action="store_true", help="a fifth of the calls")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-nginx", action="store_true", help="use the uvloop server only")
    args = parser.parse_args(argv)
    scale = 0.2 if args.quick else 1.0

    def n(count: int) -> int:
        return max(3, round(count * scale))

    args.out.mkdir(parents=True, exist_ok=True)
    client_cpu, server_cpu = cpus()
    THREADS.install()
    with Servers(cpu=server_cpu, use_nginx=not args.no_nginx) as servers:
        pin_to(client_cpu)
        texts = {
            "index_c64": profile_async_client(servers.url, "index", n(3000), 64),
            "search": profile_async_client(servers.url, "search", n(200), 1),
            "decode": profile_decode(n(100)),
            "chat_stream": profile_async_client(servers.url, "chat", n(10), 1),
            "sse_stream": profile_async_client(servers.url, "sse", n(10), 1),
            "sync_index_c16": profile_sync_threads(servers.url, "index", n(1000), 16),
            "sync_chat_stream": profile_sync_threads(servers.url, "chat", n(3), 1),
        }
    for name, text in texts.items():
        (args.out / f"{name}.txt").write_text(text)
        print(f"wrote {args.out / (name + '.txt')}", file=sys.stderr)


if __name__ == "__main__":
    main()
