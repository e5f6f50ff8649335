"""The benchmark runner: every cell in a fresh process, repeated, medians and ratios.

``python -m benchmarks [--quick] [--reps N] [--only NAME ...]`` starts the servers
(:mod:`benchmarks.server`, pinned to the last CPU), runs each cell of :data:`WORKLOADS` as
a subprocess pinned to CPU 0, ``--reps`` times, and writes ``benchmarks/RESULTS.md`` and
``benchmarks/results.json``. Ratios to the floor (raw aiohttp, or the bare aiohttp + attrs
+ cattrs import) are taken within a repetition, then their median is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import payloads, report
from benchmarks.server import Servers, pin_to

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ALL = ("raw", "ga", "ga_speedups", "ga_sync", "official", "official_sync")
ASYNC = ("raw", "ga", "ga_speedups", "official")
STREAMING = ("raw", "ga", "ga_sync", "official")
SPEEDUPS = "ga_speedups"  # glean_async with the speedups extra's orjson on its path


@dataclass(frozen=True)
class Workload:
    """A row group of the results: one workload run by several clients.

    ``counts`` maps a client to its number of calls (``"*"``: every other client; for
    ``bulk``, documents). ``floor`` is the client the ratios are taken against (``None``:
    no ratios). ``group`` names a set of workloads ``--only`` can select at once;
    ``reps`` caps the repetitions; ``client_reps`` caps them for some clients (the
    official SDK's bulk cells take minutes each: one run).
    """

    name: str
    kind: str
    clients: tuple[str, ...]
    counts: dict[str, int]
    concurrency: int = 1
    floor: str | None = "raw"
    slow: bool = False
    metrics: tuple[str, ...] = ()
    title: str = ""
    notes: dict[str, str] = field(default_factory=dict)
    group: str = ""
    reps: int | None = None
    client_reps: dict[str, int] = field(default_factory=dict)

    def runs(self, client: str, reps: int) -> int:
        """How many repetitions ``client`` runs when the run has ``reps``."""
        return min(reps, self.reps or reps, self.client_reps.get(client, reps))

    def count(self, client: str, scale: float) -> int:
        """Calls for ``client``, scaled down by ``--quick``."""
        base = self.counts.get(client, self.counts["*"])
        return max(min(base, 3), round(base * scale))


SMALL = ("calls_per_s", "cpu_us_per_call", "peak_rss_mb")
STREAM = ("events_per_s", "cpu_us_per_event", "ttfe_ms", "peak_rss_mb")
SLOW_SMALL = {"official": 400, "official_sync": 400, "*": 3000}
THREADS = "{n} thread(s) sharing one client"


def _index(concurrency: int, clients: tuple[str, ...]) -> Workload:
    notes = {c: THREADS.format(n=concurrency) for c in clients if c.endswith("_sync")}
    return Workload(
        name=f"index_c{concurrency}",
        kind="index",
        clients=clients,
        counts=SLOW_SMALL,
        concurrency=concurrency,
        metrics=SMALL,
        title=f"indexdocuments, 1 small document, concurrency {concurrency}",
        notes=notes,
    )


BULK = ("gen", "raw", "ga", "ga_speedups", "official")
BULK_METRICS = ("docs_per_s", "cpu_us_per_doc", "server_cpu_us_per_doc", "peak_rss_mb")
BULK_NOTES = {
    "gen": "nothing sent: every row's input cost",
    "raw": "json.dumps of each page, posted",
    "ga": "glean.bulk.documents",
    "ga_speedups": "the same with orjson",
    "official": "PushUploader.bulk_index_documents, threads",
}


BULK_SERVER = "glean_async.testing.FakeGleanServer(validate=False), one process per cell"


def _bulk(documents: int, concurrency: int) -> Workload:
    return Workload(
        name=f"bulk_{documents // 1000}k_c{concurrency}",
        kind="bulk",
        clients=BULK,
        counts={"*": documents},
        concurrency=concurrency,
        metrics=BULK_METRICS,
        title=f"bulk upload of {documents:,} documents (--quick: a fifth) from a generator, "
        f"pages of 1,000, concurrency {concurrency}",
        notes=BULK_NOTES,
        group="bulk",
        client_reps={"official": 1},
    )


WORKLOADS: tuple[Workload, ...] = (
    _index(1, ALL),
    _index(16, ALL),
    _index(64, ASYNC),
    _index(256, ("raw", "ga", "official")),
    Workload(
        name="search",
        kind="search",
        clients=ALL,
        counts={"official": 100, "official_sync": 100, "*": 300},
        metrics=SMALL,
        title="search, 219 KB response of 100 results, end to end, concurrency 1",
    ),
    Workload(
        name="decode",
        kind="decode",
        clients=ASYNC,
        counts={"*": 100},
        metrics=("cpu_ms_per_call",),
        title="deserialize the search response alone (no network)",
        notes={
            "raw": "json.loads",
            "ga": "the serializer's decode: loads + structure",
            "ga_speedups": "the same with orjson",
        },
    ),
    Workload(
        name="chat",
        kind="chat",
        clients=ALL,
        counts={"*": 10},
        metrics=STREAM,
        title="chat stream: NDJSON, 2,000 ChatResponse lines per call, 10 calls",
    ),
    Workload(
        name="sse",
        kind="sse",
        clients=ALL,
        counts={"*": 10},
        metrics=STREAM,
        title="agent run stream: SSE, 2,000 events per call, 10 calls",
    ),
    Workload(
        name="ttfe_chat",
        kind="ttfe_chat",
        clients=STREAMING,
        counts={"*": 7},
        slow=True,
        metrics=("ttfe_ms",),
        title="time to first event, chat stream (rest of the body 100 ms later)",
    ),
    Workload(
        name="ttfe_sse",
        kind="ttfe_sse",
        clients=STREAMING,
        counts={"*": 7},
        slow=True,
        metrics=("ttfe_ms",),
        title="time to first event, SSE stream (rest of the body 100 ms later)",
    ),
    Workload(
        name="import",
        kind="import",
        clients=("base", "ga", "ga_sync", "official"),
        counts={"*": 1},
        floor="base",
        metrics=("ms", "peak_rss_mb"),
        title="import in a fresh interpreter (wall ms, process RSS after)",
        notes={
            "base": "import aiohttp, attrs, cattrs",
            "ga": "from glean_async import Glean",
            "ga_sync": "from glean_async.sync import Glean",
            "official": "from glean.api_client import Glean",
        },
    ),
    Workload(
        name="models",
        kind="models",
        clients=("ga", "ga_hooks", "official"),
        counts={"*": 1},
        floor=None,
        metrics=("ms", "peak_rss_mb"),
        title="import and touch every model (fresh interpreter)",
        notes={"ga_hooks": "ga + build every model's wire (un)structure hook"},
    ),
    *(_bulk(documents, c) for documents in (100_000, 500_000) for c in (1, 8, 32)),
)


def cell_argv(workload: Workload, client: str, servers: Servers, scale: float) -> list[str]:
    """The command line of one cell."""
    if workload.kind in ("import", "models"):
        return [sys.executable, str(HERE / "importcell.py"), workload.kind, client, str(ROOT)]
    if workload.kind == "bulk":
        return bulk_argv(workload, client, servers.url, scale)
    url = servers.slow_url if workload.slow else servers.url
    count = str(workload.count(client, scale))
    argv = [sys.executable, "-m", "benchmarks.cell", client, workload.kind, "--url", url]
    return [*argv, "--count", count, "--concurrency", str(workload.concurrency)]


def user_env(client: str = "") -> dict[str, str]:
    """This environment as a user's would be: byte-code caches written and used.

    ``PYTHONDONTWRITEBYTECODE`` (set in some sandboxes and CI images) would make every
    import of the repository's modules compile them from source: 0.3 s and ~28 MB more
    for the generated models alone, while the official SDK's installed caches are used.
    The ``ga_speedups`` cells get the folder ``.ci/bench`` installed orjson into on
    their ``PYTHONPATH`` (``BENCH_SPEEDUPS_PATH``); no other cell sees it.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if client == SPEEDUPS:
        extra = os.environ.get("BENCH_SPEEDUPS_PATH", str(ROOT / ".venv-speedups"))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [extra, env.get("PYTHONPATH")]))
    return env


