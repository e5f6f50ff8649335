"""Every Python snippet in README.md runs, unmodified, against the fake servers.

Only the network target changes: the clients the snippets import are swapped for
subclasses whose ``server_url`` points at a fake Glean or the fake flux0 server.
"""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flux0_async
import flux0_async.sync
import glean_async
import glean_async.sync
from flux0_async.testing import FakeFlux0Server
from glean_async.testing import FakeGleanServer

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = [
    textwrap.dedent(snippet)  # snippets inside list items are indented
    for snippet in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
]


def redirected(cls: type, url: str) -> type:
    """A subclass of ``cls`` that always talks to ``url``."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["server_url"] = url
        cls.__init__(self, *args, **kwargs)  # type: ignore[misc]

    return type(cls.__name__, (cls,), {"__init__": __init__})


@pytest.fixture
def redirect(
    glean_server: FakeGleanServer,
    flux0_server: FakeFlux0Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for module in (glean_async, glean_async.sync):
        monkeypatch.setattr(module, "Glean", redirected(module.Glean, glean_server.url))
    for module in (flux0_async, flux0_async.sync):
        monkeypatch.setattr(module, "Flux0", redirected(module.Flux0, flux0_server.url))
    monkeypatch.setenv("GLEAN_API_TOKEN", "client-token")
    monkeypatch.setenv("GLEAN_INDEXING_TOKEN", "indexing-token")
    monkeypatch.chdir(tmp_path)


def test_the_readme_has_snippets_for_every_section() -> None:
    assert len(SNIPPETS) >= 12


@pytest.fixture
def no_lasting_instrumentation() -> Iterator[None]:
    """A snippet may turn on OpenTelemetry's aiohttp instrumentation: undo it afterwards."""
    yield
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    instrumentor = AioHttpClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


@pytest.mark.parametrize("source", SNIPPETS, ids=[f"snippet{n}" for n in range(len(SNIPPETS))])
@pytest.mark.usefixtures("redirect", "no_lasting_instrumentation")
def test_snippet_runs(source: str) -> None:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(source, str(README), "exec"), {"__name__": "__readme__"})
    assert "Traceback" not in output.getvalue()
