"""The issue's targets checked against the medians, and ``RESULTS.md`` rendered from them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

NAMES = {
    "raw": "raw aiohttp (floor)",
    "base": "aiohttp + attrs + cattrs (floor)",
    "ga": "glean_async",
    "ga_speedups": "glean_async[speedups]",
    "ga_sync": "glean_async.sync",
    "ga_hooks": "glean_async + every model's hooks",
    "official": "official SDK, async",
    "official_sync": "official SDK, sync",
    "gen": "input generator alone",
}
BULK_NAMES = {"official": "glean-indexing-sdk"}
METRICS = {
    "calls_per_s": ("req/s", "{:,.0f}"),
    "cpu_us_per_call": ("CPU µs/req", "{:,.0f}"),
    "peak_rss_mb": ("peak RSS MiB", "{:.0f}"),
    "events_per_s": ("events/s", "{:,.0f}"),
    "cpu_us_per_event": ("CPU µs/event", "{:.1f}"),
    "ttfe_ms": ("first event ms", "{:.1f}"),
    "cpu_ms_per_call": ("CPU ms/parse", "{:.2f}"),
    "ms": ("ms", "{:.0f}"),
    "docs_per_s": ("docs/s", "{:,.0f}"),
    "cpu_us_per_doc": ("client CPU µs/doc", "{:.1f}"),
    "server_cpu_us_per_doc": ("server CPU µs/doc", "{:.1f}"),
}


@dataclass(frozen=True)
class Target:
    """One target of the issue: ``cell``'s ``metric`` (as ``kind``) against ``limit``."""

    text: str
    cell: str
    metric: str
    kind: str  # "ratio" (to the floor), "minus" (minus the floor) or "value"
    limit: float
    higher_is_better: bool = False


def _small(c: int) -> tuple[Target, Target]:
    """Issue 4's two small-request targets at concurrency ``c``."""
    cell = f"index_c{c}/ga"
    return (
        Target(f"req/s, concurrency {c}, >= 0.80 x raw", cell, "calls_per_s", "ratio", 0.8, True),
        Target(
            f"CPU/request, concurrency {c}, <= 1.4 x raw", cell, "cpu_us_per_call", "ratio", 1.4
        ),
    )


IMPORT = "`from glean_async import Glean`"
ISSUE_4 = (
    *_small(16),
    *_small(64),
    *_small(256),
    Target(
        "sync, 16 threads: req/s >= 0.5 x raw at concurrency 16",
        "index_c16/ga_sync",
        "calls_per_s",
        "ratio",
        0.5,
        higher_is_better=True,
    ),
    Target(
        "big search CPU/request <= 2.5 x raw + json.loads",
        "search/ga",
        "cpu_us_per_call",
        "ratio",
        2.5,
    ),
    Target(f"{IMPORT} <= base import + 60 ms", "import/ga", "ms", "minus", 60),
    Target(f"{IMPORT}: RSS <= 40 MB", "import/ga", "peak_rss_mb", "value", 40),
    Target("import and touch every model <= 0.7 s", "models/ga", "ms", "value", 700),
    Target("peak RSS, concurrency 64, <= 1.3 x raw", "index_c64/ga", "peak_rss_mb", "ratio", 1.3),
    Target("SSE CPU/event <= 1.5 x raw + json.loads", "sse/ga", "cpu_us_per_event", "ratio", 1.5),
    Target(
        "NDJSON CPU/event <= 1.5 x raw + json.loads", "chat/ga", "cpu_us_per_event", "ratio", 1.5
    ),
)
BULK_CELLS = [f"bulk_{n}_c{c}" for n in ("100k", "500k") for c in (1, 8, 32)]
ISSUE_11 = (
    *(
        Target(f"indexdocuments req/s, concurrency {c}, >= 0.85 x raw",
               f"index_c{c}/ga", "calls_per_s", "ratio", 0.85, True)
        for c in (1, 16, 64, 256)
    ),
    *(
        Target(f"indexdocuments CPU/request, concurrency {c}, <= 1.25 x raw",
               f"index_c{c}/ga", "cpu_us_per_call", "ratio", 1.25)
        for c in (16, 64)
    ),
    Target("big search CPU/request, end to end, <= 2.0 x raw",
           "search/ga", "cpu_us_per_call", "ratio", 2.0),
    Target("json.loads + structure the search response <= 2.5 x json.loads (GC on)",
           "decode/ga", "cpu_ms_per_call", "ratio", 2.5),
    Target("NDJSON chat CPU/event <= 1.4 x raw + json.loads",
           "chat/ga", "cpu_us_per_event", "ratio", 1.4),
    Target("SSE CPU/event <= 1.3 x raw + json.loads",
           "sse/ga", "cpu_us_per_event", "ratio", 1.3),
    Target("sync facade, 16 threads: req/s >= 0.65 x raw async at concurrency 16",
           "index_c16/ga_sync", "calls_per_s", "ratio", 0.65, True),
    *(
        Target(f"bulk docs/s, {cell[5:].replace('_c', ' documents, concurrency ')}, "
               ">= 0.9 x the raw-aiohttp floor", f"{cell}/ga", "docs_per_s", "ratio", 0.9, True)
        for cell in BULK_CELLS
    ),
)  # fmt: skip
SECTIONS = {
    "issue 11: the request and response paths at the floor": ISSUE_11,
    "issue 4": ISSUE_4,
}
TARGETS = (*ISSUE_11, *ISSUE_4)