def compile_sources() -> None:
    """Write the byte-code caches of the repository's packages, as ``pip install`` does."""
    packages = [str(ROOT / name) for name in ("shared", "glean_async", "benchmarks")]
    argv = [sys.executable, "-m", "compileall", "-q", *packages]
    subprocess.run(argv, cwd=ROOT, env=user_env(), check=True, stdout=subprocess.DEVNULL)


def indexing_sdk_python() -> Path:
    """The interpreter of glean-indexing-sdk's own venv (made by ``.ci/bench``).

    glean-indexing-sdk pins an older glean-api-client than the one the other cells
    compare against, so its bulk cell runs apart from ``.venv``.
    """
    configured = os.environ.get("BENCH_INDEXING_SDK_PYTHON")
    return Path(configured) if configured else ROOT / ".venv-indexing-sdk" / "bin" / "python"


def check_indexing_sdk(selected: list[Workload]) -> None:
    """Stop before anything runs when a bulk workload is selected and its venv is missing."""
    python = indexing_sdk_python()
    if any(w.kind == "bulk" for w in selected) and not os.access(python, os.X_OK):
        raise SystemExit(
            f"the bulk cells run glean-indexing-sdk with {python}, which is missing: "
            "`bash .ci/bench` creates it (or set BENCH_INDEXING_SDK_PYTHON)"
        )


