"""Shared pytest configuration: async tests run through anyio's plugin, on asyncio's
loop or, with ``SDK_TEST_LOOP=uvloop``, on uvloop's (tests/loops.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from shared.runtime import set_loop_factory
from tests import loops

pytest_plugins = ["tests.flux0_real.plugin"]  # the real flux0 server fixtures

# Hypothesis's timing checks are wall-clock limits: a loaded CI machine trips them
# (slow input generation, slow examples) without anything being wrong.
settings.register_profile("sdk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sdk")


def pytest_configure(config: pytest.Config) -> None:
    try:
        loops.check()
    except (ValueError, ImportError) as exc:
        raise pytest.UsageError(f"{loops.ENV_VAR}: {exc}") from None
    set_loop_factory(loops.loop_factory())
    loops.install_policy()


def pytest_report_header(config: pytest.Config) -> str:
    return f"event loop: {loops.NAME} ({loops.ENV_VAR})"


@pytest.fixture
def anyio_backend() -> str | tuple[str, dict[str, Any]]:
    return loops.anyio_backend()
