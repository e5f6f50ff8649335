"""Generated functions per model that write a plain ``dict`` of user input as wire data.

The serializer's wire-input hook (``_WireInputConverter`` in :mod:`shared.serialization`)
checks a mapping key by key: it finds each key's field, checks the value, collects the
results, then writes them in the model's field order. For the common input, a ``dict``
whose keys all use one spelling (Python names or wire names) with every required field
there, :func:`write_mapping` gives a function that does the same in one flat frame: each
field is read by its key in output order, a value of the field's plain class (a ``str``
for a ``str`` field) is taken as it is, a ``dict`` for a nested model goes straight to
that model's own generated function, anything else to the field's hook. A function is
written for each order of keys the writer meets (up to ``_SHAPES``), which reads just
those keys; other orders go to one that looks every field up. When an order's keys are
all wire names and no value needed its hook, the dict is its own wire data and is
returned as it is (JSON objects are unordered: it is sent in its own key order).

Error messages are never written here: when a key set is not one of those, or when
anything raises, the function returns the checked path's answer (``slow``), which
raises the exact error, naming the first bad field in the order the input gave them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from shared.pysource import Source
from shared.unset import UNSET

__all__ = ["WireField", "write_mapping"]

InputHook = Callable[[Any, str], Any]


@attrs.frozen
class WireField:
    """One field as the wire writer sees it.

    ``python`` / ``wire``: its names (``wire`` is the key it is written under, and a key
    it is read from unless ``wire_key`` is false: when that key means another field);
    ``hook``: checks a value and returns its wire data; ``plain``: classes whose values
    are their own wire data; ``nested``: the generated function of the field's model,
    when the field holds one model (maybe optional).
    """

    python: str
    wire: str
    required: bool
    hook: InputHook
    plain: frozenset[type] = frozenset()
    nested: InputHook | None = None
    wire_key: bool = True


_SHAPES = 32  # key orders a model's writer keeps a function for

# writer -> its functions by key order, so a writer of a model holding another model
# looks up that model's function itself (one call instead of two)
_TABLES: weakref.WeakKeyDictionary[InputHook, dict[tuple[Any, ...], InputHook]] = (
    weakref.WeakKeyDictionary()
)


@attrs.frozen
class _Model:
    """What every function written for one model needs."""

    name: str  # for tracebacks and profiles
    fields: Sequence[WireField]
    extra: WireField | None
    slow: InputHook
    add_undeclared: Callable[[dict[str, Any], Mapping[str, Any]], None]

    def source(self, prefix: str) -> tuple[Source, str]:
        """A new function's source with the names it uses, and the function's name."""
        src = Source({"UNSET": UNSET, "_slow": self.slow, "_add": self.add_undeclared})
        return src, f"{prefix}_{self.name}" if self.name.isidentifier() else f"{prefix}_model"

    def extra_lines(self, src: Source) -> list[str]:
        """Add the undeclared fields given under the extra field's name to ``out``."""
        assert self.extra is not None
        key, hook = self.extra.python, src.ref(self.extra.hook)
        return [f"_add(out, {hook}(value[{key!r}], path + {'.' + key!r}))"]


def write_mapping(
    name: str,
    fields: Sequence[WireField],
    extra: WireField | None,
    slow: InputHook,
    add_undeclared: Callable[[dict[str, Any], Mapping[str, Any]], None],
) -> InputHook:
    """The generated writer for ``dict`` input of a model (``name`` for tracebacks).

    ``fields`` are in the order the wire data lists them; ``extra`` is the field of
    undeclared keys, if the model has one; ``slow`` is the checked path.

    The writer looks up the dict's keys, in their order, among the key orders it has
    seen (``tuple(value)``: items of a bulk upload, made by one program, share one), and
    runs the function written for that order: it reads exactly those keys, no test for
    the absent ones. A new order gets its function when it first comes (up to
    ``_SHAPES`` of them); an order that is not one key per field with the required ones
    there, or one past the limit, goes to the general function (:func:`_general`).
    """
    model = _Model(name, fields, extra, slow, add_undeclared)
    general = _general(model)
    shapes: dict[tuple[Any, ...], InputHook] = {}
    python_keys = {field.python: field for field in fields}
    if extra is not None:
        python_keys[extra.python] = extra
    wire_keys = {f.wire: f for f in fields if f.wire_key and f.wire != f.python}
    keys = {**wire_keys, **python_keys}
    twice = python_keys.keys() & wire_keys.keys()  # keys two fields would read
    limit = len(python_keys)

    def learn(shape: tuple[Any, ...]) -> InputHook:
        if len(shapes) >= _SHAPES or len(shape) > limit:
            return general
        chosen: dict[str, str] = {}  # python name -> the key it is read from
        for key in shape:
            field = keys.get(key) if key.__class__ is str and key not in twice else None
            if field is None or field.python in chosen:
                shapes[shape] = general  # an unknown key, or a field given twice
                return general
            chosen[field.python] = key
        if not all(field.python in chosen for field in fields if field.required):
            shapes[shape] = general
            return general
        writer = _shaped(model, chosen)
        shapes[shape] = writer
        return writer

    def wire_shaped(value: dict[str, Any], path: str) -> Any:
        shape = tuple(value)
        writer = shapes.get(shape)
        if writer is None:
            writer = learn(shape)
        return writer(value, path)

    wire_shaped.__name__ = wire_shaped.__qualname__ = general.__name__
    _TABLES[wire_shaped] = shapes
    return wire_shaped


