"""Shared by the bulk tests: fast retries, generated items, what the server recorded.

Importable by worker processes (spawn, forkserver, dask), so it imports nothing from the
tests' pytest setup.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared.retries import BackoffStrategy, RetryConfig

FAST_RETRIES = RetryConfig(
    "backoff",
    BackoffStrategy(
        initial_interval_ms=1, max_interval_ms=4, exponent=1.5, max_elapsed_time_ms=60_000
    ),
    True,
)
"""Retries after a few milliseconds, for minutes: fault tests finish quickly and surely."""

TOKEN = "bulk-test-token"


def documents(count: int, prefix: str = "doc", start: int = 0) -> list[dict[str, Any]]:
    """Small documents ``<prefix>-<n>`` (no datasource: the upload's is filled in)."""
    return [
        {"id": f"{prefix}-{n}", "title": f"Document {n}", "viewURL": f"https://wiki/{prefix}/{n}"}
        for n in range(start, start + count)
    ]


def uploads(server: Any, kind: str = "documents", key: str = "wiki") -> list[Any]:
    return [upload for upload in server.uploads if (upload.kind, upload.key) == (kind, key)]


def last_pages(upload: Any) -> list[Any]:
    return [page for page in upload.pages if page.last]


def bulk_bodies(server: Any, suffix: str = "bulkindexdocuments") -> list[Any]:
    return [request.body for request in server.requests if request.path.endswith(suffix)]


def settled(server: Any) -> bool:
    """Whether the server answered every request it received (none still in a handler)."""
    return all(request.status is not None for request in server.requests)


def upload_part(server_url: str, handle: Any, part: str, start: int, count: int) -> Any:
    """A worker's share of a split upload, with a client of its own (any process)."""
    import glean_async

    async def send() -> Any:
        async with glean_async.Glean(
            api_token=TOKEN, server_url=server_url, retry_config=FAST_RETRIES
        ) as glean:
            return await glean.bulk.send_pages(
                handle, documents(count, start=start), part=part, batch_size=50, concurrency=3
            )

    return asyncio.run(send())
