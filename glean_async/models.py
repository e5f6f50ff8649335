"""Models of the API (attrs classes, open enums, unions), loaded on first use."""

from typing import TYPE_CHECKING

from ._generated.models import __all__ as __all__
from ._generated.models import __getattr__ as __getattr__

if TYPE_CHECKING:
    from ._generated.models import *  # noqa: F403
