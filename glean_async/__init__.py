"""Async client of Glean API.

``Glean``, plus ``models``, ``errors``, ``converter`` (the wire format) and ``utils``;
``glean.bulk`` (:mod:`glean_async.bulk`) uploads whole datasources.
Models load on first use, so importing the client stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors
from ._client import Glean
from ._generated.wire import converter

if TYPE_CHECKING:
    from . import models, utils

__all__ = ["Glean", "converter", "errors", "models", "utils"]


def __getattr__(name: str) -> Any:
    if name in ("models", "utils", "sync", "bulk"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
