"""String enums that accept values the server adds after the SDK was generated."""

from __future__ import annotations

import enum
from typing import Any


class OpenEnum(str, enum.Enum):
    """A ``str`` enum whose constructor also accepts unknown string values.

    ``Color("mauve")`` returns a pseudo-member (not cached in the class) whose
    ``.value`` is ``"mauve"``, so a response carrying a new value still parses and
    unstructures back to the same string.
    """

    @classmethod
    def _missing_(cls, value: Any) -> OpenEnum | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    def __str__(self) -> str:
        return str(self.value)

    @property
    def is_known(self) -> bool:
        """``True`` when the value is one the spec declared."""
        return self._name_ in type(self).__members__