def bulk_argv(workload: Workload, client: str, url: str, scale: float) -> list[str]:
    """The command line of one bulk cell (:mod:`benchmarks.bulkcell`).

    ``official`` (glean-indexing-sdk) runs with :func:`indexing_sdk_python`, the others
    with this interpreter.
    """
    python = str(indexing_sdk_python()) if client == "official" else sys.executable
    argv = [python, "-m", "benchmarks.bulkcell", client, "--url", url]
    argv += ["--documents", str(workload.count(client, scale))]
    return [*argv, "--concurrency", str(workload.concurrency)]


def run_bulk_cell(
    workload: Workload, client: str, scale: float, cpus: tuple[int | None, int | None]
) -> dict[str, Any]:
    """A bulk cell against a fresh embedded Glean server of its own (on the server CPU).

    Afterwards the server must hold exactly the uploaded documents (``gen`` sends none).
    """
    from benchmarks.bulkdocs import DATASOURCE
    from benchmarks.bulkserver import BulkServer

    client_cpu, server_cpu = cpus
    if client == "gen":
        return run_cell(bulk_argv(workload, client, "", scale), client_cpu, client)
    with BulkServer(server_cpu, user_env()) as server:
        argv = [*bulk_argv(workload, client, server.url, scale), "--server-pid", str(server.pid)]
        result = run_cell(argv, client_cpu, client)
    held = server.holdings.get("documents", {}).get(DATASOURCE)
    if held != result["documents"]:
        raise RuntimeError(
            f"bulk cell {workload.name}/{client}: the server holds {held} documents "
            f"after an upload of {result['documents']}"
        )
    result["server_documents"] = held
    return result


