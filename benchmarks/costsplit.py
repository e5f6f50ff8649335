"""Where a row's instructions go: callgrind's counts per C function, grouped by the work.

``python -m benchmarks.instructions --split`` keeps each row's callgrind files and writes
``benchmarks/profiles/instructions-<row>.txt``: for glean_async and for each floor, the
instructions per call spent in each group below (the eval loop, allocation, GC passes,
dict iteration, ...), then the C functions whose share differs most. A function is
counted in the first group whose pattern its ``file:function`` name matches.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["GROUPS", "function_costs", "group_of", "parse", "per_call", "report"]

GROUPS: tuple[tuple[str, str], ...] = (
    ("bytecode (eval loop, frames)", r"ceval\.c|/frame\.c|pycore_frame\.h|_PyEval_|_PyFrame_"),
    ("json.loads (C scanner)", r"_json\.c|scanstring|scan_once|_parse_object|_parse_array"),
    ("GC passes", r"gcmodule\.c:(?!_PyObject_GC|PyObject_GC)|_traverse\b|:visit_"),
    (
        "allocation, freeing",
        r"obmalloc\.c|_GC_New|_GC_Link|GC_Del|GC_UnTrack|GenericAlloc|memset|_Py_NewReference"
        r"|_alloc\b|dealloc|_Trash|ClearWeakRefs|object_new|tp_new_wrapper|PyTuple_New",
    ),
    (
        "dict iteration (tuple(o), o.values())",
        r"dictiter_|PyIter_Next|PySequence_Tuple|PyObject_GetIter|dict_iter\b|dictvalues_iter"
        r"|unpack_iterable",
    ),
    ("comparisons", r"RichCompare|richcompare|memcmp|unicode_eq|compare_eq"),
    (
        "hashing, dict lookups",
        r"dict_lookup|lookup_unicode|dict_get|hash|PyDict_GetItem|dict_subscript|dict_contains"
        r"|insertdict|PyDict_SetItem",
    ),
    ("strings, bytes", r"unicodeobject\.c|bytesobject\.c|memcpy|memmove|utf8|_decode|_encode"),
    (
        "sockets, event loop, HTTP parsing",
        r"socket|epoll|select|_http_parser|_http_writer|aiohttp|multidict|yarl|_asyncio",
    ),
)
_COMPILED = tuple((name, re.compile(pattern)) for name, pattern in GROUPS)
OTHER = "other"
_LINE = re.compile(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S.*)")
_BUILD_PATH = re.compile(r"^(?:\S*?/Python-[\d.]+[^/]*/)?(?:\./)?")  # CPython's build folder


def group_of(function: str) -> str:
    """The group a ``file:function`` name belongs to (``other`` when none matches)."""
    for name, pattern in _COMPILED:
        if pattern.search(function):
            return name
    return OTHER


def parse(annotated: str) -> dict[str, int]:
    """Instructions per function in ``callgrind_annotate`` output (totals left out)."""
    costs: dict[str, int] = {}
    for line in annotated.splitlines():
        match = _LINE.match(line)
        if match is None or "PROGRAM TOTALS" in match.group(2):
            continue
        name = _BUILD_PATH.sub("", match.group(2).split(" [", 1)[0].strip())
        costs[name] = costs.get(name, 0) + int(match.group(1).replace(",", ""))
    return costs


def function_costs(path: Path) -> dict[str, int]:
    """Instructions per function of one callgrind output file."""
    command = ["callgrind_annotate", "--threshold=100", "--auto=no", str(path)]
    return parse(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def per_call(base: Mapping[str, int], counted: Mapping[str, int], calls: int) -> dict[str, float]:
    """Per function, the instructions of one call: (``counted`` - ``base``) / ``calls``."""
    return {name: (counted.get(name, 0) - base.get(name, 0)) / calls for name in {*base, *counted}}


def _grouped(costs: Mapping[str, float]) -> dict[str, float]:
    groups = dict.fromkeys([name for name, _ in GROUPS] + [OTHER], 0.0)
    for function, cost in costs.items():
        groups[group_of(function)] += cost
    return groups


def report(title: str, rows: Sequence[tuple[str, Mapping[str, float]]], top: int = 30) -> str:
    """A text table: each row's instructions per call by group, then the ``top`` functions
    whose cost differs most between the first row and the second."""
    names = [name for name, _ in rows]
    grouped = [_grouped(costs) for _, costs in rows]
    width = max(12, *(len(name) for name in names))
    head = f"{'group':<40}" + "".join(f"{name:>{width + 2}}" for name in names)
    lines = [title, "", "instructions per call, by group (M)", "", head]
    for group in [*grouped[0]]:
        cells = "".join(f"{g[group] / 1e6:>{width + 2}.3f}" for g in grouped)
        lines.append(f"{group:<40}{cells}")
    totals = "".join(f"{sum(g.values()) / 1e6:>{width + 2}.3f}" for g in grouped)
    lines += [f"{'total':<40}{totals}", ""]
    if len(rows) > 1:
        ours, floor = rows[0][1], rows[1][1]
        diff = {f: ours.get(f, 0.0) - floor.get(f, 0.0) for f in {*ours, *floor}}
        lines += [f"functions by difference, {names[0]} - {names[1]} (k instructions per call)", ""]
        for function, cost in sorted(diff.items(), key=lambda item: -abs(item[1]))[:top]:
            lines.append(f"{cost / 1e3:>10.1f}  {group_of(function):<38}  {function[:90]}")
    return "\n".join(lines) + "\n"
