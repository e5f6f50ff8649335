"""The demo (``python -m glean_async.demo``, the README's first command) runs and reports
what it did: against its embedded servers, and against servers it is pointed at."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from glean_async.testing import FakeGleanServer

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run_demo(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GLEAN_", "FLUX0_"))}
    done = subprocess.run(
        [sys.executable, "-m", "glean_async.demo", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **(env or {})},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "Traceback" not in done.stderr
    assert "Warning" not in done.stderr  # e.g. no sync call from inside an event loop
    return done


def summary_of(stdout: str) -> dict[str, Any]:
    """The numbers of the demo's closing summary."""
    summary = stdout.rpartition("== summary\n")[2]
    patterns = {
        "upload": r"^glean: ([\d,]+) documents uploaded in (\d+) pages, (finalized|NOT finalized), "
        r"(\d+) failed",
        "search": r"^glean: search 'vacation policy': (\d+) hits, top '([^']*)'",
        "chat": r"^glean: chat answer streamed in (\d+) chunks, (\d+) chars",
        "sync": r"^glean: same search with glean_async.sync: (\d+) hits",
        "flux0": r"^flux0: session (\S+): reply streamed in (\d+) events, (\d+) text chunks",
        "total": r"^total: ([\d.]+) s$",
    }
    found = {}
    for name, pattern in patterns.items():
        match = re.search(pattern, summary, re.M)
        assert match is not None, f"no {name} line in the summary:\n{summary}"
        found[name] = match.groups()
    return found


def test_the_demo_against_its_embedded_servers() -> None:
    done = run_demo()
    found = summary_of(done.stdout)
    assert found["upload"] == ("20,000", "20", "finalized", "0")
    hits, top = found["search"]
    assert int(hits) == 5 and re.fullmatch(r"Vacation policy \d+", top)
    assert found["sync"] == (hits,)
    assert int(found["chat"][0]) > 0 and int(found["chat"][1]) > 0
    assert int(found["flux0"][1]) > 0 and int(found["flux0"][2]) > 0
    assert "Echo: Is it foggy in San Francisco today?" in done.stdout  # the streamed reply
    assert "20000/20000 accepted" in done.stderr  # the progress bar, with its total


def test_the_demo_uses_the_servers_it_is_given(
    glean_server: FakeGleanServer, flux0_server: Any, flux0_sync_client: Any
) -> None:
    argv = ["--url", glean_server.url, "--flux0-url", flux0_server.url, "--documents", "2345"]
    done = run_demo(*argv, "--datasource", "handbook", env={"GLEAN_API_TOKEN": "demo-test"})
    found = summary_of(done.stdout)
    assert found["upload"] == ("2,345", "3", "finalized", "0")
    stored = glean_server.documents("handbook")
    assert len(stored) == 2345 and stored["demo-7"]["title"] == "Release process 7"
    assert "embedded" not in done.stdout  # no server of its own was started
    session_id = found["flux0"][0]
    events = flux0_sync_client.sessions.list_events(session_id=session_id).data
    assert any("Echo: Is it foggy" in str(event.data) for event in events)
