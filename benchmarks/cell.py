"""One benchmark cell, run in a fresh process: prints one JSON object on stdout.

    python -m benchmarks.cell CLIENT WORKLOAD [--url URL] [--count N] [--concurrency C]

Workloads and their clients:

* ``index``, ``search``, ``chat``, ``sse``, ``ttfe_chat``, ``ttfe_sse``: a client of
  :mod:`benchmarks.clients` (``raw``, ``ga``, ``ga_speedups``, ``official``; ``ga_sync``,
  ``official_sync`` with ``--concurrency`` threads) does ``--count`` calls against
  ``--url``, ``--concurrency`` at a time, after a warm-up of :func:`warmup_count` calls;
* ``decode``: the search response body parsed ``--count`` times in process (``raw`` =
  ``json.loads``, ``ga`` = the serializer's ``decode`` (what a response body goes through:
  ``loads`` + ``structure``, the GC paused for a large body), ``official`` = its
  ``unmarshal_json``);

Import-time workloads run in :mod:`benchmarks.importcell` (a plain script).

CPU is the process's user + system time (all its threads, the server excluded) over the
measured phase only; ``peak_rss_mb`` is the process's peak RSS (Linux ``VmHWM``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

NETWORK_WORKLOADS = ("index", "search", "chat", "sse", "ttfe_chat", "ttfe_sse")
STREAMS = ("chat", "sse")


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process image, in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, which starts afresh at ``exec``
    (``ru_maxrss`` would carry the forking parent's size over). Elsewhere ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def warmup_count(count: int) -> int:
    """Calls made before measuring: connections opened, lazy code and hooks built."""
    return max(2, min(200, count // 10))


class Meter:
    """Wall and CPU time of the measured phase."""

    def __enter__(self) -> Meter:
        self.wall0, self.cpu0 = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = cpu_seconds() - self.cpu0


# --- network workloads --------------------------------------------------------------------


def _result(method: str, outcomes: list[Any], meter: Meter) -> dict[str, Any]:
    """Metrics of ``outcomes`` (one per call) measured by ``meter``.

    A stream call's outcome is ``(events, seconds from the call to its first event)``.
    """
    calls = len(outcomes)
    result: dict[str, Any] = {
        "calls": calls,
        "wall_s": meter.wall,
        "cpu_s": meter.cpu,
        "calls_per_s": calls / meter.wall,
        "cpu_us_per_call": meter.cpu / calls * 1e6,
    }
    if method in STREAMS:
        events = sum(count for count, _ in outcomes)
        result["events"] = events
        result["events_per_s"] = events / meter.wall
        result["cpu_us_per_event"] = meter.cpu / events * 1e6
        result["ttfe_ms"] = statistics.median(first * 1000 for _, first in outcomes)
    return result


def _stream_async(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` (a stream) returning the delay of its first event instead of its time."""

    async def timed() -> tuple[int, float]:
        start = time.perf_counter()
        count, first = await call()
        return count, first - start

    return timed


async def _drive_async(call: Callable[[], Any], count: int, concurrency: int) -> list[Any]:
    """``count`` calls of ``call``, ``concurrency`` at a time."""
    outcomes: list[Any] = []
    tickets = iter(range(count))

    async def worker() -> None:
        for _ in tickets:
            outcomes.append(await call())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


async def run_async(client: str, method: str, args: argparse.Namespace) -> dict[str, Any]:
    """A network workload with an async client."""
    from benchmarks.clients import ASYNC_CLIENTS

    async with ASYNC_CLIENTS[client](args.url) as bench_client:
        call = getattr(bench_client, method)
        if method in STREAMS:
            call = _stream_async(call)
        await _drive_async(call, warmup_count(args.count), args.concurrency)
        with Meter() as meter:
            outcomes = await _drive_async(call, args.count, args.concurrency)
    return _result(method, outcomes, meter)


def _stream_sync(call: Callable[[], Any]) -> Callable[[], Any]:
    """Blocking twin of :func:`_stream_async`."""

    def timed() -> tuple[int, float]:
        start = time.perf_counter()
        count, first = call()
        return count, first - start

    return timed


def _drive_threads(call: Callable[[], Any], count: int, threads: int) -> list[Any]:
    """``count`` calls of blocking ``call`` from ``threads`` threads."""
    outcomes: list[Any] = []
    tickets = itertools.count()

    def worker() -> None:
        while next(tickets) < count:
            outcomes.append(call())

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    return outcomes


def run_sync(client: str, method: str, args: argparse.Namespace) -> dict[str, Any]:
    """A network workload with a sync client called from ``--concurrency`` threads."""
    from benchmarks.clients import SYNC_CLIENTS

    with SYNC_CLIENTS[client](args.url) as bench_client:
        call = getattr(bench_client, method)
        if method in STREAMS:
            call = _stream_sync(call)
        _drive_threads(call, warmup_count(args.count), args.concurrency)
        with Meter() as meter:
            outcomes = _drive_threads(call, args.count, args.concurrency)
    return _result(method, outcomes, meter)


# --- in-process workloads -----------------------------------------------------------------


def _decoder(client: str) -> Callable[[bytes], Any]:
    """What each client does with a search response body."""
    if client == "raw":
        return json.loads
    if client in ("ga", "ga_speedups"):
        import glean_async
        from glean_async._generated.wire import SERIALIZER

        model = glean_async.models.SearchResponse
        return lambda body: SERIALIZER.decode(body, model)  # what a response body goes through
    if client == "official":
        from glean.api_client import models
        from glean.api_client.utils import unmarshal_json

        return lambda text: unmarshal_json(text, models.SearchResponse)
    raise SystemExit(f"unknown client for decode: {client}")


def run_decode(client: str, args: argparse.Namespace) -> dict[str, Any]:
    """Parse the search response ``--count`` times (the official SDK gets ``str``)."""
    from benchmarks.payloads import search_body

    body: Any = search_body()
    if client == "official":
        body = body.decode()
    decode = _decoder(client)
    for _ in range(3):
        decode(body)
    with Meter() as meter:
        for _ in range(args.count):
            decode(body)
    return {
        "calls": args.count,
        "wall_s": meter.wall,
        "cpu_s": meter.cpu,
        "cpu_ms_per_call": meter.cpu / args.count * 1000,
    }


# --- entry point --------------------------------------------------------------------------


def check_speedups(client: str) -> None:
    """``ga_speedups`` must see orjson and ``ga`` must not: each row is what it says."""
    import importlib.util

    found = importlib.util.find_spec("orjson") is not None
    if client.startswith("ga") and found != (client == "ga_speedups"):
        state = "finds" if found else "does not find"
        raise SystemExit(f"cell {client} {state} orjson (see BENCH_SPEEDUPS_PATH in .ci/bench)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the cell described by ``args``."""
    check_speedups(args.client)
    if args.workload == "decode":
        return run_decode(args.client, args)
    if args.workload not in NETWORK_WORKLOADS:
        raise SystemExit(f"unknown workload {args.workload}")
    method = args.workload.removeprefix("ttfe_")
    if args.client.endswith("_sync"):
        return run_sync(args.client, method, args)
    return asyncio.run(run_async(args.client, method, args))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run one benchmark cell; prints JSON.")
    parser.add_argument("client")
    parser.add_argument("workload")
    parser.add_argument("--url", default="")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=1)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    result = run(args)
    result.update(
        client=args.client,
        workload=args.workload,
        concurrency=args.concurrency,
        peak_rss_mb=peak_rss_mb(),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
