"""Where an operation lives in the SDK: its namespace (group) and its method name.

- Group: ``x-speakeasy-group`` split on dots, else the first tag, else ``default``.
- Name: ``x-speakeasy-name-override``, else ``operationId``, else the path: the
  segments after the first version segment (``v1``, ``v2beta``...; the whole path when
  there is none), ``{parameter}`` segments dropped, a ``#fragment`` kept as a last word
  (``POST /api/index/v1/debug/{ds}/document/events`` -> ``debug_document_events``).
- A name taken from the path that another operation of the same group also has gets
  the HTTP verb in front (``get_exports`` and ``post_exports``); names the spec gives
  are never changed.
- Every part goes through :func:`.naming.identifier`: snake_case, Python keywords take
  a trailing underscore (``import_``); so do method names the generated class body
  needs for itself (:data:`.naming.CLASS_SCOPE_NAMES`: ``models_``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any as JSON

from .naming import identifier, method_name

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
VERSION = re.compile(r"v\d+\w*")


@dataclass(frozen=True)
class OperationName:
    group: tuple[str, ...]
    name: str
    from_path: bool  # the spec gave no name: it was made from the path

    @property
    def dotted(self) -> str:
        return ".".join((*self.group, self.name))


def group_of(op: JSON) -> tuple[str, ...]:
    """The namespace of an operation object (see the module doc)."""
    group = op.get("x-speakeasy-group")
    if isinstance(group, str) and group:
        return tuple(identifier(part) for part in group.split("."))
    tags = op.get("tags") or ["default"]
    return (identifier(str(tags[0])),)


def path_name(path: str) -> str:
    """``/rest/api/v1/debug/{ds}/document#stream`` -> ``debug_document_stream``."""
    route, _, fragment = path.partition("#")
    segments = [s for s in route.split("/") if s]
    versions = [i for i, s in enumerate(segments) if VERSION.fullmatch(s)]
    if versions:
        segments = segments[versions[0] + 1 :]
    words = [s for s in segments if not (s.startswith("{") and s.endswith("}"))]
    words += [fragment] if fragment else []
    return "_".join(identifier(word).rstrip("_") for word in words)


def _given_name(op: JSON) -> str:
    return str(op.get("x-speakeasy-name-override") or op.get("operationId") or "")


def _operations(paths: JSON) -> Iterator[tuple[str, str, JSON]]:
    for path, item in paths.items():
        for method in HTTP_METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                yield path, method, item[method]


def operation_names(paths: JSON) -> dict[tuple[str, str], OperationName]:
    """``(path key, method)`` -> the operation's group and name, for a ``paths`` object.

    ``paths`` must have its path items resolved (no ``$ref`` at the item level).
    """
    first: dict[tuple[str, str], OperationName] = {}
    for path, method, op in _operations(paths):
        given = _given_name(op)
        name = method_name(given) if given else method_name(path_name(path) or method)
        first[(path, method)] = OperationName(group_of(op), name, not given)
    counts = Counter((n.group, n.name) for n in first.values())
    return {
        key: _with_verb(n, key[1]) if n.from_path and counts[(n.group, n.name)] > 1 else n
        for key, n in first.items()
    }


def _with_verb(name: OperationName, method: str) -> OperationName:
    return OperationName(name.group, identifier(f"{method}_{name.name}"), True)
