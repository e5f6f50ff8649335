"""A newer Glean spec, generated with no edits, against the spec-driven fake of that spec.

``specs/glean-2026-04.json`` declares security per operation and none at the top,
leaves operations without ``operationId`` or ``x-speakeasy-group`` and the chat
streaming twin without ``security``. The package is generated from it into a temporary
folder; every one of its operations is called async and sync against
:class:`shared.testing.openapi.FakeOpenAPIServer` serving the same spec (checks in
tests/operation_calls.py). The generator's warnings for the spec are listed in the
terminal summary.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from shared.opnames import operation_names
from shared.testing.openapi import FakeOpenAPIServer
from tests.data import SPECS
from tests.generated import GeneratedSDK, generated_sdk
from tests.operation_calls import OperationCalls, descriptors

SPEC = SPECS / "glean-2026-04.json"
PACKAGE = "glean_2026_04_under_test"
TOKEN = "glean-2026-token-Zr8"
REPORT_NAME = "glean-2026-generator-warnings"
NAMES = sorted(
    n.dotted
    for n in operation_names(json.loads(SPEC.read_text(encoding="utf-8"))["paths"]).values()
)


class WarningsReport:
    """A pytest plugin object: the generator's warnings (and lossy round trips) in the
    terminal summary."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.lossy: set[str] = set()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("-", f"generator warnings for {SPEC.name}")
        for warning in self.warnings:
            terminalreporter.write_line(f"warning: {warning}")
        if self.lossy:
            lossy = ", ".join(sorted(self.lossy))
            terminalreporter.write_line(f"results that dropped undeclared fields: {lossy}")


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedSDK]:
    with generated_sdk(SPEC, PACKAGE, "Glean", tmp_path_factory.mktemp("glean2026")) as built:
        yield built


@pytest.fixture(scope="module")
def report(sdk: GeneratedSDK, pytestconfig: pytest.Config) -> WarningsReport:
    plugin = WarningsReport(sdk.api.warnings)
    if not pytestconfig.pluginmanager.has_plugin(REPORT_NAME):
        pytestconfig.pluginmanager.register(plugin, REPORT_NAME)
    return plugin


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAPIServer]:
    with FakeOpenAPIServer.in_thread(spec_path=SPEC) as server:
        yield server


@pytest.fixture(scope="module")
def calls(fake: FakeOpenAPIServer, sdk: GeneratedSDK, report: WarningsReport) -> OperationCalls:
    calls = OperationCalls(fake, sdk.package.converter, TOKEN)
    report.lossy = calls.lossy
    return calls


@pytest.fixture(scope="module")
def operations(sdk: GeneratedSDK) -> dict[str, Any]:
    from importlib import import_module

    return descriptors(import_module(f"{PACKAGE}._generated.operations"))


@pytest.fixture
async def client(sdk: GeneratedSDK, fake: FakeOpenAPIServer) -> AsyncIterator[Any]:
    async with sdk.package.Glean(api_token=TOKEN, server_url=fake.url) as glean:
        yield glean


@pytest.fixture(scope="module")
def sync_client(sdk: GeneratedSDK, fake: FakeOpenAPIServer) -> Iterator[Any]:
    from importlib import import_module

    sync = import_module(f"{PACKAGE}.sync")
    with sync.Glean(api_token=TOKEN, server_url=fake.url) as glean:
        yield glean


@pytest.mark.anyio
@pytest.mark.parametrize("name", NAMES)
async def test_async_client(
    calls: OperationCalls, operations: dict[str, Any], client: Any, name: str
) -> None:
    await calls.call_async(client, operations[name])


@pytest.mark.parametrize("name", NAMES)
def test_sync_facade(
    calls: OperationCalls, operations: dict[str, Any], sync_client: Any, name: str
) -> None:
    calls.call_sync(sync_client, operations[name])


def test_the_sdk_has_every_operation_of_the_spec_where_the_fake_serves_it(
    fake: FakeOpenAPIServer, operations: dict[str, Any]
) -> None:
    assert len(NAMES) == len(set(NAMES)) == len(operations) == 116
    assert set(fake.operations) == set(operations)
    for name, op in operations.items():
        assert (op.method, op.path) == (fake.operation(name).method, fake.operation(name).route)


def test_the_client_takes_a_token_and_every_operation_sends_it(
    sdk: GeneratedSDK, operations: dict[str, Any]
) -> None:
    for cls in (sdk.package.Glean, sdk.package.sync.Glean):
        assert "api_token" in inspect.signature(cls).parameters
    assert all(op.auth for op in operations.values())
    twin = "client.chat.create_stream: declares no security and the spec has none at the top"
    assert any(warning.startswith(twin) for warning in sdk.api.warnings)


def test_operations_without_a_speakeasy_group_take_their_first_tag(
    sdk: GeneratedSDK, operations: dict[str, Any]
) -> None:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    ungrouped = [
        (op["tags"][0], op["operationId"])
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "x-speakeasy-group" not in op
    ]
    assert len(ungrouped) == 7
    by_id = {op.operation_id: op for op in sdk.api.operations}
    for tag, operation_id in ungrouped:
        assert by_id[operation_id].group == (tag.lower(),)
        assert by_id[operation_id].dotted in operations
