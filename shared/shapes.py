"""Structure functions per key order: wire objects of one model mostly come in a few.

The serializer's generated function for a model (``_StructureCompiler`` in
:mod:`shared.serialization`) tests every declared key (``'k' in o``) and reads each one
found; a model of 45 fields with 7 sent pays 45 tests and 7 more lookups. Objects of one
model in a response are written by one server, in one key order. :func:`by_key_order`
wraps the general function in one that looks up ``tuple(o)`` among the orders it has
seen, and runs the function written for that order: it unpacks ``o.values()`` into
locals (no lookup at all), converts them as the general function would, and sets every
slot, the absent ones to their defaults.

An order is learned when first seen, up to ``SHAPES`` per model. An order with a key the
model does not declare, or without a required one, goes to the general function, which
handles undeclared keys and raises for missing ones. Nothing here explains an error:
whatever a function raises, the model's hook re-runs cattrs' detailed validation, as for
the general function.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from shared.pysource import Source

__all__ = ["SHAPES", "ShapeField", "by_key_order", "shape_table"]

StructureHook = Callable[..., Any]
Convert = Callable[[Source, Any, str], list[str]]

SHAPES = 32  # key orders a model keeps a function for

# function of a model -> its table of functions by key order, so the function of a model
# holding that one looks the key order up itself (one call instead of two)
_TABLES: weakref.WeakKeyDictionary[StructureHook, dict[tuple[Any, ...], StructureHook]] = (
    weakref.WeakKeyDictionary()
)


def shape_table(function: Any) -> dict[tuple[Any, ...], StructureHook] | None:
    """The key-order table behind ``function``, if :func:`by_key_order` made it."""
    try:
        return _TABLES.get(function)
    except TypeError:  # not weakly referable (None, a builtin)
        return None


@attrs.frozen
class ShapeField:
    """One declared field: its attribute, wire key, type, and default (when optional)."""

    name: str
    key: str
    type: Any
    required: bool
    default: Any = None


def by_key_order(
    cls: type,
    fields: Sequence[ShapeField],
    extra: tuple[str, Any] | None,
    general: StructureHook,
    convert: Convert,
    names: Mapping[str, Any],
) -> StructureHook:
    """``general`` (the function for any key order) behind a table of per-order ones.

    ``extra`` is the undeclared-fields attribute and its default, if the model has one;
    ``convert`` writes the lines that turn a local into a field's type, which may use
    ``names`` (globals of the general function's source).
    """
    shapes: dict[tuple[Any, ...], StructureHook] = {}
    by_key = {field.key: field for field in fields}
    required = sum(field.required for field in fields)
    lock = threading.Lock()

    def learn(shape: tuple[Any, ...]) -> StructureHook:
        with lock:
            known = shapes.get(shape)
            if known is not None:
                return known
            if len(shapes) >= SHAPES:
                return general
            chosen = [by_key.get(key) if key.__class__ is str else None for key in shape]
            given = [field for field in chosen if field is not None]
            if len(given) != len(shape) or sum(f.required for f in given) != required:
                shapes[shape] = general  # an undeclared key, or a required one missing
                return general
            function = _shaped(cls, given, fields, extra, convert, names)
            shapes[shape] = function
            return function

    get = shapes.get

    def structure_shaped(o: Any, _: Any = None) -> Any:
        if o.__class__ is dict:
            shape = tuple(o)
            function = get(shape)
            if function is None:
                function = learn(shape)
            return function(o)
        return general(o)

    structure_shaped.__name__ = structure_shaped.__qualname__ = general.__name__
    _TABLES[structure_shaped] = shapes
    return structure_shaped


def _shaped(
    cls: type,
    given: Sequence[ShapeField],
    fields: Sequence[ShapeField],
    extra: tuple[str, Any] | None,
    convert: Convert,
    names: Mapping[str, Any],
) -> StructureHook:
    """The function for one key order: ``given`` are the fields sent, in that order."""
    src = Source(dict(names))
    name = f"shaped_{cls.__name__}" if cls.__name__.isidentifier() else "shaped"
    src.add(0, [f"def {name}(o, _=None):"])
    local = {field.name: f"f{index}" for index, field in enumerate(given)}
    if given:
        src.add(1, [f"{', '.join(local.values())}{',' if len(given) == 1 else ''} = o.values()"])
    for field in given:
        src.add(1, convert(src, field.type, local[field.name]))
    src.add(1, [f"r = {src.ref(object.__new__)}({src.ref(cls)})"])
    for field in fields:
        value = local.get(field.name) or src.ref(field.default)
        src.add(1, [f"r.{field.name} = {value}"])
    if extra is not None:
        src.add(1, [f"r.{extra[0]} = {src.ref(extra[1])}"])
    src.add(1, ["return r"])
    keys = ",".join(field.key for field in given)
    function: StructureHook = src.build(name, f"<structure {cls.__qualname__} by keys {keys}>")
    return function
