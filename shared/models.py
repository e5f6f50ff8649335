"""The base of every generated model.

Generated models are attrs classes (``attrs.fields`` describes them, cattrs structures
them) whose ``__init__`` is written out by the generator, so that defining hundreds of
models compiles almost nothing at import time. ``__repr__`` and ``__eq__`` live here, once.
"""

from __future__ import annotations

from typing import Any

import attrs


def _fields(instance: object) -> tuple[attrs.Attribute[Any], ...]:
    return attrs.fields(type(instance))  # type: ignore[arg-type,no-any-return]


class Model:
    """Field-wise ``repr`` and ``==`` for attrs models (instances are unhashable)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # mutable value objects, like attrs' default

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in _fields(self))
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in _fields(self))

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in _fields(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
