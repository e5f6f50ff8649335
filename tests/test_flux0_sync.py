"""The generated sync facade over real HTTP, against the fake and the real flux0 server.

Tests taking ``flux0`` run twice, ``[fake]`` and ``[real]``; the real server is shared by
the session, so they look only at what they made. Tests that read the fake's state, and
the scripts run in a child interpreter, use the fake alone.
"""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flux0_async
from flux0_async import errors, models
from flux0_async.sync import Flux0
from flux0_async.testing import FakeFlux0Server
from shared.errors import InvalidInputError
from tests import loops
from tests.flux0_real.plugin import SERVER_KINDS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=SERVER_KINDS)
def server_url(request: pytest.FixtureRequest) -> str:
    """The fake server's URL, or the real server's."""
    name = "real_flux0_server" if request.param == "real" else "flux0_server"
    url: str = request.getfixturevalue(name).url
    return url


@pytest.fixture
def flux0(server_url: str) -> Iterator[Flux0]:
    with Flux0(server_url=server_url) as client:
        yield client


def reply_text(events: list[Any]) -> str:
    chunks = [e.data for e in events if isinstance(e, models.ChunkEventStream)]
    texts = sorted(
        (c for c in chunks if all(p.path == "/-" for p in c.patches)), key=lambda c: c.seq
    )
    return "".join(str(p.value) for c in texts for p in c.patches)


def new_session(flux0: Flux0, agent_type: str = "echo") -> models.SessionDTO:
    agent = flux0.agents.create(name="Drizzle", type=agent_type)
    return flux0.sessions.create(agent_id=agent.id)


def test_facade_mirrors_the_async_client_signatures_and_docstrings() -> None:
    sync_client = Flux0(server_url="http://127.0.0.1:9")
    async_client = flux0_async.Flux0(server_url="http://127.0.0.1:9")
    for namespace in ("agents", "sessions"):
        sync_ns, async_ns = getattr(sync_client, namespace), getattr(async_client, namespace)
        names = [n for n in dir(async_ns) if not n.startswith("_")]
        assert names == [n for n in dir(sync_ns) if not n.startswith("_")]
        for name in names:
            sync_fn, async_fn = getattr(sync_ns, name), getattr(async_ns, name)
            assert inspect.iscoroutinefunction(async_fn) and not inspect.iscoroutinefunction(
                sync_fn
            )
            assert sync_fn.__doc__ == async_fn.__doc__
            sync_params = list(inspect.signature(sync_fn).parameters)
            assert sync_params == list(inspect.signature(async_fn).parameters)
    sync_client.close()


def test_every_operation(flux0: Flux0) -> None:
    agent = flux0.agents.create(name="Drizzle", type="echo")
    assert flux0.agents.retrieve(agent_id=agent.id).id == agent.id
    assert agent.id in [a.id for a in flux0.agents.list().data]
    session = flux0.sessions.create(agent_id=agent.id, title="SF", allow_greeting=False)
    assert flux0.sessions.retrieve(session_id=session.id) == session
    assert session.id in [s.id for s in flux0.sessions.list(agent_id=agent.id).data]
    with flux0.sessions.create_event(
        session_id=session.id, type="message", source="user", content="hello sync"
    ) as events:
        received = list(events)
    assert reply_text(received) == "Echo: hello sync"
    listed = flux0.sessions.list_events(session_id=session.id, request=["message"])
    assert [e.source for e in listed.data] == ["user", "ai_agent"]


def test_errors_and_bad_input(flux0: Flux0) -> None:
    with pytest.raises(errors.HTTPValidationError) as caught:
        flux0.agents.retrieve(agent_id="short")
    assert caught.value.data.detail
    with pytest.raises(errors.APIError) as missing:
        flux0.sessions.retrieve(session_id="abcdefghij")
    assert missing.value.status_code == 404
    before = flux0.agents.list().data
    with pytest.raises(InvalidInputError, match="name"):
        flux0.agents.create(name=["x"], type="echo")  # type: ignore[arg-type]
    assert flux0.agents.list().data == before


def test_invalid_create_bodies_give_http_validation_error_with_parsed_data(flux0: Flux0) -> None:
    with pytest.raises(errors.HTTPValidationError) as on_agent:
        flux0.agents.create(name="", type="echo")
    with pytest.raises(errors.HTTPValidationError) as on_session:
        flux0.sessions.create(agent_id="abcdefghijk")
    for caught, field in ((on_agent, "name"), (on_session, "agent_id")):
        assert isinstance(caught.value.data, models.HTTPValidationError)
        assert [d.loc for d in caught.value.data.detail] == [["body", field]]


def test_a_long_reply_streams_whole(flux0: Flux0) -> None:
    session = new_session(flux0, "echo_long")
    with flux0.sessions.create_event(
        session_id=session.id, type="message", source="user", content="long"
    ) as events:
        received = list(events)
    assert reply_text(received) == "".join(f"{n:03d} Echo: long\n" for n in range(100))
    assert len(received) > 300  # 375 chunks of 4 characters


