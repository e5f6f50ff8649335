"""The least work any pure-Python structurer must do for the search response's models.

:func:`straight_line` takes a tree of attrs models (the structured search response) and
writes one function that builds the same tree again: for each model, ``object.__new__``
and one store per slot, the values loaded from a tuple of constants; for each list, a
list display. Nothing is read from a dict and nothing is checked, so the function costs
only allocating and filling the objects (and, like any structurer's output, their
deallocation and the cyclic GC's passes over them). ``python -m benchmarks.instructions
--only structure`` counts it against the serializer's ``structure`` of the parsed body:
the difference is what reading and checking the wire data costs.

``python -m benchmarks.modelfloor KIND COUNT`` runs ``KIND`` (``structure`` or
``floor``) ``COUNT`` times after a warm-up, for callgrind.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import attrs

WARM_UP = 20  # calls before the counted ones: past CPython's quickening of the code


def straight_line(tree: Any) -> Callable[[], Any]:
    """A function of no arguments that builds a tree equal to ``tree``."""
    constants: list[Any] = []
    lines: list[str] = []

    def constant(value: Any) -> str:
        constants.append(value)
        return f"k[{len(constants) - 1}]"

    def emit(value: Any) -> str:
        if attrs.has(type(value)):
            slots = [(f.name, emit(getattr(value, f.name))) for f in attrs.fields(type(value))]
            name = f"v{len(lines)}"
            lines.append(f"{name} = new({constant(type(value))})")
            lines.extend(f"{name}.{slot} = {source}" for slot, source in slots)
            return name
        if type(value) is list:
            items = [emit(item) for item in value]
            name = f"v{len(lines)}"
            lines.append(f"{name} = [{', '.join(items)}]")
            return name
        return constant(value)

    top = emit(tree)
    body = "".join(f"    {line}\n" for line in lines)
    source = f"def build(k, new):\n{body}    return {top}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<straight-line models>", "exec"), namespace)
    build = namespace["build"]
    values, new = tuple(constants), object.__new__
    return lambda: build(values, new)


def _search() -> tuple[Any, Any, Any]:
    """The parsed search body, its model, and the serializer's tree of it."""
    import glean_async
    from benchmarks.payloads import search_body
    from glean_async._generated.wire import SERIALIZER

    model = glean_async.models.SearchResponse
    data = json.loads(search_body())
    return data, model, SERIALIZER.structure(data, model)


def search_floor() -> Callable[[], Any]:
    """The straight-line builder of the search response's models."""
    return straight_line(_search()[2])


def calls() -> dict[str, Callable[[], Any]]:
    """``structure`` (the serializer on the parsed search body) and its ``floor``."""
    from glean_async._generated.wire import SERIALIZER

    data, model, tree = _search()
    floor = straight_line(tree)
    if floor() != tree:
        raise AssertionError("the straight-line function built a different tree")
    return {"structure": lambda: SERIALIZER.structure(data, model), "floor": floor}


def main() -> None:
    kind, count = sys.argv[1], int(sys.argv[2])
    call = calls()[kind]
    for _ in range(WARM_UP + count):
        call()


if __name__ == "__main__":
    main()
