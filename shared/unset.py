"""The ``UNSET`` sentinel: tells "not given" apart from an explicit ``None``."""

from __future__ import annotations

import enum
from typing import Final, Literal


class Unset(enum.Enum):
    """Type of :data:`UNSET`; a one-member enum so type checkers can narrow on it."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> Literal[False]:
        return False


UNSET: Final = Unset.UNSET
"""Default of every optional argument and model field: the value is omitted on the wire."""