def test_break_closes_the_stream(flux0_server: FakeFlux0Server, flux0_sync_client: Flux0) -> None:
    session = new_session(flux0_sync_client, "echo_crash")
    for _ in flux0_sync_client.sessions.create_event(
        session_id=session.id, type="message", source="user", content="x"
    ):
        break
    deadline = time.monotonic() + 5
    while flux0_server.state.open_streams and time.monotonic() < deadline:
        time.sleep(0.02)
    assert flux0_server.state.open_streams == 0


def test_stream_read_timeout_raises_the_sdk_error(flux0: Flux0) -> None:
    session = new_session(flux0, "echo_crash")
    with (
        pytest.raises(errors.APITimeoutError),
        flux0.sessions.create_event(
            session_id=session.id, type="message", source="user", content="x", timeout_ms=300
        ) as events,
    ):
        for _ in events:
            pass


def test_called_from_inside_a_running_event_loop() -> None:
    result = run_script(
        """
        import asyncio, warnings
        from flux0_async.sync import Flux0
        from flux0_async.testing import FakeFlux0Server

        async def inside(flux0):
            flux0.agents.create(name="jupyter", type="echo")
            return [a.name for a in flux0.agents.list().data]

        with FakeFlux0Server.in_thread() as server, Flux0(server_url=server.url) as flux0:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                print(asyncio.run(inside(flux0)))
            print(sorted({w.category.__name__ for w in caught}))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['jupyter']", "['RuntimeWarning']"]


def test_sixteen_threads_share_one_connection_pool(flux0: Flux0) -> None:
    agent = flux0.agents.create(name="pool", type="echo")
    failures: list[BaseException] = []
    sessions: set[Any] = set()

    def worker() -> None:
        try:
            for _ in range(10):
                assert flux0.agents.retrieve(agent_id=agent.id).id == agent.id
            sessions.add(id(flux0._run(_session_of)))
        except BaseException as exc:  # collected and re-raised in the test thread
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures
    assert len(sessions) == 1


async def _session_of(client: flux0_async.Flux0) -> Any:
    return client._core.session


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
# the point of the test: the sync client's loop thread (and the server's) are running
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_usable_in_a_child_after_fork(flux0: Flux0) -> None:
    agent = flux0.agents.create(name="before-fork", type="echo")
    pid = os.fork()
    if pid == 0:  # child: exit code tells the parent what happened
        code = 1
        try:
            code = 0 if flux0.agents.retrieve(agent_id=agent.id).id == agent.id else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert flux0.agents.retrieve(agent_id=agent.id).name == "before-fork"


def run_script(
    source: str, *, interrupt_after: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` in a fresh interpreter; optionally SIGINT it after a marker line."""
    env = loops.subprocess_env(dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="default"))
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    if interrupt_after:
        for line in process.stdout:
            if interrupt_after in line:
                time.sleep(0.2)
                process.send_signal(signal.SIGINT)
                break
    out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_ctrl_c_cancels_the_in_flight_read() -> None:
    result = run_script(
        """
        import time
        from flux0_async.sync import Flux0
        from flux0_async.testing import FakeFlux0Server

        with FakeFlux0Server.in_thread() as server, Flux0(server_url=server.url) as flux0:
            agent = flux0.agents.create(name="a", type="echo_crash")
            session = flux0.sessions.create(agent_id=agent.id)
            stream = flux0.sessions.create_event(
                session_id=session.id, type="message", source="user", content="x"
            )
            try:
                for event in stream:
                    print("READY", flush=True)
            except KeyboardInterrupt:
                deadline = time.monotonic() + 5
                while server.state.open_streams and time.monotonic() < deadline:
                    time.sleep(0.02)
                print("INTERRUPTED open_streams=%d" % server.state.open_streams, flush=True)
        """,
        interrupt_after="READY",
    )
    assert "INTERRUPTED open_streams=0" in result.stdout, result.stderr


def test_a_client_never_closed_leaves_no_warnings_at_exit() -> None:
    result = run_script(
        """
        from flux0_async.sync import Flux0
        from flux0_async.testing import FakeFlux0Server

        with FakeFlux0Server.in_thread() as server:
            flux0 = Flux0(server_url=server.url)
            flux0.agents.create(name="leak", type="echo")
            print(len(flux0.agents.list().data))
            leaked_too = Flux0(server_url=server.url)
            leaked_too.agents.list()
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    for text in ("Unclosed", "Event loop is closed", "Traceback"):
        assert text not in result.stderr


def test_sync_streams_make_one_round_trip_per_batch_not_per_event(
    flux0: Flux0, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.runtime import BackgroundLoop

    session = new_session(flux0)
    calls = 0
    real_run = BackgroundLoop.run

    def counting_run(self: BackgroundLoop, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_run(self, fn, *args, **kwargs)

    with flux0.sessions.create_event(
        session_id=session.id, type="message", source="user", content="x" * 200
    ) as events:
        monkeypatch.setattr(BackgroundLoop, "run", counting_run)
        received = list(events)
    assert reply_text(received) == "Echo: " + "x" * 200
    assert calls < len(received)