def _shaped(model: _Model, chosen: Mapping[str, str]) -> InputHook:
    """The function for one key order: ``chosen`` maps each field given to its key.

    Each value is checked into a local, then the wire dict is made in one display (its
    size known); an optional field whose hook answered UNSET is dropped after.
    """
    src, function = model.source("shaped")
    src.add(0, [f"def {function}(value, path):", "    try:"])
    given = [field for field in model.fields if field.python in chosen]
    maybe_unset = any(not field.required for field in given)
    if maybe_unset:
        src.add(2, ["u = False"])
    # given under wire names only: when no value needed a hook, the dict is its own wire data
    same = model.extra is None or model.extra.python not in chosen
    same = same and all(chosen[field.python] == field.wire for field in given)
    if same:
        src.add(2, ["c = False"])
    for index, field in enumerate(given):
        key, x = chosen[field.python], f"x{index}"
        src.add(2, _value_lines(src, field, key, x, flag=True, changed=same))
    if same:
        src.add(2, ["if not c:", "    return value"])
    items = ", ".join(f"{field.wire!r}: x{index}" for index, field in enumerate(given))
    src.add(2, [f"out = {{{items}}}"])
    if maybe_unset:
        src.add(2, ["if u:", "    out = {k: v for k, v in out.items() if v is not UNSET}"])
    if model.extra is not None and model.extra.python in chosen:
        src.add(2, model.extra_lines(src))
    src.add(2, ["return out"])
    src.add(1, ["except Exception:", "    return _slow(value, path)"])
    label = f"<wire writer {model.name} {sorted(chosen.values())}>"
    writer: InputHook = src.build(function, label)
    return writer


def _general(model: _Model) -> InputHook:
    """The function for any key order: each field is looked up under its Python name,
    then its wire name; the keys found are counted, so an unknown key, or one field
    given in both spellings, leaves the count short of ``len(value)`` and the checked
    path answers."""
    src, function = model.source("wire")
    src.add(0, [f"def {function}(value, path):", "    try:", "        out = {}", "        n = 0"])
    for field in model.fields:
        src.add(2, _field_lines(src, field))
    if model.extra is not None:
        src.add(2, [f"if {model.extra.python!r} in value:"])
        src.add(3, [*model.extra_lines(src), "n += 1"])
    src.add(2, ["if n == len(value):", "    return out"])
    src.add(1, ["except Exception:", "    pass", "return _slow(value, path)"])
    writer: InputHook = src.build(function, f"<wire writer {model.name}>")
    return writer


def _field_lines(src: Source, field: WireField) -> list[str]:
    """Read one field by either key and write it under its wire name."""
    keys = [field.python]
    if field.wire_key and field.wire != field.python:
        keys.append(field.wire)
    target = f"out[{field.wire!r}]"
    write = [f"{target} = x"] if field.required else ["if x is not UNSET:", f"    {target} = x"]
    lines = []
    for index, key in enumerate(keys):
        lines.append(f"{'if' if index == 0 else 'elif'} {key!r} in value:")
        lines.extend(_indent([*_value_lines(src, field, key, "x", flag=False), *write, "n += 1"]))
    if field.required:
        lines.extend(["else:", "    return _slow(value, path)"])
    return lines


def _value_lines(
    src: Source, field: WireField, key: str, x: str, *, flag: bool, changed: bool = False
) -> list[str]:
    """Read ``value[key]`` into ``x`` as wire data (``flag``: set ``u`` when it may be UNSET;
    ``changed``: set ``c`` when the wire data is not the value itself).

    A value of the field's plain class is kept as it is; a ``dict`` for a nested model
    goes to that model's function for its key order, with this writer's ``path``: on any
    error the writer that catches it re-runs the checked path, which names the right one.
    """
    call = [f"{x} = {src.ref(field.hook)}({x}, path + {'.' + key!r})"]
    if flag and not field.required:
        call.append(f"u = u or {x} is UNSET")
    if changed:
        call.append("c = True")
    lines = [f"{x} = value[{key!r}]"]
    if field.nested is not None:
        table = _TABLES.get(field.nested)
        writer = src.ref(field.nested)
        lines.append(f"if {x}.__class__ is dict:")
        target = "y" if changed else x
        if table is None:
            lines.append(f"    {target} = {writer}({x}, path)")
        else:
            lines.append(f"    w = {src.ref(table)}.get(tuple({x}))")
            lines.append(f"    {target} = w({x}, path) if w is not None else {writer}({x}, path)")
        if changed:
            lines += [f"    if y is not {x}:", f"        {x} = y", "        c = True"]
        return [*lines, "else:", *_indent(call)]
    if field.plain:
        plain = field.plain
        test = (
            f"is not {src.ref(next(iter(plain)))}"
            if len(plain) == 1
            else f"not in {src.ref(plain)}"
        )
        return [*lines, f"if {x}.__class__ {test}:", *_indent(call)]
    return [*lines, *call]


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]
