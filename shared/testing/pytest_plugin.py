"""pytest fixtures for both SDKs, registered by the package (``pytest11`` entry point).

Installing ``glean-flux0-async`` makes these available in every test, no import needed:

- ``glean_server``: the embedded Glean server (:class:`glean_async.testing.FakeGleanServer`).
  One server runs per pytest session (per xdist worker), on its own thread, started by
  the first test that asks for it; every test gets it reset (no documents, uploads,
  recorded requests or faults), so tests never see each other's state. Its URL stays
  the same for the whole session.
- ``glean_client`` / ``glean_sync_client``: a ``glean_async.Glean`` /
  ``glean_async.sync.Glean`` bound to ``glean_server``, closed after the test.
- ``flux0_server``: a fresh :class:`flux0_async.testing.FakeFlux0Server` per test, on
  its own thread (it starts in milliseconds).
- ``flux0_client`` / ``flux0_sync_client``: a ``flux0_async.Flux0`` /
  ``flux0_async.sync.Flux0`` bound to ``flux0_server``, closed after the test.

The async client fixtures are async generator fixtures for anyio's pytest plugin (it
ships with anyio): mark the tests ``@pytest.mark.anyio``. pytest-asyncio leaves those
alone in its default strict mode; in its auto mode, leave the tests unmarked (it then
runs test and fixture on one loop). The servers run on threads of their own, so async
and blocking tests use them alike.

Every pytest run of everyone who installed the package imports this module, so it
imports only pytest and the standard library; servers and clients are imported inside
the fixtures. The Glean server needs the ``testing`` extra (openapi-core).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import flux0_async
    import flux0_async.sync
    import glean_async
    import glean_async.sync
    from flux0_async.testing import FakeFlux0Server
    from glean_async.testing import FakeGleanServer

TOKEN = "test-token"  # the API token the Glean client fixtures send
EXTRA_HINT = "pip install 'glean-flux0-async[testing]'"
OWN_PACKAGES = frozenset({"shared", "glean_async", "flux0_async"})


def glean_server_class() -> type[FakeGleanServer]:
    """``FakeGleanServer``, or a test failure naming the extra when it is not installed."""
    try:
        from glean_async.testing import FakeGleanServer
    except ModuleNotFoundError as exc:
        missing = exc.name or "?"
        if missing.partition(".")[0] in OWN_PACKAGES:
            raise
        pytest.fail(
            f"the glean_server fixture needs the 'testing' extra (module {missing!r} is "
            f"missing): {EXTRA_HINT}",
            pytrace=False,
        )
    return FakeGleanServer


# -- Glean --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _glean_session_server() -> Iterator[FakeGleanServer]:
    """The session's one Glean server (loading the spec validator takes about a second)."""
    with glean_server_class().in_thread() as server:
        yield server


@pytest.fixture
def glean_server(_glean_session_server: FakeGleanServer) -> Iterator[FakeGleanServer]:
    """The embedded Glean server, reset for this test (state, request log, faults)."""
    _glean_session_server.reset()
    yield _glean_session_server
    _glean_session_server.reset()  # frees what the test stored


@pytest.fixture
async def glean_client(glean_server: FakeGleanServer) -> AsyncIterator[glean_async.Glean]:
    """An async Glean client bound to ``glean_server``; mark the test ``@pytest.mark.anyio``."""
    from glean_async import Glean

    async with Glean(api_token=TOKEN, server_url=glean_server.url) as client:
        yield client


@pytest.fixture
def glean_sync_client(glean_server: FakeGleanServer) -> Iterator[glean_async.sync.Glean]:
    """A blocking Glean client bound to ``glean_server``."""
    from glean_async.sync import Glean

    with Glean(api_token=TOKEN, server_url=glean_server.url) as client:
        yield client


# -- flux0 --------------------------------------------------------------------------------


@pytest.fixture
def flux0_server() -> Iterator[FakeFlux0Server]:
    """A fresh fake flux0 server for this test, on its own thread."""
    from flux0_async.testing import FakeFlux0Server

    with FakeFlux0Server.in_thread() as server:
        yield server


@pytest.fixture
async def flux0_client(flux0_server: FakeFlux0Server) -> AsyncIterator[flux0_async.Flux0]:
    """An async flux0 client bound to ``flux0_server``; mark the test ``@pytest.mark.anyio``."""
    from flux0_async import Flux0

    async with Flux0(server_url=flux0_server.url) as client:
        yield client


@pytest.fixture
def flux0_sync_client(flux0_server: FakeFlux0Server) -> Iterator[flux0_async.sync.Flux0]:
    """A blocking flux0 client bound to ``flux0_server``."""
    from flux0_async.sync import Flux0

    with Flux0(server_url=flux0_server.url) as client:
        yield client
