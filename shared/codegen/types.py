"""Rendering :mod:`.ir` types as Python source."""

from __future__ import annotations

from collections.abc import Mapping

from . import ir

_PRIMS = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "any": "Any",
    "datetime": "datetime.datetime",
    "date": "datetime.date",
    "file": "FileContent",
    "none": "None",
}


# names an annotation may use that a field (a class attribute) of the same name shadows
SHADOWABLE = frozenset({"str", "int", "float", "bool", "list", "dict", "datetime"})


def annotation(
    type_ref: ir.TypeRef,
    prefix: str = "",
    loose: Mapping[str, str] | None = None,
    shadowed: frozenset[str] = frozenset(),
) -> str:
    """Source of a type; ``prefix`` qualifies declared names (``models.``).

    ``loose`` maps declared names and primitive kinds to what an argument may give
    instead: an enum's string value, an ISO date-time string, a dict for a model.

    With a prefix (code outside the models module), ``list``/``dict`` are spelled
    ``builtins.list``: a method named ``list`` would shadow them inside a class body.
    ``shadowed`` names the class attributes in scope (a model's fields named ``str``,
    ``datetime``...): those names are spelled ``builtins.str``, ``_datetime.datetime``.
    """
    loose = loose or {}
    if isinstance(type_ref, ir.Prim):
        text = _shadow_safe(_PRIMS[type_ref.kind], shadowed)
        return f"{text} | {loose[type_ref.kind]}" if type_ref.kind in loose else text
    if isinstance(type_ref, ir.ListOf):
        item = annotation(type_ref.item, prefix, loose, shadowed)
        return f"{_container('list', prefix, shadowed)}[{item}]"
    if isinstance(type_ref, ir.MapOf):
        value = annotation(type_ref.value, prefix, loose, shadowed)
        key = _shadow_safe("str", shadowed)
        return f"{_container('dict', prefix, shadowed)}[{key}, {value}]"
    if isinstance(type_ref, ir.Named):
        text = f"{prefix}{type_ref.name}"
        return f"{text} | {loose[type_ref.name]}" if type_ref.name in loose else text
    if isinstance(type_ref, ir.Const):
        return f"Literal[{type_ref.value!r}]"
    inner = annotation(type_ref.inner, prefix, loose, shadowed)
    if inner.startswith("builtins.") and not prefix and not shadowed:
        inner = inner.removeprefix("builtins.")
    return inner if inner.endswith("| None") or inner == "None" else f"{inner} | None"


def _container(name: str, prefix: str, shadowed: frozenset[str]) -> str:
    return f"builtins.{name}" if prefix or name in shadowed else name


def _shadow_safe(text: str, shadowed: frozenset[str]) -> str:
    """``str`` -> ``builtins.str`` when shadowed; ``datetime.date`` -> ``_datetime.date``."""
    head = text.split(".", 1)[0]
    if head not in shadowed:
        return text
    return f"_{text}" if head == "datetime" else f"builtins.{text}"


def runtime_expr(type_ref: ir.TypeRef, prefix: str = "") -> str:
    """Like :func:`annotation`, for expressions evaluated at import (no class scope)."""
    return annotation(type_ref, prefix).replace("builtins.", "")


def names_in(type_ref: ir.TypeRef) -> set[str]:
    """Declared names a type refers to."""
    if isinstance(type_ref, ir.Named):
        return {type_ref.name}
    if isinstance(type_ref, ir.ListOf):
        return names_in(type_ref.item)
    if isinstance(type_ref, ir.MapOf):
        return names_in(type_ref.value)
    if isinstance(type_ref, ir.Nullable):
        return names_in(type_ref.inner)
    return set()


def uses_prim(type_ref: ir.TypeRef, kinds: set[str]) -> bool:
    if isinstance(type_ref, ir.Prim):
        return type_ref.kind in kinds
    if isinstance(type_ref, ir.ListOf):
        return uses_prim(type_ref.item, kinds)
    if isinstance(type_ref, ir.MapOf):
        return uses_prim(type_ref.value, kinds)
    if isinstance(type_ref, ir.Nullable):
        return uses_prim(type_ref.inner, kinds)
    return False


def describe(type_ref: ir.TypeRef) -> str:
    """Short human text for docstrings: ``list of AgentDTO``, ``str or None``."""
    if isinstance(type_ref, ir.ListOf):
        return f"list of {describe(type_ref.item)}"
    if isinstance(type_ref, ir.MapOf):
        return f"map of str to {describe(type_ref.value)}"
    if isinstance(type_ref, ir.Nullable):
        return f"{describe(type_ref.inner)} or None"
    if isinstance(type_ref, ir.Named):
        return f":class:`{type_ref.name}`"
    return annotation(type_ref)


def or_unset(text: str) -> str:
    """``X`` -> ``X | Unset``; ``X | None`` -> ``X | Unset | None`` (None last)."""
    if text.endswith(" | None"):
        return f"{text.removesuffix(' | None')} | Unset | None"
    return f"{text} | Unset"
