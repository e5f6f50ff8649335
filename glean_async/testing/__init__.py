"""An embedded Glean server for tests and demos: in memory, on 127.0.0.1, real HTTP.

    async with FakeGleanServer() as server:        # or: with FakeGleanServer.in_thread()
        glean = Glean(api_token="t", server_url=server.url)
        await glean.indexing.documents.index(datasource="wiki", documents=[...])
        server.documents("wiki")                   # id -> the stored wire JSON

Every request is validated against the Glean spec snapshot the SDK is generated from.
The indexing API is stateful (documents, people, permissions, shortcuts; incremental and
bulk uploads with Glean's ordering rules and stale deletion; ``server.uploads`` and
``server.violations`` record them), search and chat answer from the stored documents,
and ``Faults`` injects seeded errors, throttling, delays and dropped connections.
``python -m glean_async.testing --port 8080`` serves it from the command line. It needs
the ``testing`` extra (``pip install 'glean-flux0-async[testing]'``) for validation.
"""

from __future__ import annotations

from .faults import FaultRecord, Faults
from .server import SPEC_PATH, FakeGleanServer, RecordedRequest
from .state import PageRecord, UploadRecord

__all__ = [
    "SPEC_PATH",
    "FakeGleanServer",
    "FaultRecord",
    "Faults",
    "PageRecord",
    "RecordedRequest",
    "UploadRecord",
]
