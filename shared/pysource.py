"""Python source written at run time: one generated function and the objects it names.

The serializer writes a function per model (structuring wire data, writing user input as
wire data) because one flat frame costs far less than a chain of hooks. Only our own
code generates this source; no user input is ever part of it (values reach it by name).
"""

from __future__ import annotations

import linecache
from collections.abc import Iterable
from typing import Any

__all__ = ["Source"]


class Source:
    """The lines of one generated function and the globals its code uses."""

    def __init__(self, names: dict[str, Any] | None = None) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = dict(names or {})

    def ref(self, obj: Any) -> str:
        """A global name the generated code can use for ``obj``."""
        name = f"_g{len(self.names)}"
        self.names[name] = obj
        return name

    def add(self, depth: int, lines: Iterable[str]) -> None:
        self.lines.extend("    " * depth + line for line in lines)

    def build(self, name: str, filename: str) -> Any:
        """Compile the source; ``filename`` shows in tracebacks and profiles."""
        text = "\n".join(self.lines) + "\n"
        exec(compile(text, filename, "exec"), self.names)  # our own source, never user input
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        return self.names[name]
