"""The embedded Glean server: :class:`shared.testing.openapi.FakeOpenAPIServer` on the Glean spec.

    async with FakeGleanServer() as fake:      # or: with FakeGleanServer.in_thread() as fake:
        glean = Glean(api_token="t", server_url=fake.url)

Serves ``specs/glean.json`` (the spec ``glean_async`` is generated from) unless given
another ``spec_path``; everything else is the spec-driven fake's.
"""

from __future__ import annotations

from pathlib import Path

from shared.testing.openapi import (
    FakeOpenAPIServer,
    OpenAPISpec,
    RecordedRequest,
    SpecOperation,
    load_spec,
    mime,
)

from .spec import spec_path

SPEC_PATH = spec_path()

__all__ = [
    "SPEC_PATH",
    "FakeGleanServer",
    "OpenAPISpec",
    "RecordedRequest",
    "SpecOperation",
    "load_spec",
    "mime",
]


class FakeGleanServer(FakeOpenAPIServer):
    """The spec-driven fake serving a Glean spec (``specs/glean.json`` by default)."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, spec_path: Path = SPEC_PATH
    ) -> None:
        super().__init__(spec_path, host=host, port=port)