def _value(cells: dict[str, Any], cell: str, metric: str, kind: str) -> float | None:
    entry = cells.get(cell)
    if entry is None:
        return None
    table = {"ratio": "ratio", "minus": "minus_floor", "value": "median"}[kind]
    value: float | None = entry[table].get(metric)
    return value


def targets(cells: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with glean_async's value, the official SDK's, and whether it is met."""
    checked = []
    for section, section_targets in SECTIONS.items():
        checked += [dict(item, section=section) for item in _checked(cells, section_targets)]
    return checked


def _checked(cells: dict[str, Any], section: tuple[Target, ...]) -> list[dict[str, Any]]:
    checked = []
    for target in section:
        value = _value(cells, target.cell, target.metric, target.kind)
        workload, client = target.cell.split("/")
        official = "official_sync" if client == "ga_sync" else "official"
        theirs = _value(cells, f"{workload}/{official}", target.metric, target.kind)
        faster = None
        if client == "ga":
            faster = _value(cells, f"{workload}/ga_speedups", target.metric, target.kind)
        met = None
        miss = None
        if value is not None:
            met = value >= target.limit if target.higher_is_better else value <= target.limit
            if not met and target.kind != "minus":
                miss = value / target.limit - 1 if target.limit else None
            elif not met:
                miss = value - target.limit
        checked.append(
            {
                "target": target.text,
                "cell": target.cell,
                "metric": target.metric,
                "kind": target.kind,
                "limit": target.limit,
                "value": value,
                "official": theirs,
                "speedups": faster,
                "met": met,
                "miss": miss,
            }
        )
    return checked


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def _target_value(item: dict[str, Any]) -> str:
    value = item["value"]
    if value is None:
        return "not run"
    if item["kind"] == "ratio":
        return f"{value:.2f} x"
    if item["kind"] == "minus":
        return f"{value:+.0f} ms"
    return f"{value:.0f}"


def _miss(item: dict[str, Any]) -> str:
    if item["met"] is None:
        return "not run"
    if item["met"]:
        return "met"
    if item["kind"] == "minus":
        return f"**missed** by {item['miss']:.0f} ms"
    return f"**missed** ({item['miss'] * 100:+.0f}% vs limit)"


def _targets_table(items: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| target | glean_async | glean_async[speedups] | official SDK (bulk: "
        "glean-indexing-sdk) | verdict (glean_async) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for item in items:
        theirs = _target_value(dict(item, value=item["official"]))
        faster = _target_value(dict(item, value=item.get("speedups")))
        cells = [item["target"], _target_value(item), faster, theirs, _miss(item)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _targets_sections(items: list[dict[str, Any]]) -> list[str]:
    """One targets table per issue (results from before the sections were one issue's)."""
    lines = []
    for section in dict.fromkeys(item.get("section", "issue 4") for item in items):
        chosen = [item for item in items if item.get("section", "issue 4") == section]
        lines += [f"## Targets ({section})", "", *_targets_table(chosen), ""]
    return lines


def _workload_table(workload: dict[str, Any], cells: dict[str, Any]) -> list[str]:
    metrics = next(
        (list(cells[f"{workload['name']}/{c}"]["median"]) for c in workload["clients"]
         if f"{workload['name']}/{c}" in cells),
        [],
    )  # fmt: skip
    floor = workload["floor"]
    bulk = workload.get("group") == "bulk"
    header = ["client", "documents" if bulk else "calls"]
    for metric in metrics:
        header.append(METRICS[metric][0])
        if floor:
            header.append("x floor")
    if workload["name"] == "import":
        header.append("ms minus floor")
    lines = [f"### {workload['title']}", "", *_provenance(workload)]
    lines += [
        "| " + " | ".join(header) + " |",
        "| --- | " + " | ".join("---:" for _ in header[1:]) + " |",
    ]
    for client in workload["clients"]:
        entry = cells.get(f"{workload['name']}/{client}")
        if entry is None:
            continue
        name = (bulk and BULK_NAMES.get(client)) or NAMES.get(client, client)
        note = workload["notes"].get(client)
        row = [f"{name} ({note})" if note else name, f"{workload['calls'][client]:,}"]
        for metric in metrics:
            row.append(_fmt(entry["median"].get(metric), METRICS[metric][1]))
            if floor:
                ratio = entry["ratio"].get(metric)
                row.append("1" if client == floor else _fmt(ratio))
        if workload["name"] == "import":
            minus = entry["minus_floor"].get("ms")
            row.append("0" if client == floor else _fmt(minus, "{:+.0f}"))
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def _provenance(workload: dict[str, Any]) -> list[str]:
    """Where a table's figures come from, when not from the run in the page's header."""
    lines = []
    run = workload.get("run")
    if run:
        server = f"; server: {run['server']}" if run.get("server") else ""
        official = (run.get("versions") or {}).get("glean-api-client")
        server += f"; glean-api-client {official}" if official else ""
        lines.append(f"From the earlier run of {run['generated']} (`{run['command']}`{server}).")
    if workload.get("server"):
        reps = workload.get("repetitions", 1)
        fewer = {
            client: count
            for client, count in (workload.get("client_repetitions") or {}).items()
            if count != reps
        }
        but = "".join(f" ({client}: {count})" for client, count in fewer.items())
        lines.append(
            f"Server: {workload['server']}, pinned like the others; {reps} repetition(s){but}; "
            "each cell uploads its documents once, after a warm-up upload of 2,000."
        )
    return [*lines, ""] if lines else []


def _bulk_value(cells: dict[str, Any], workload: str, client: str, metric: str) -> Any:
    entry = cells.get(f"{workload}/{client}")
    return None if entry is None else entry["median"].get(metric)


def _bulk_table(document: dict[str, Any]) -> list[str]:
    """One row per bulk workload: throughput, where the CPU goes, and memory."""
    cells = document["cells"]
    rows = [w for w in document["workloads"] if w.get("group") == "bulk"]
    if not rows:
        return []
    lines = [
        "## Bulk uploads: where the time goes",
        "",
        "docs/s of each uploader; CPU per document of glean_async's process minus the "
        "generator's (what the SDK itself costs), of raw aiohttp's minus the generator's, "
        "and of the server while glean_async uploaded; peak RSS of each uploader's process "
        "(flat from 100k to 500k documents when the input is streamed).",
        "",
        "| documents | concurrency | docs/s raw | docs/s glean_async | docs/s glean-indexing-sdk "
        "| client CPU µs/doc raw | client CPU µs/doc glean_async | server CPU µs/doc "
        "| peak RSS MiB raw / glean_async / glean-indexing-sdk |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload in rows:
        name = workload["name"]
        value = functools.partial(_bulk_value, cells, name)
        generator = value("gen", "cpu_us_per_doc") or 0.0
        net = [value(c, "cpu_us_per_doc") for c in ("raw", "ga")]
        rss = " / ".join(_fmt(value(c, "peak_rss_mb"), "{:.0f}") for c in ("raw", "ga", "official"))
        row = [
            f"{workload['calls']['ga']:,}",
            str(workload["concurrency"]),
            *(_fmt(value(c, "docs_per_s"), "{:,.0f}") for c in ("raw", "ga", "official")),
            *(_fmt(None if v is None else v - generator, "{:.1f}") for v in net),
            _fmt(value("ga", "server_cpu_us_per_doc"), "{:.1f}"),
            rss,
        ]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def markdown(document: dict[str, Any]) -> str:
    """``RESULTS.md``: the machine, the targets, then one table per workload."""
    machine, versions = document["machine"], document["versions"]
    pinning = document["pinning"]
    pinned = "no CPU pinning (fewer than 2 CPUs or no sched_setaffinity)"
    if pinning["client_cpu"] is not None:
        pinned = f"server pinned to CPU {pinning['server_cpu']}, "
        pinned += f"each client cell to CPU {pinning['client_cpu']}"
    memory = f", {machine['memory_gib']} GiB RAM" if "memory_gib" in machine else ""
    lines = [
        "# Benchmark results",
        "",
        f"Generated {document['generated']} by `{document['command']}` "
        f"({document['repetitions']} repetition(s), {document['duration_s']} s).",
        "",
        f"- Machine: {machine['cpu']}, {machine['cpus']} CPUs{memory}; {machine['os']}; "
        f"Python {machine['python']}",
        f"- Server: {document['server']} on 127.0.0.1; {pinned}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "- Method: every cell is a fresh process; CPU is the client process's user + system "
        "time (all threads) over the measured calls only, after a warm-up; peak RSS is the "
        "cell process's high-water mark (Linux `VmHWM`); byte-code caches are written "
        "and used, as after `pip install`. Values are medians over the repetitions; "
        '"x floor" ratios are taken within each repetition, then their median is shown.',
        "",
        *_targets_sections(document["targets"]),
        *_bulk_table(document),
        "## All cells",
        "",
    ]
    for workload in document["workloads"]:
        lines += _workload_table(workload, document["cells"])
    return "\n".join(lines)
