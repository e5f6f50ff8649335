"""Which event loop runs the SDK: the run's choice (SDK_TEST_LOOP, tests/loops.py) really
holds in async tests and in the sync clients' background loop, and
:func:`shared.runtime.set_loop_factory` / an installed policy choose that loop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flux0_async
import flux0_async.sync
from shared.runtime import BackgroundLoop, get_background_loop, set_loop_factory
from tests import loops

REPO = Path(__file__).resolve().parents[1]
PRINT_LOOP_KIND = """
import asyncio
from shared.runtime import get_background_loop

async def running_loop():
    return asyncio.get_running_loop()

print(type(get_background_loop().run(running_loop)).__module__.split(".")[0])
"""


class MarkedLoop(asyncio.SelectorEventLoop):
    """A loop no default would make, so a test can tell who made it."""


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def run_python(source: str, env: dict[str, str]) -> list[str]:
    """Run ``source`` in a fresh interpreter; its stdout lines (it must exit 0)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


# --- the run's loop --------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_tests_run_on_the_chosen_loop(flux0_client: flux0_async.Flux0) -> None:
    loop = asyncio.get_running_loop()
    assert loops.is_expected_loop(loop), f"{loops.NAME} run, but the loop is {type(loop)}"
    agent = await flux0_client.agents.create(name="on-loop", type="echo")
    assert asyncio.get_running_loop() is loop
    assert agent.name == "on-loop"


def test_sync_clients_run_on_the_chosen_loop(flux0_sync_client: flux0_async.sync.Flux0) -> None:
    agent = flux0_sync_client.agents.create(name="sync-on-loop", type="echo")
    loop = get_background_loop().run(running_loop)
    assert agent.name == "sync-on-loop"
    assert loops.is_expected_loop(loop), f"{loops.NAME} run, but the loop is {type(loop)}"
    assert get_background_loop().loop_factory is loops.loop_factory()  # set, not only policy


def test_subprocesses_run_on_the_chosen_loop() -> None:
    env = loops.subprocess_env({**os.environ, "PYTHONPATH": str(REPO)})
    lines = run_python(
        PRINT_LOOP_KIND,
        env,
    )
    assert lines == [loops.NAME]


# --- choosing the loop -----------------------------------------------------------------


def test_a_loop_factory_makes_the_loop_at_every_start() -> None:
    made: list[asyncio.AbstractEventLoop] = []

    def factory() -> asyncio.AbstractEventLoop:
        made.append(MarkedLoop())
        return made[-1]

    background = BackgroundLoop(loop_factory=factory)
    try:
        first = background.run(running_loop)
        background.close()
        second = background.run(running_loop)
    finally:
        background.close()
    assert made == [first, second]
    assert first is not second and first.is_closed() and second.is_closed()


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")
def test_uvloop_as_the_loop_factory() -> None:
    import uvloop

    background = BackgroundLoop(loop_factory=uvloop.new_event_loop)
    try:
        assert isinstance(background.run(running_loop), uvloop.Loop)
    finally:
        background.close()


def test_the_loop_factory_cannot_change_under_a_running_loop() -> None:
    background = get_background_loop()
    before = background.run(running_loop)
    with pytest.raises(RuntimeError, match="already running"):
        set_loop_factory(MarkedLoop)
    assert background.loop_factory is loops.loop_factory()
    assert background.run(running_loop) is before


def test_set_loop_factory_holds_for_the_process_and_a_forked_child() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    env = loops.subprocess_env({**os.environ, "PYTHONPATH": str(REPO)})
    lines = run_python(
        """
        import asyncio, os, sys
        from shared.runtime import get_background_loop, set_loop_factory

        class MarkedLoop(asyncio.SelectorEventLoop):
            pass

        async def running_loop():
            return asyncio.get_running_loop()

        def kind():
            return type(get_background_loop().run(running_loop)).__name__

        set_loop_factory(MarkedLoop)
        print("parent", kind(), flush=True)
        pid = os.fork()
        if pid == 0:
            print("child", kind(), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        """,
        env,
    )
    assert lines == ["parent", "MarkedLoop", "child", "MarkedLoop"]


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")
def test_without_a_factory_the_background_loop_follows_the_installed_policy() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(loops.SITE), str(REPO)])}
    lines = run_python(
        PRINT_LOOP_KIND,
        env,
    )
    assert lines == ["uvloop"]
