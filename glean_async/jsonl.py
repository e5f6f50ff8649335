"""Reading documents from JSON Lines, lazily: one JSON object per line.

Lines are read one at a time (a file of any size streams through), blank lines are
skipped, and a line that is not a JSON object raises :class:`JSONLError` naming the
source and the line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


class JSONLError(ValueError):
    """A line of a JSON Lines source is not a JSON object."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}, line {line}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


def parse_line(text: str | bytes, source: str, number: int) -> dict[str, Any]:
    """One line as a JSON object, or :class:`JSONLError`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise JSONLError(
            source, number, f"invalid JSON: {error.msg} (column {error.colno})"
        ) from None
    except UnicodeDecodeError as error:
        raise JSONLError(source, number, f"not UTF-8 text: {error.reason}") from None
    if not isinstance(value, dict):
        raise JSONLError(source, number, f"expected a JSON object, got {_kind(value)}")
    return value


def read_objects(lines: Iterable[str | bytes], source: str) -> Iterator[dict[str, Any]]:
    """The JSON object of each non-blank line of ``lines``, as they are read."""
    for number, text in enumerate(lines, 1):
        if text.strip():
            yield parse_line(text, source, number)


def count_objects(lines: Iterable[str | bytes], source: str) -> int:
    """Check every line of ``lines`` (as :func:`read_objects` would) and count the objects."""
    count = 0
    for _ in read_objects(lines, source):
        count += 1
    return count


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"
