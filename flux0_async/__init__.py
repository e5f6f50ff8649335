"""Async client of Flux0 AI Agent API.

``Flux0``, plus ``models``, ``errors``, ``converter`` (the wire format) and ``utils``.
"""

from . import errors, models, utils
from ._generated.client import Flux0
from ._generated.wire import converter

__all__ = ["Flux0", "converter", "errors", "models", "utils"]
