"""The wheel, installed into a clean venv, works without the repository.

One venv for the module: the wheel is built (hatchling), installed with the ``testing``
extra, pytest and pytest-asyncio into a venv of the running interpreter. Everything then
runs from a folder outside the repository, without PYTHONPATH: the command-line Glean
server answers HTTP from the spec the wheel carries, and a user's test file using the
fixtures passes, anyio-marked beside pytest-asyncio's default strict mode, and unmarked
in its auto mode.
Needs PyPI (pip's cache makes reruns fast).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN_ENTRY_POINT = "[pytest11]\nglean_flux0_async = shared.testing.pytest_plugin"

pytestmark = pytest.mark.slow


@dataclass
class Installed:
    wheel: Path
    python: Path  # the venv's interpreter
    folder: Path  # outside the repository; everything runs here


def clean_env() -> dict[str, str]:
    """This process's environment without anything that points into the repository."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTEST_ADDOPTS")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def run(*command: str | Path, cwd: Path, timeout: float = 600) -> str:
    """Run ``command`` (it must succeed); its stdout, then its stderr."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel-install")
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "-q", "--no-deps", REPO, "-w", root / "dist", cwd=root)
    [wheel] = (root / "dist").glob("*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", root / "venv", cwd=root)
    python = root / "venv" / "bin" / "python"
    # this pip installs into the venv (--python): no pip of its own to bootstrap
    extras = (f"{wheel}[testing]", "pytest", "pytest-asyncio")
    run(*pip, "--python", python, "install", "-q", "--no-compile", *extras, cwd=root)
    folder = root / "work"
    folder.mkdir()
    return Installed(wheel, python, folder)


def test_the_wheel_holds_the_spec_and_the_type_markers_not_the_generator(
    installed: Installed,
) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        packaged = json.loads(wheel.read("glean_async/testing/glean.json"))
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert PLUGIN_ENTRY_POINT in wheel.read(entry_points).decode()
    assert packaged == json.loads((REPO / "specs" / "glean.json").read_text(encoding="utf-8"))
    for package in ("shared", "glean_async", "flux0_async"):
        assert f"{package}/py.typed" in names
    assert "shared/testing/pytest_plugin.py" in names
    assert not [name for name in names if name.startswith("shared/codegen")]


def test_the_venv_imports_the_installed_packages(installed: Installed) -> None:
    probe = (
        "import json, flux0_async, glean_async, shared\n"
        "from glean_async.testing.spec import spec_path\n"
        "print(json.dumps([m.__file__ for m in (shared, glean_async, flux0_async)]"
        " + [str(spec_path())]))"
    )
    output = run(installed.python, "-c", probe, cwd=installed.folder)
    files = json.loads(output.splitlines()[0])
    venv = installed.python.parents[1]
    for file in files:
        assert Path(file).is_relative_to(venv), file
        assert not Path(file).is_relative_to(REPO), file
    assert files[-1].endswith("glean_async/testing/glean.json")  # the packaged spec


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_python_m_glean_async_testing_serves(installed: Installed) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(installed.python), "-m", "glean_async.testing", "--port", str(port)],
        cwd=installed.folder,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(120, server.kill)  # a server that never starts fails the test
    watchdog.start()
    try:
        assert server.stdout is not None and server.stderr is not None
        banner = server.stdout.readline()  # the URL, once it serves
        assert f"http://127.0.0.1:{port}" in banner, banner + server.stderr.read()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/rest/api/v1/search",
            data=json.dumps({"query": "anything"}).encode(),
            headers={"Authorization": "Bearer a-token", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            assert isinstance(json.load(response), dict)
    finally:
        watchdog.cancel()
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0


USER_TESTS = """
    import pytest
    from flux0_async import models as flux0_models
    from glean_async import models

    pytestmark = pytest.mark.anyio


    def document(id, title, text):
        return models.DocumentDefinition(
            datasource="wiki",
            id=id,
            title=title,
            view_url=f"https://wiki.example.com/{id}",
            body=models.ContentDefinition(mime_type="text/plain", text_content=text),
            permissions=models.DocumentPermissionsDefinition(allow_anonymous_access=True),
        )


    async def test_index_search_and_read_back(glean_server, glean_client):
        documents = glean_client.indexing.documents
        first = [document("expenses", "Expense policy", "Receipts within thirty days")]
        last = [document("travel", "Travel guide", "Book trains; the expense policy applies")]
        await documents.bulk_index(
            upload_id="u1", datasource="wiki", documents=first, is_first_page=True
        )
        await documents.bulk_index(
            upload_id="u1", datasource="wiki", documents=last, is_last_page=True
        )
        vacation = [document("vacation", "Vacation policy", "Twenty days a year")]
        await documents.index(datasource="wiki", documents=vacation)

        stored = glean_server.documents("wiki")
        assert sorted(stored) == ["expenses", "travel", "vacation"]
        assert stored["travel"]["title"] == "Travel guide"
        found = await glean_client.client.search.query(query="policy")
        titles = [result.title for result in found.results]
        assert sorted(titles) == ["Expense policy", "Travel guide", "Vacation policy"]
        found = await glean_client.client.search.query(query="trains")
        assert [result.title for result in found.results] == ["Travel guide"]


    def test_a_clean_server_for_the_sync_client(glean_server, glean_sync_client):
        assert glean_server.documents("wiki") == {}
        glean_sync_client.indexing.documents.index(
            datasource="wiki", documents=[document("one", "One", "first")]
        )
        assert list(glean_server.documents("wiki")) == ["one"]


    async def test_flux0_echoes(flux0_client):
        agent = await flux0_client.agents.create(name="bot", type="echo")
        session = await flux0_client.sessions.create(agent_id=agent.id)
        stream = await flux0_client.sessions.create_event(
            session_id=session.id, type="message", source="user", content="hello"
        )
        async with stream as events:
            chunks = [e.data async for e in events if isinstance(e, flux0_models.ChunkEventStream)]
        reply = "".join(str(p.value) for c in chunks for p in c.patches if p.path == "/-")
        assert reply == "Echo: hello"
"""


def test_a_user_test_file_passes_with_the_fixtures(installed: Installed) -> None:
    (installed.folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (installed.folder / "test_user.py").write_text(textwrap.dedent(USER_TESTS), encoding="utf-8")
    output = run(
        installed.python,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "error::pytest.PytestUnraisableExceptionWarning",
        cwd=installed.folder,
    )
    assert re.search(r"\b3 passed\b", output), output
    assert "Unclosed" not in output, output


UNMARKED_TESTS = """
    async def test_glean(glean_server, glean_client):
        await glean_client.client.search.query(query="anything")
        assert [request.name for request in glean_server.requests] == ["client.search.query"]


    async def test_flux0(flux0_client):
        assert (await flux0_client.agents.create(name="bot", type="echo")).name == "bot"
"""


def test_pytest_asyncio_auto_mode_runs_unmarked_tests_with_the_fixtures(
    installed: Installed,
) -> None:
    folder = installed.folder / "asyncio-auto"
    folder.mkdir()
    ini = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    (folder / "pytest.ini").write_text(ini, encoding="utf-8")
    (folder / "test_unmarked.py").write_text(textwrap.dedent(UNMARKED_TESTS), encoding="utf-8")
    output = run(
        installed.python,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "error::pytest.PytestUnraisableExceptionWarning",
        cwd=folder,
    )
    assert re.search(r"\b2 passed\b", output), output
    assert "Unclosed" not in output, output
