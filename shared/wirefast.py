"""One generated function per model that writes a plain ``dict`` of user input as wire data.

The serializer's wire-input hook (``_WireInputConverter`` in :mod:`shared.serialization`)
checks a mapping key by key: it finds each key's field, checks the value, collects the
results, then writes them in the model's field order. For the common input, a ``dict``
whose keys all use one spelling (Python names or wire names) with every required field
there, :func:`write_mapping` gives a function that does the same in one flat frame: each
field is read by its key in output order, a value of the field's plain class (a ``str``
for a ``str`` field) is taken as it is, a ``dict`` for a nested model goes straight to
that model's own generated function, anything else to the field's hook.

Error messages are never written here: when a key set is not one of those, or when
anything raises, the function returns the checked path's answer (``slow``), which
raises the exact error, naming the first bad field in the order the input gave them.
"""

from __future__ import annotations

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


def write_mapping(
    name: str,
    fields: Sequence[WireField],
    extra: WireField | None,
    slow: InputHook,
    add_undeclared: Callable[[dict[str, Any], Mapping[str, Any]], None],
) -> InputHook:
    """The generated writer for ``dict`` input of a model (``name`` for tracebacks).

    ``fields`` are in the order the wire data lists them; ``extra`` is the field of
    undeclared keys, if the model has one; ``slow`` is the checked path. Each field is
    looked up under its Python name, then its wire name; the keys found are counted, so
    an unknown key, or one field given in both spellings, leaves the count short of
    ``len(value)`` and the checked path answers.
    """
    src = Source({"UNSET": UNSET, "_slow": slow, "_add": add_undeclared})
    function = f"wire_{name}" if name.isidentifier() else "wire_model"
    src.add(0, [f"def {function}(value, path):", "    try:", "        out = {}", "        n = 0"])
    for field in fields:
        src.add(2, _field_lines(src, field))
    if extra is not None:
        hook = src.ref(extra.hook)
        src.add(2, [f"if {extra.python!r} in value:"])
        src.add(3, [f"_add(out, {hook}(value[{extra.python!r}], path + {'.' + extra.python!r}))"])
        src.add(3, ["n += 1"])
    src.add(2, ["if n == len(value):", "    return out"])
    src.add(1, ["except Exception:", "    pass", "return _slow(value, path)"])
    writer: InputHook = src.build(function, f"<wire writer {name}>")
    return writer


def _field_lines(src: Source, field: WireField) -> list[str]:
    """Read one field by either key and write it under its wire name."""
    keys = [field.python]
    if field.wire_key and field.wire != field.python:
        keys.append(field.wire)
    lines = []
    for index, key in enumerate(keys):
        lines.append(f"{'if' if index == 0 else 'elif'} {key!r} in value:")
        lines.extend(_indent([f"x = value[{key!r}]", *_convert_lines(src, field, key)]))
        lines.extend(_indent(_write_lines(field)))
    if field.required:
        lines.extend(["else:", "    return _slow(value, path)"])
    return lines


def _write_lines(field: WireField) -> list[str]:
    target = f"out[{field.wire!r}]"
    if field.required:
        return [f"{target} = x", "n += 1"]
    return ["if x is not UNSET:", f"    {target} = x", "n += 1"]


def _convert_lines(src: Source, field: WireField, key: str) -> list[str]:
    """``x`` made wire data: plain values as they are, nested dicts to their writer."""
    call = f"x = {src.ref(field.hook)}(x, path + {'.' + key!r})"
    if field.nested is not None:
        nested = f"x = {src.ref(field.nested)}(x, path + {'.' + key!r})"
        return ["if x.__class__ is dict:", f"    {nested}", "else:", f"    {call}"]
    if len(field.plain) == 1:
        (plain,) = field.plain
        return [f"if x.__class__ is not {src.ref(plain)}:", f"    {call}"]
    if field.plain:
        return [f"if x.__class__ not in {src.ref(field.plain)}:", f"    {call}"]
    return [call]


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]
