"""Structure functions per key order (``shared.shapes``) against the general function."""

from __future__ import annotations

import datetime
import itertools
import threading
import types
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import shapes
from shared.enums import OpenEnum
from shared.models import NO_ADDITIONAL, Model
from shared.serialization import Serializer, StructureError
from shared.unset import UNSET, Unset


class Colour(OpenEnum):
    RED = "RED"
    BLUE = "BLUE"


@attrs.define(slots=True, kw_only=True, init=False, repr=False, eq=False)
class Leaf(Model):
    name: str = attrs.field(metadata={"json": "name"})
    size: int | Unset = attrs.field(default=UNSET, metadata={"json": "size"})
    colour: Colour | Unset = attrs.field(default=UNSET, metadata={"json": "colour"})
    additional_properties: dict[str, Any] = attrs.field(
        default=NO_ADDITIONAL, metadata={"additional_properties": True}
    )

    def __init__(
        self,
        *,
        name: str,
        size: int | Unset = UNSET,
        colour: Colour | Unset = UNSET,
        additional_properties: dict[str, Any] = NO_ADDITIONAL,
    ) -> None:
        self.name = name
        self.size = size
        self.colour = colour
        self.additional_properties = additional_properties


@attrs.define(slots=True, kw_only=True, init=False, repr=False, eq=False)
class Tree(Model):
    id: str = attrs.field(metadata={"json": "id"})
    ratio: float | Unset | None = attrs.field(default=UNSET, metadata={"json": "ratio"})
    flag: bool | Unset = attrs.field(default=UNSET, metadata={"json": "flag"})
    when: datetime.datetime | Unset = attrs.field(default=UNSET, metadata={"json": "when"})
    leaf: Leaf | Unset = attrs.field(default=UNSET, metadata={"json": "leaf"})
    leaves: list[Leaf] | Unset = attrs.field(default=UNSET, metadata={"json": "leaves"})
    tags: list[str] | Unset = attrs.field(default=UNSET, metadata={"json": "tags"})
    additional_properties: dict[str, Any] = attrs.field(
        default=NO_ADDITIONAL, metadata={"additional_properties": True}
    )

    def __init__(
        self,
        *,
        id: str,
        ratio: float | Unset | None = UNSET,
        flag: bool | Unset = UNSET,
        when: datetime.datetime | Unset = UNSET,
        leaf: Leaf | Unset = UNSET,
        leaves: list[Leaf] | Unset = UNSET,
        tags: list[str] | Unset = UNSET,
        additional_properties: dict[str, Any] = NO_ADDITIONAL,
    ) -> None:
        self.id = id
        self.ratio = ratio
        self.flag = flag
        self.when = when
        self.leaf = leaf
        self.leaves = leaves
        self.tags = tags
        self.additional_properties = additional_properties


ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False, width=16),
    st.sampled_from(["", "x", "RED", "2026-12-01T10:00:00Z", "not a date"]),
    st.just([]),
    st.just({}),
)


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    values = {
        "name": st.one_of(st.text(max_size=3), ODD),
        "size": st.one_of(st.integers(-5, 5), ODD),
        "colour": st.one_of(st.sampled_from(["RED", "BLUE", "GREEN"]), ODD),
        "other": ODD,  # not declared: an undeclared field
    }
    return _objects(values)


def _tree() -> st.SearchStrategy[dict[str, Any]]:
    leaf = _leaf()
    values = {
        "id": st.one_of(st.text(max_size=3), ODD),
        "ratio": st.one_of(st.floats(allow_nan=False, width=16), st.integers(-3, 3), ODD),
        "flag": st.one_of(st.booleans(), ODD),
        "when": st.one_of(st.just("2026-12-01T10:00:00+00:00"), ODD),
        "leaf": st.one_of(leaf, ODD),
        "leaves": st.one_of(st.lists(st.one_of(leaf, ODD), max_size=4), ODD),
        "tags": st.one_of(st.lists(st.text(max_size=2), max_size=3), ODD),
        "extra": ODD,
    }
    return _objects(values)