def run_cell(argv: list[str], cpu: int | None, client: str = "") -> dict[str, Any]:
    """Run one cell process (pinned to ``cpu``) and return its JSON."""
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env=user_env(client),
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=(lambda: pin_to(cpu)),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cell {argv[2:5]} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cpus() -> tuple[int | None, int | None]:
    """(client CPU, server CPU): the first and the last allowed CPU, if there are two."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return allowed[0], allowed[-1]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def aggregate(reps: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per cell: the runs, the median of each metric and of each within-rep ratio."""
    cells: dict[str, Any] = {}
    for workload in WORKLOADS:
        for client in workload.clients:
            key = f"{workload.name}/{client}"
            runs = [rep[key] for rep in reps if key in rep]
            if not runs:
                continue
            entry: dict[str, Any] = {"runs": runs, "median": {}, "ratio": {}, "minus_floor": {}}
            for metric in workload.metrics:
                entry["median"][metric] = _median([r[metric] for r in runs if metric in r])
            floor_key = f"{workload.name}/{workload.floor}"
            if workload.floor and client != workload.floor:
                for metric in workload.metrics:
                    pairs = [
                        (rep[key][metric], rep[floor_key][metric])
                        for rep in reps
                        if key in rep and floor_key in rep and metric in rep[key]
                    ]
                    ratios = [mine / floor for mine, floor in pairs if floor]
                    entry["ratio"][metric] = _median(ratios)
                    entry["minus_floor"][metric] = _median([m - f for m, f in pairs])
            cells[key] = entry
    return cells


def machine() -> dict[str, Any]:
    """What the run ran on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": model,
        "cpus": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def versions() -> dict[str, str]:
    """Versions of the packages compared, and of this repository."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in ("aiohttp", "attrs", "cattrs", "glean-api-client", "httpx", "pydantic"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    found["glean-indexing-sdk"] = indexing_sdk_versions()
    found["orjson (glean_async[speedups] cells)"] = speedups_version()
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        found["repository"] = head + (" (uncommitted changes)" if dirty else "")
    except OSError:
        pass
    return found


