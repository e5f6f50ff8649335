"""An embedded Glean server for tests and demos: in memory, on 127.0.0.1, real HTTP.

    async with FakeGleanServer() as server:        # or: with FakeGleanServer.in_thread()
        glean = Glean(api_token="t", server_url=server.url)

Every request is validated against the Glean spec snapshot the SDK is generated from.
``python -m glean_async.testing --port 8080`` serves it from the command line. It needs
the ``testing`` extra (``pip install 'glean-flux0-async[testing]'``) for validation.
"""

from __future__ import annotations

from .server import SPEC_PATH, FakeGleanServer, RecordedRequest

__all__ = ["SPEC_PATH", "FakeGleanServer", "RecordedRequest"]
