"""The pytest fixtures the package registers (shared/testing/pytest_plugin.py).

In this suite they come from the entry point of the editable install, as for any user.
What spans tests (one Glean server per session, reset between tests; a fresh flux0
server per test; clients closed after their test; the plugin importing nothing heavy;
the missing-extra message; the README's test examples) runs in a pytest of its own, in a
folder outside the repository.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flux0_async
import flux0_async.sync
import glean_async
import glean_async.sync
import shared.testing.pytest_plugin as plugin
from flux0_async.testing import FakeFlux0Server
from glean_async.testing import FakeGleanServer

FIXTURES = [
    "glean_server",
    "glean_client",
    "glean_sync_client",
    "flux0_server",
    "flux0_client",
    "flux0_sync_client",
]
README = Path(__file__).resolve().parents[1] / "README.md"
TEST_FUNCTION = r"^(?:async )?def test_"
HEAVY = ["aiohttp", "openapi_core", "glean_async", "flux0_async", "shared.testing.serving"]


def run_pytest(folder: Path, files: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Write ``files`` into ``folder`` (its own rootdir) and run pytest there."""
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for name, source in files.items():
        (folder / name).write_text(textwrap.dedent(source), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def assert_passed(result: subprocess.CompletedProcess[str], count: int) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(rf"\b{count} passed\b", result.stdout), output
    assert "Unclosed" not in output, output


# -- registration ---------------------------------------------------------------------------


def test_the_package_registers_the_plugin(pytestconfig: pytest.Config) -> None:
    entry_points = importlib.metadata.distribution("glean-flux0-async").entry_points
    [entry_point] = [ep for ep in entry_points if ep.group == "pytest11"]
    assert (entry_point.name, entry_point.value) == ("glean_flux0_async", plugin.__name__)
    assert pytestconfig.pluginmanager.get_plugin("glean_flux0_async") is plugin


@pytest.mark.slow
def test_pytest_lists_the_fixtures(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, {"test_nothing.py": ""}, "--fixtures")
    assert result.returncode == 0, result.stdout + result.stderr
    listed = re.findall(r"^(\w+) -- .*shared/testing/pytest_plugin\.py", result.stdout, re.M)
    assert sorted(listed) == sorted(FIXTURES)


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    probe = f"import json, sys, {plugin.__name__}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    modules = json.loads(result.stdout)
    assert plugin.__name__ in modules
    assert not [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


# -- the fixtures, here -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_glean_client_talks_to_glean_server(
    glean_server: FakeGleanServer, glean_client: glean_async.Glean
) -> None:
    assert isinstance(glean_client, glean_async.Glean)
    await glean_client.client.search.query(query="vacation")
    [request] = glean_server.requests
    assert (request.name, request.valid) == ("client.search.query", True)
    assert request.headers["Authorization"] == f"Bearer {plugin.TOKEN}"


def test_glean_sync_client_talks_to_glean_server(
    glean_server: FakeGleanServer, glean_sync_client: glean_async.sync.Glean
) -> None:
    assert isinstance(glean_sync_client, glean_async.sync.Glean)
    glean_sync_client.client.chat.list()
    assert [(r.name, r.valid) for r in glean_server.requests] == [("client.chat.list", True)]


@pytest.mark.anyio
async def test_flux0_client_talks_to_flux0_server(
    flux0_server: FakeFlux0Server, flux0_client: flux0_async.Flux0
) -> None:
    assert isinstance(flux0_client, flux0_async.Flux0)
    agent = await flux0_client.agents.create(name="plugin", type="echo")
    assert [a["id"] for a in flux0_server.state.agents.values()] == [agent.id]


def test_flux0_sync_client_talks_to_flux0_server(
    flux0_server: FakeFlux0Server, flux0_sync_client: flux0_async.sync.Flux0
) -> None:
    assert isinstance(flux0_sync_client, flux0_async.sync.Flux0)
    agent = flux0_sync_client.agents.create(name="plugin-sync", type="echo")
    assert [a["id"] for a in flux0_server.state.agents.values()] == [agent.id]


@pytest.fixture
def clients_seen() -> Iterator[list[Any]]:
    """Clients a test hands over; set up before, so torn down after, the client fixtures."""
    seen: list[Any] = []
    yield seen
    assert len(seen) == 2
    for client, session in seen:
        assert client._core.closed and session.closed, client


@pytest.mark.anyio
async def test_async_clients_are_closed_after_the_test(
    clients_seen: list[Any], glean_client: glean_async.Glean, flux0_client: flux0_async.Flux0
) -> None:
    await glean_client.client.chat.list()
    await flux0_client.agents.list()
    for client in (glean_client, flux0_client):
        assert client._core.session is not None and not client._core.session.closed
        clients_seen.append((client, client._core.session))


# -- across tests, in a pytest of its own ---------------------------------------------------

ACROSS_TESTS = """
    import sys

    import pytest
    from glean_async.utils import RetryConfig

    SEEN = {}


    def test_the_plugin_loads_without_the_glean_server():
        assert "openapi_core" not in sys.modules
        assert "glean_async.testing" not in sys.modules


    @pytest.mark.anyio
    async def test_one_leaves_state_behind(glean_server, glean_client, flux0_server, flux0_client):
        SEEN.update(glean_url=glean_server.url, flux0_url=flux0_server.url, client=glean_client)
        document = {"datasource": "wiki", "id": "left-behind"}
        await glean_client.indexing.documents.index(datasource="wiki", documents=[document])
        assert list(glean_server.documents("wiki")) == ["left-behind"]
        glean_server.fail_next("client.search.query", status=503)
        glean_server.faults = type(glean_server.faults)(seed=1, throttle_rate=1.0)
        await flux0_client.agents.create(name="left-behind", type="echo")


    def test_two_gets_them_clean(glean_server, glean_sync_client, flux0_server, flux0_sync_client):
        assert glean_server.url == SEEN["glean_url"]  # the session's one server
        assert glean_server.requests == []
        assert glean_server.documents("wiki") == {}
        assert glean_server.faults == type(glean_server.faults)()  # none
        glean_sync_client.client.search.query(query="q", retries=RetryConfig("none"))  # no 503
        assert SEEN["client"]._core.closed
        assert flux0_server.url != SEEN["flux0_url"]  # a fresh one
        assert flux0_sync_client.agents.list().data == []
        SEEN["sync_client"] = glean_sync_client


    def test_three_sync_clients_are_closed_too():
        with pytest.raises(RuntimeError, match="closed"):
            SEEN["sync_client"].client.chat.list()
"""


@pytest.mark.slow
def test_across_tests_servers_are_clean_and_clients_closed(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        {"test_across.py": ACROSS_TESTS},
        "-W",
        "error::pytest.PytestUnraisableExceptionWarning",
    )
    assert_passed(result, 4)


@pytest.mark.slow
def test_without_the_testing_extra_glean_server_names_it(tmp_path: Path) -> None:
    conftest = """
        import sys

        # as if the testing extra (openapi-core and what it brings) were not installed
        for name in ("openapi_core", "openapi_schema_validator", "jsonschema", "referencing"):
            sys.modules[name] = None
    """
    tests = """
        import pytest


        def test_glean(glean_server):
            pass


        @pytest.mark.anyio
        async def test_flux0(flux0_client):
            assert (await flux0_client.agents.list()).data == []
    """
    result = run_pytest(tmp_path, {"conftest.py": conftest, "test_extra.py": tests})
    assert result.returncode == 1
    assert "1 passed, 1 error" in result.stdout, result.stdout
    assert "needs the 'testing' extra" in result.stdout
    assert plugin.EXTRA_HINT in result.stdout
    assert "Traceback" not in result.stdout


def readme_test_snippets() -> list[str]:
    """The README's Python snippets that are pytest test files."""
    snippets = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [
        textwrap.dedent(s) for s in snippets if re.search(r"^def test_|^async def test_", s, re.M)
    ]


@pytest.mark.slow
def test_the_readme_test_examples_pass(tmp_path: Path) -> None:
    snippets = readme_test_snippets()
    assert len(snippets) >= 2  # Glean's and flux0's
    files = {f"test_readme_{n}.py": source for n, source in enumerate(snippets)}
    count = sum(len(re.findall(TEST_FUNCTION, s, re.M)) for s in snippets)
    result = run_pytest(tmp_path, files, "-W", "error::pytest.PytestUnraisableExceptionWarning")
    assert_passed(result, count)
