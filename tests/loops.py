"""The event loop of a test run, chosen by the env var ``SDK_TEST_LOOP``.

``SDK_TEST_LOOP=uvloop`` runs on uvloop: the async tests (anyio's pytest plugin), the
sync clients' background loop (:func:`shared.runtime.set_loop_factory`, the way a user
picks it), every loop a test makes itself (uvloop's event-loop policy) and the Python
subprocesses started with :func:`subprocess_env` (their ``sitecustomize`` installs the
policy). Unset or ``asyncio``: asyncio's own loop. A name that is neither, or uvloop
missing, stops the run instead of falling back.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ENV_VAR = "SDK_TEST_LOOP"
LOOPS = ("asyncio", "uvloop")
SITE = Path(__file__).resolve().with_name("uvloop_site")

NAME = os.environ.get(ENV_VAR, "").strip().lower() or "asyncio"
UVLOOP = NAME == "uvloop"


def check() -> None:
    """Fail unless ``SDK_TEST_LOOP`` names a known loop that can be imported."""
    if NAME not in LOOPS:
        raise ValueError(f"{ENV_VAR}={NAME!r}: expected one of {', '.join(LOOPS)}")
    if UVLOOP:
        import uvloop  # noqa: F401  (an ImportError here stops the run)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the run's event loops (``None``: asyncio's default)."""
    if not UVLOOP:
        return None
    import uvloop

    return uvloop.new_event_loop


def install_policy() -> None:
    """Make uvloop's policy the process's one when the run is on uvloop."""
    if UVLOOP:
        import uvloop

        with warnings.catch_warnings():  # policies are deprecated from Python 3.14 on
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def anyio_backend() -> str | tuple[str, dict[str, Any]]:
    """What the ``anyio_backend`` fixture returns."""
    factory = loop_factory()
    return ("asyncio", {"loop_factory": factory}) if factory else "asyncio"


def is_expected_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` is of the kind this run asked for."""
    module = type(loop).__module__
    return module.startswith("uvloop") if UVLOOP else module.startswith("asyncio")


def subprocess_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for a Python subprocess that runs on this run's loop (``PYTHONPATH`` set)."""
    result = dict(env)
    if UVLOOP:
        paths = [str(SITE), *filter(None, result.get("PYTHONPATH", "").split(os.pathsep))]
        result["PYTHONPATH"] = os.pathsep.join(paths)
    return result
