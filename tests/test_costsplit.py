"""The split of callgrind counts by kind of work behind ``instructions --split``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from benchmarks import costsplit

BUILD = "/tmp/build.1/Python-3.11.7"
ANNOTATED = "\n".join(
    [
        "-" * 80,
        "Ir",
        "-" * 80,
        "4,974,882,930 (100.0%)  PROGRAM TOTALS",
        "",
        "Ir                      file:function",
        "-" * 80,
        f"1,051,430,000 (21.13%)  {BUILD}/Python/ceval.c:_PyEval_EvalFrameDefault'2 [/lib/py.so]",
        f"   62,690,000 ( 1.26%)  {BUILD}/Objects/typeobject.c:subtype_traverse [/lib/py.so]",
        "    9,913,000 ( 0.20%)  ./Include/internal/pycore_object.h:visit_decref",
        f"    1,000,000 ( 0.02%)  {BUILD}/./Include/internal/pycore_object.h:visit_decref",
        "      500,000 ( 0.01%)  ./string/memcmp-avx2-movbe.S:__memcmp_avx2_movbe [/lib/libc.so.6]",
    ]
)


def test_parse_reads_each_function_without_the_build_folder_or_library() -> None:
    costs = costsplit.parse(ANNOTATED)
    assert costs == {
        "Python/ceval.c:_PyEval_EvalFrameDefault'2": 1_051_430_000,
        "Objects/typeobject.c:subtype_traverse": 62_690_000,
        "Include/internal/pycore_object.h:visit_decref": 10_913_000,  # two lines, summed
        "string/memcmp-avx2-movbe.S:__memcmp_avx2_movbe": 500_000,
    }


def test_groups_follow_the_work_not_the_file() -> None:
    cases = {
        "Python/ceval.c:_PyEval_EvalFrameDefault'2": "bytecode (eval loop, frames)",
        "Python/frame.c:_PyFrame_Clear": "bytecode (eval loop, frames)",
        "Modules/gcmodule.c:visit_reachable": "GC passes",
        "Objects/typeobject.c:subtype_traverse": "GC passes",
        "Include/internal/pycore_object.h:visit_decref": "GC passes",
        "Include/internal/pycore_object.h:PyObject_GC_Del": "allocation, freeing",
        "Modules/gcmodule.c:_PyObject_GC_New": "allocation, freeing",
        "Objects/typeobject.c:subtype_dealloc'2": "allocation, freeing",
        "Objects/obmalloc.c:_PyObject_Free": "allocation, freeing",
        "Objects/dictobject.c:dictiter_iternextvalue": "dict iteration (tuple(o), o.values())",
        "Objects/tupleobject.c:tuplerichcompare": "comparisons",
        "Objects/unicodeobject.c:PyUnicode_RichCompare": "comparisons",
        "Objects/tupleobject.c:tuplehash": "hashing, dict lookups",
        "Objects/unicodeobject.c:unicode_hash": "hashing, dict lookups",
        "Modules/_json.c:scanstring_unicode": "json.loads (C scanner)",
        "Objects/longobject.c:long_add": costsplit.OTHER,
    }
    assert {name: costsplit.group_of(name) for name in cases} == cases


@given(
    st.dictionaries(st.text(min_size=1), st.integers(0, 10**9)),
    st.dictionaries(st.text(min_size=1), st.integers(0, 10**6)),
    st.integers(1, 50),
)
def test_per_call_is_the_difference_over_the_calls(
    base: dict[str, int], each: dict[str, int], calls: int
) -> None:
    counted = {name: base.get(name, 0) + calls * each.get(name, 0) for name in {*base, *each}}
    per = costsplit.per_call(base, counted, calls)
    assert {name: cost for name, cost in per.items() if cost} == {
        name: float(cost) for name, cost in each.items() if cost
    }


def test_report_totals_each_row_and_lists_the_differences() -> None:
    ours = {"Python/ceval.c:_PyEval_EvalFrameDefault": 3e6, "Objects/x.c:f": 1e6}
    floor = {"Python/ceval.c:_PyEval_EvalFrameDefault": 1e6}
    text = costsplit.report("search", [("search", ours), ("raw_search", floor)])
    lines = text.splitlines()
    assert lines[0] == "search"
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[1:] == ["4.000", "1.000"]
    bytecode = next(line for line in lines if line.startswith("bytecode"))
    assert bytecode.split()[-2:] == ["3.000", "1.000"]
    assert "2000.0" in text  # the eval loop's difference, first by size
    assert text.index("2000.0") < text.index("1000.0")