def _objects(values: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts of some of ``values``' keys, in any order (a required key sometimes left out)."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        keys = draw(st.permutations(list(values)))
        kept = keys[: draw(st.integers(0, len(keys)))]
        return {key: draw(values[key]) for key in kept}

    return build()


def _outcome(serializer: Serializer, data: Any, tp: Any) -> Any:
    """The wire data of the result (and its type), or the error's text."""
    try:
        made = serializer.structure(data, tp)
    except StructureError as exc:
        return ("error", str(exc))
    return ("made", _dump(made))


def _dump(value: Any) -> Any:
    """Every attribute, recursively, with its type: UNSET and None and 1 and 1.0 differ."""
    if attrs.has(type(value)):
        return (
            type(value).__name__,
            {f.name: _dump(getattr(value, f.name)) for f in attrs.fields(type(value))},
        )
    if isinstance(value, list):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return (type(value).__name__, repr(value))


def _general_outcome(data: Any, tp: Any) -> Any:
    """What a serializer whose models never learn a key order gives (the general path)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shapes, "SHAPES", 0)
        return _outcome(Serializer(), data, tp)


LEARNING = Serializer()  # shared by the examples, so key orders are learned across them


@settings(max_examples=400, deadline=None)
@given(data=_tree())
def test_any_key_order_gives_what_the_general_function_gives(data: dict[str, Any]) -> None:
    expected = _general_outcome(data, Tree)
    assert _outcome(LEARNING, data, Tree) == expected
    assert _outcome(LEARNING, data, Tree) == expected  # once its order is known


def test_a_known_order_with_bad_values_raises_the_general_error() -> None:
    serializer = Serializer()
    good = {"id": "a", "leaf": {"name": "n", "size": 1}, "leaves": [{"name": "m"}], "flag": True}
    assert serializer.structure(good, Tree).leaves[0].name == "m"
    for bad in (
        {**good, "flag": "yes"},
        {**good, "leaf": {"name": "n", "size": "big"}},
        {**good, "leaves": [{"name": "m"}, 3]},
        {**good, "leaves": [{"size": 2}]},
        {**good, "id": None},
    ):
        got = _outcome(serializer, bad, Tree)
        assert got[0] == "error"
        assert got == _general_outcome(bad, Tree)


def test_orders_are_learned_up_to_the_limit_and_all_answer_right() -> None:
    serializer = Serializer()
    keys = ["name", "size", "colour"]
    orders = [order for n in (1, 2, 3) for order in itertools.permutations(keys, n)]
    values = {"name": "n", "size": 4, "colour": "BLUE"}
    samples = [{key: values[key] for key in order} for order in orders]
    samples += [{**sample, key: 1} for key in ("x", "y") for sample in samples]
    assert len(samples) > shapes.SHAPES
    for sample in samples * 2:
        assert _outcome(serializer, sample, Leaf) == _general_outcome(sample, Leaf)
    function = serializer._quick_hook(Leaf)
    table = shapes.shape_table(function)
    assert table is not None
    assert len(table) == shapes.SHAPES
    learned = [f for f in table.values() if f.__name__.startswith("shaped_")]
    assert 0 < len(learned) < shapes.SHAPES  # orders with undeclared keys or no name stay general


def test_a_learned_order_sets_every_attribute() -> None:
    serializer = Serializer()
    for _ in range(2):
        made = serializer.structure({"size": 3, "name": "n"}, Leaf)
        assert (made.name, made.size, made.colour) == ("n", 3, UNSET)
        assert made.additional_properties is NO_ADDITIONAL
    assert serializer.structure({"name": "n", "zz": 1}, Leaf).additional_properties == {"zz": 1}


def test_a_mapping_that_is_not_a_dict_goes_the_general_way() -> None:
    serializer = Serializer()
    data = {"id": "a", "leaf": {"name": "n"}}
    serializer.structure(data, Tree)
    made = serializer.structure(types.MappingProxyType(data), Tree)
    assert (made.id, made.leaf.name) == ("a", "n")


def test_threads_learning_at_once_get_right_answers() -> None:
    serializer = Serializer()
    keys = ["name", "size", "colour"]
    orders = [
        order for n in (1, 2, 3) for order in itertools.permutations(keys, n) if "name" in order
    ]
    values = {"name": "n", "size": 4, "colour": "RED"}
    samples = [{key: values[key] for key in order} for order in orders]
    wrong: list[Any] = []
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for sample in samples * 20:
            made = serializer.structure(sample, Leaf)
            if (made.name, made.size, made.colour) != (
                "n",
                4 if "size" in sample else UNSET,
                Colour.RED if "colour" in sample else UNSET,
            ):
                wrong.append((sample, made))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    table = shapes.shape_table(serializer._quick_hook(Leaf))
    assert table is not None and len(table) == len(samples)
