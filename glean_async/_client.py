"""``glean_async.Glean``: the generated async client plus hand-written namespaces."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ._generated.client import Glean as _GeneratedGlean

if TYPE_CHECKING:
    from .bulk import AsyncBulk

__all__ = ["Glean"]


class Glean(_GeneratedGlean):
    """Async client of the Glean API (see the generated class), plus ``bulk``."""

    @functools.cached_property
    def bulk(self) -> AsyncBulk:
        """Bulk uploads, incremental indexing, deletes, split uploads (:mod:`glean_async.bulk`)."""
        from .bulk import AsyncBulk

        return AsyncBulk(self._core)

    async def __aenter__(self) -> Glean:
        return self