def speedups_version() -> str:
    """The version of the orjson the ``ga_speedups`` cells import."""
    script = "import orjson; print(orjson.__version__)"
    done = subprocess.run(
        [sys.executable, "-c", script], env=user_env(SPEEDUPS), capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else "not installed"


def indexing_sdk_versions() -> str:
    """glean-indexing-sdk's version and its glean-api-client's, read in its own venv."""
    script = (
        "from importlib.metadata import version as v; "
        "print(v('glean-indexing-sdk'), v('glean-api-client'))"
    )
    python = indexing_sdk_python()
    try:
        done = subprocess.run([str(python), "-c", script], capture_output=True, text=True)
    except OSError:
        return "not installed"
    if done.returncode != 0:
        return "not installed"
    sdk, client = done.stdout.split()
    return f"{sdk} (in {python.parent.parent.name}, with glean-api-client {client})"


def warm_up(servers: Servers, client_cpu: int | None) -> None:
    """Byte-code caches written and every module loaded once before anything is timed."""
    compile_sources()
    models = next(w for w in WORKLOADS if w.kind == "models")
    for client in ("ga_hooks", "official"):
        run_cell(cell_argv(models, client, servers, 1.0), client_cpu)


def run_all(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    """Run every repetition and return the results document."""
    client_cpu, server_cpu = cpus()
    scale = 0.2 if args.quick else 1.0
    selected = [w for w in WORKLOADS if not args.only or {w.name, w.group} & set(args.only)]
    check_indexing_sdk(selected)
    started = time.monotonic()
    reps: list[dict[str, dict[str, Any]]] = []
    only_bulk = all(w.kind == "bulk" for w in selected)
    with contextlib.ExitStack() as stack:
        servers = None
        server_kind = BULK_SERVER  # each bulk cell starts a server of its own
        if only_bulk:
            compile_sources()
        else:
            servers = stack.enter_context(Servers(server_cpu, use_nginx=not args.no_nginx))
            server_kind = servers.kind
            warm_up(servers, client_cpu)
        log(f"server: {server_kind}; client CPU {client_cpu}, server CPU {server_cpu}")
        for rep in range(args.reps):
            results: dict[str, dict[str, Any]] = {}
            for workload in selected:
                if rep >= workload.runs(workload.clients[0], args.reps):
                    continue
                for client in workload.clients:
                    if rep >= workload.runs(client, args.reps):
                        continue
                    key = f"{workload.name}/{client}"
                    if workload.kind == "bulk":
                        cell = (client_cpu, server_cpu)
                        results[key] = run_bulk_cell(workload, client, scale, cell)
                        continue
                    assert servers is not None
                    argv = cell_argv(workload, client, servers, scale)
                    results[key] = run_cell(argv, client_cpu, client)
                elapsed = time.monotonic() - started
                log(f"rep {rep + 1}/{args.reps}: {workload.name} done ({elapsed:.0f} s)")
            reps.append(results)
    command = "bash .ci/bench" + (" --quick" if args.quick else "")
    if args.only:
        command += " --only " + " ".join(args.only)
    return {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "quick": args.quick,
        "repetitions": max(w.runs(w.clients[0], args.reps) for w in selected),
        "duration_s": round(time.monotonic() - started),
        "machine": machine(),
        "versions": versions(),
        "server": server_kind,
        "pinning": {"client_cpu": client_cpu, "server_cpu": server_cpu},
        "workloads": [
            {
                "name": w.name,
                "title": w.title,
                "floor": w.floor,
                "clients": list(w.clients),
                "calls": {c: w.count(c, scale) for c in w.clients},
                "concurrency": w.concurrency,
                "notes": w.notes,
                "group": w.group,
                "repetitions": w.runs(w.clients[0], args.reps),
                "client_repetitions": {c: w.runs(c, args.reps) for c in w.clients},
                **({"server": BULK_SERVER} if w.kind == "bulk" else {}),
            }
            for w in selected
        ],
        "cells": aggregate(reps),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a fifth of the calls, 1 repetition")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3, quick 1)")
    parser.add_argument("--only", nargs="*", help="workload names to run (default: all)")
    parser.add_argument("--no-nginx", action="store_true", help="use the uvloop server only")
    parser.add_argument(
        "--no-profile", action="store_true", help="skip the cProfile run (benchmarks.hotspots)"
    )
    parser.add_argument("--out", type=Path, default=HERE, help="folder for RESULTS.md/results.json")
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    return args


def carry_over(document: dict[str, Any], previous: Path) -> None:
    """Keep the workloads of the last results that this (``--only``) run did not run.

    Each kept workload says which run it comes from (``run``), so RESULTS.md stays whole
    after ``--only bulk`` without passing the older figures off as new.
    """
    try:
        old = json.loads(previous.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    ran = {w["name"] for w in document["workloads"]}
    origin = {key: old.get(key) for key in ("generated", "command", "server", "versions")}
    order = [w.name for w in WORKLOADS]
    kept = [
        {**w, "run": w.get("run", origin)}
        for w in old.get("workloads", [])
        if w["name"] not in ran and w["name"] in order
    ]
    for workload in kept:
        for key, cell in old.get("cells", {}).items():
            if key.split("/", 1)[0] == workload["name"]:
                document["cells"][key] = cell
    merged = document["workloads"] + kept
    merged.sort(key=lambda w: order.index(w["name"]))
    document["workloads"] = merged


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    payloads.check()
    document = run_all(args, log)
    profile = not args.no_profile and any(w["group"] != "bulk" for w in document["workloads"])
    if args.only:
        carry_over(document, args.out / "results.json")
    document["targets"] = report.targets(document["cells"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(document, indent=1) + "\n")
    markdown = report.markdown(document)
    (args.out / "RESULTS.md").write_text(markdown)
    print(markdown)
    if profile:
        log("profiling glean_async (python -m benchmarks.hotspots)")
        argv = [sys.executable, "-m", "benchmarks.hotspots", "--out", str(args.out / "profiles")]
        argv += ["--quick"] if args.quick else []
        argv += ["--no-nginx"] if args.no_nginx else []
        subprocess.run(argv, cwd=ROOT, env=user_env(), check=True)
