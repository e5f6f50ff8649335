"""The fake Glean server: :class:`tests.openapi_fake.FakeOpenAPIServer` on a Glean spec.

    async with FakeGlean() as fake:                  # or: with FakeGlean.in_thread() as fake:
        glean = Glean(api_token="t", server_url=fake.url)

Serves ``specs/glean.json`` (the spec ``glean_async`` is generated from) unless given
another ``spec_path``; everything else is the spec-driven fake's.
"""

from __future__ import annotations

from pathlib import Path

from tests.data import SPECS
from tests.openapi_fake import (
    FakeOpenAPIServer,
    OpenAPISpec,
    RecordedRequest,
    SpecOperation,
    load_spec,
    mime,
)

SPEC_PATH = SPECS / "glean.json"

__all__ = [
    "SPEC_PATH",
    "FakeGlean",
    "OpenAPISpec",
    "RecordedRequest",
    "SpecOperation",
    "load_spec",
    "mime",
]


class FakeGlean(FakeOpenAPIServer):
    """The spec-driven fake serving a Glean spec (``specs/glean.json`` by default)."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, spec_path: Path = SPEC_PATH
    ) -> None:
        super().__init__(spec_path, host=host, port=port)
