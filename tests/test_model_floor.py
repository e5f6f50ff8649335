"""The straight-line builder behind the instruction counts' structure floor."""

from __future__ import annotations

import json

from benchmarks import payloads
from benchmarks.modelfloor import calls, straight_line
from glean_async._generated import models
from glean_async._generated.wire import SERIALIZER


def test_it_builds_an_equal_tree_of_new_objects() -> None:
    tree = SERIALIZER.structure(json.loads(payloads.search_body()), models.SearchResponse)
    built = straight_line(tree)()
    assert built == tree
    assert built is not tree
    assert built.results is not tree.results
    assert built.results[3].document is not tree.results[3].document
    assert built.results[3].document.metadata == tree.results[3].document.metadata
    assert SERIALIZER.unstructure(built) == SERIALIZER.unstructure(tree)


def test_each_call_builds_afresh() -> None:
    floor = calls()["floor"]
    first, second = floor(), floor()
    assert first == second
    assert first is not second
    assert first.results[0] is not second.results[0]
