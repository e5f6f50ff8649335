"""Models of Glean API (attrs classes, open enums, unions)."""

from ._generated.models import *  # noqa: F403
from ._generated.models import __all__ as __all__
