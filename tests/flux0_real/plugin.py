"""pytest plugin: the real flux0 server as a session fixture, and the server parameter.

``real_flux0_server`` starts the real server once per test session (building its venv
on first use, see :mod:`tests.flux0_real.venv`) and stops it at the end. When it cannot
be had (no Python >= 3.13, the venv cannot be built) the tests that need it are skipped
with the reason, or fail with it when ``FLUX0_REAL_SERVER=required`` (CI sets this).
``FLUX0_REAL_SERVER=off`` skips them. A server that is there but does not start is
always a failure, with its log.

``SERVER_KINDS`` parametrizes a fixture over ``fake`` and ``real``; the ``real``
cases carry the ``flux0_real`` mark (``-m "not flux0_real"`` leaves them out).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import NoReturn

import pytest

from .process import RealFlux0Server, StartError
from .venv import Unavailable, ensure_venv, find_interpreter

MODE_VARIABLE = "FLUX0_REAL_SERVER"
SERVER_KINDS = [
    pytest.param("fake", id="fake"),
    pytest.param("real", id="real", marks=pytest.mark.flux0_real),
]
TIMINGS_KEY = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "flux0_real: runs against the real flux0 server (Python >= 3.13 venv)"
    )
    config.stash[TIMINGS_KEY] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in terminalreporter.config.stash.get(TIMINGS_KEY, []):
        terminalreporter.write_line(line)


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when the real server is required."""
    message = f"real flux0 server unavailable: {reason}"
    if os.environ.get(MODE_VARIABLE, "").lower() == "required":
        pytest.fail(f"{message} ({MODE_VARIABLE}=required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def real_flux0_server(pytestconfig: pytest.Config) -> Iterator[RealFlux0Server]:
    """The real flux0 server on 127.0.0.1, shared by the whole session."""
    if os.environ.get(MODE_VARIABLE, "").lower() == "off":
        pytest.skip(f"real flux0 server disabled ({MODE_VARIABLE}=off)")
    timings = pytestconfig.stash[TIMINGS_KEY]
    began = time.monotonic()
    try:
        python = ensure_venv(find_interpreter())
    except Unavailable as exc:
        unavailable(str(exc))
    ready = time.monotonic()
    try:
        server = RealFlux0Server.start(python)
    except StartError as exc:
        pytest.fail(f"the real flux0 server did not start: {exc}", pytrace=False)
    started = time.monotonic()
    timings.append(
        f"real flux0 server: venv ready in {ready - began:.1f} s, "
        f"started in {started - ready:.1f} s ({python})"
    )
    try:
        yield server
    finally:
        server.stop()
        timings.append(f"real flux0 server: up for {time.monotonic() - started:.1f} s")
