"""Rendering :mod:`.ir` types as Python source."""

from __future__ import annotations

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


def annotation(type_ref: ir.TypeRef, prefix: str = "") -> str:
    """Source of a type; ``prefix`` qualifies declared names (``models.``)."""
    if isinstance(type_ref, ir.Prim):
        return _PRIMS[type_ref.kind]
    if isinstance(type_ref, ir.ListOf):
        return f"list[{annotation(type_ref.item, prefix)}]"
    if isinstance(type_ref, ir.MapOf):
        return f"dict[str, {annotation(type_ref.value, prefix)}]"
    if isinstance(type_ref, ir.Named):
        return f"{prefix}{type_ref.name}"
    if isinstance(type_ref, ir.Const):
        return f"Literal[{type_ref.value!r}]"
    inner = annotation(type_ref.inner, prefix)
    return inner if inner.endswith("| None") or inner == "None" else f"{inner} | None"


def runtime_expr(type_ref: ir.TypeRef, prefix: str = "") -> str:
    """Like :func:`annotation`, but valid as an expression evaluated at import time.

    ``X | None`` needs ``typing.Optional`` when ``X`` may be a string forward reference
    or a typing alias on Python 3.10, so unions are spelled with ``Optional``.
    """
    if isinstance(type_ref, ir.Nullable):
        return f"Optional[{runtime_expr(type_ref.inner, prefix)}]"
    if isinstance(type_ref, ir.ListOf):
        return f"list[{runtime_expr(type_ref.item, prefix)}]"
    if isinstance(type_ref, ir.MapOf):
        return f"dict[str, {runtime_expr(type_ref.value, prefix)}]"
    return annotation(type_ref, prefix)


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
