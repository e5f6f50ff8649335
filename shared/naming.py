"""Python names from spec names: snake_case, PascalCase, escaping."""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterable

# lowercase names a generated resource class body refers to (annotations, decorators): a
# method of that name would shadow them for the rest of the class, so it takes a ``_``
CLASS_SCOPE_NAMES = frozenset({"builtins", "datetime", "models", "overload"})
_PLAIN = re.compile(r"[a-z][a-z0-9_]*")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+|[0-9]+")


def words(name: str) -> list[str]:
    """Split ``fooBar-baz_QUX2`` into ``["foo", "Bar", "baz", "QUX2"]``."""
    return _WORD.findall(name)


def snake(name: str) -> str:
    """``createAndStreamRun`` -> ``create_and_stream_run``; ``X-Glean`` -> ``x_glean``."""
    result = "_".join(w.lower() for w in words(name)) or "value"
    return "_" + result if result[0].isdigit() else result


def pascal(name: str) -> str:
    """``list_agents`` -> ``ListAgents``; keeps existing capitals (``DTO``)."""
    result = "".join(w[0].upper() + w[1:] for w in words(name)) or "Model"
    return "_" + result if result[0].isdigit() else result


def identifier(name: str) -> str:
    """A safe argument or attribute name: snake_case; only Python keywords get ``_``.

    Builtins' names (``type``, ``id``, ``format``, ``list``...) stay as the API spells
    them: the generated code refers to builtins through ``builtins`` where it needs them.
    """
    if _PLAIN.fullmatch(name) and not keyword.iskeyword(name):
        return name  # already a plain snake_case name (``type_``, ``agent_id``)
    result = snake(name).lstrip("_") or "value"
    if result[0].isdigit():
        result = "n" + result
    if keyword.iskeyword(result):  # soft keywords (match, type...) are fine names
        result += "_"
    return result


def constant(value: str) -> str:
    """Enum member name for a value: ``in-progress`` -> ``IN_PROGRESS``."""
    result = "_".join(w.upper() for w in words(value)) or "EMPTY"
    if result[0].isdigit():
        result = "V" + result
    return result


def unique(name: str, taken: set[str]) -> str:
    """``name`` or ``name_2``, ``name_3``... whichever is not in ``taken``; records it."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}" if not name.endswith("_") else f"{name}{n}"
    taken.add(candidate)
    return candidate


def assign_names(
    names: Iterable[str], convert: Callable[[str], str], taken: set[str] | None = None
) -> dict[str, str]:
    """Python names for spec names, the same whatever order the spec lists them in.

    A name that converts to itself keeps it; the others claim theirs in sorted order,
    a collision taking the next free ``_2``, ``_3``... (``type``, ``Type``, ``type_`` ->
    ``type``, ``type_2``, ``type_``).
    """
    taken = set() if taken is None else taken
    converted = {name: convert(name) for name in names}
    order = sorted(converted, key=lambda name: (converted[name] != name, name))
    return {name: unique(converted[name], taken) for name in order}


def method_name(name: str) -> str:
    """A method name: :func:`identifier`, and a ``_`` after :data:`CLASS_SCOPE_NAMES`."""
    result = identifier(name)
    return f"{result}_" if result in CLASS_SCOPE_NAMES else result
