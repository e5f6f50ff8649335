"""Bulk uploads for Glean: ordered, safe, adaptive and resumable (``glean.bulk``).

    async with glean_async.Glean(...) as glean:
        report = await glean.bulk.documents("wiki", documents)   # any (async) iterable

    with glean_async.sync.Glean(...) as glean:
        report = glean.bulk.documents("wiki", generator())        # read lazily

An upload sends its first page alone, middle pages concurrently (fewer in flight while
the server throttles), and its last page, which makes the server delete what the upload
did not include, only once every other item was acknowledged; otherwise nothing is
deleted and :class:`BulkUploadError` carries a :class:`BulkReport` to resume from.
See :class:`~glean_async.bulk.api.AsyncBulk` for every method.
"""

from __future__ import annotations

from .api import AsyncBulk
from .kinds import KINDS
from .progress import BulkProgress
from .report import (
    AckRange,
    BulkPartReport,
    BulkReport,
    BulkResumeError,
    BulkUploadError,
    ItemFailure,
)
from .split import BulkIncompleteError, BulkUpload

__all__ = [
    "KINDS",
    "AckRange",
    "AsyncBulk",
    "BulkIncompleteError",
    "BulkPartReport",
    "BulkProgress",
    "BulkReport",
    "BulkResumeError",
    "BulkUpload",
    "BulkUploadError",
    "ItemFailure",
]
