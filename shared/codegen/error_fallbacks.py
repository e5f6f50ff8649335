"""Typed errors for error responses the spec leaves without a schema.

A spec often documents an error body on some operations and not on others, although
the server answers them all alike (FastAPI's 422 ``HTTPValidationError``). For every
error status, the models other operations declare for that status become the fallback
of each schema-less response with it; at run time a body that fits one of them
strictly raises its typed error, any other body the base error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from . import ir


def is_error_status(status: str) -> bool:
    """``4xx``/``5xx`` codes and patterns, and ``default`` (read only for errors)."""
    return status[:1] in ("4", "5") or status.lower() == "default"


def declared_error_models(
    operations: Iterable[ir.Operation], decls: Mapping[str, ir.Decl]
) -> dict[str, list[ir.TypeRef]]:
    """Per error status (upper case), the models declared as its JSON body, first seen first."""
    by_status: dict[str, list[ir.TypeRef]] = {}
    for op in operations:
        for response in op.responses:
            kind = response.type
            if not is_error_status(response.status) or response.kind != "json":
                continue
            if isinstance(kind, ir.Named) and isinstance(decls.get(kind.name), ir.Model):
                known = by_status.setdefault(response.status.upper(), [])
                if kind not in known:
                    known.append(kind)
    return by_status


def add_error_fallbacks(
    operations: list[ir.Operation], decls: Mapping[str, ir.Decl], warnings: list[str]
) -> None:
    """Give each schema-less error response the models its status has elsewhere."""
    by_status = declared_error_models(operations, decls)
    given: dict[tuple[str, str], list[str]] = {}  # (status, model names) -> operations
    for op in operations:
        for response in op.responses:
            if not _schema_less(response) or not is_error_status(response.status):
                continue
            models = by_status.get(response.status.upper(), [])
            if models:
                response.fallback = list(models)
                names = ", ".join(m.name for m in models if isinstance(m, ir.Named))
                given.setdefault((response.status, names), []).append(op.dotted)
    for (status, names), dotted in given.items():
        warnings.append(
            f"HTTP {status} has no schema in {len(dotted)} operation(s) ({', '.join(dotted)});"
            f" a body that fits {names} (declared for {status} elsewhere) raises its typed error"
        )


def _schema_less(response: ir.Response) -> bool:
    """No content at all, or JSON content without a schema."""
    untyped = response.type is None or response.type == ir.Prim("any")
    return response.kind == "empty" or (response.kind == "json" and untyped)
