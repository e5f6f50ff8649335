"""Blocking facade: ``Glean`` with the async client's methods, each blocking."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ._generated.sync_client import Glean as _GeneratedGlean

if TYPE_CHECKING:
    from .bulk.sync import SyncBulk

__all__ = ["Glean"]


class Glean(_GeneratedGlean):
    """Blocking client of the Glean API (see the generated class), plus ``bulk``."""

    @functools.cached_property
    def bulk(self) -> SyncBulk:
        """Bulk uploads, blocking (:mod:`glean_async.bulk.sync`)."""
        from .bulk.sync import SyncBulk

        return SyncBulk(self)
