"""Generator rules for operations the spec leaves unnamed or ungrouped, and for auth.

Inline specs: names from the path (verb only on a collision), the first tag as the
group, keyword method names, and the token wherever the spec declares security; one
generated package end to end over HTTP shows the header sent and not sent.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from shared.codegen.build import build
from shared.codegen.emit_client import constructor_signature, emit_resources
from shared.opnames import path_name
from shared.testing import LocalAppServer
from tests.generated import GeneratedSDK, generated_sdk

OK = {"200": {"description": "ok"}}
BEARER = {"bearer": {"type": "http", "scheme": "bearer"}}


def spec_of(paths: dict[str, Any], schemes: Any = None, security: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "T", "version": "1"},
        "paths": copy.deepcopy(paths),
        "components": {"schemas": {}, "securitySchemes": schemes or {}},
    }
    if security is not None:
        spec["security"] = security
    return spec


def ops_by_path(spec: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(op.method, op.path): op for op in build(spec).operations}


# ---- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/index/v1/debug/{datasource}/document/events", "debug_document_events"),
        ("/rest/api/v1/chat#stream", "chat_stream"),
        ("/v2beta/userGroups/{id}", "user_groups"),
        ("/things/{id}/parts", "things_parts"),
        ("/api/v1/import", "import"),
    ],
)
def test_path_name(path: str, name: str) -> None:
    assert path_name(path) == name


SEGMENT = st.from_regex(r"[a-z][a-zA-Z]{0,8}", fullmatch=True).filter(
    lambda s: not s.startswith("v")
)


@given(
    prefix=st.lists(SEGMENT, max_size=2),
    rest=st.lists(SEGMENT, min_size=1, max_size=4),
    params=st.lists(st.from_regex(r"\{[a-zA-Z]{1,6}\}", fullmatch=True), max_size=3),
)
def test_path_name_drops_what_precedes_the_version_and_every_parameter(
    prefix: list[str], rest: list[str], params: list[str]
) -> None:
    with_params = [*rest[:1], *params, *rest[1:]]
    path = "/" + "/".join([*prefix, "v3", *with_params])
    name = path_name(path)
    assert name == path_name("/" + "/".join(rest))
    assert "{" not in name and name.isidentifier()


def test_unnamed_operations_are_named_from_the_path_with_a_warning() -> None:
    paths = {
        "/api/index/v1/debug/{datasource}/document/events": {
            "post": {"tags": ["Troubleshooting"], "responses": OK}
        }
    }
    api = build(spec_of(paths))
    op = api.operations[0]
    assert (op.group, op.name) == (("troubleshooting",), "debug_document_events")
    assert any("debug_document_events: no operationId" in w for w in api.warnings)


def test_the_verb_is_added_only_on_a_collision_and_never_to_given_names() -> None:
    paths = {
        "/api/v1/exports": {
            "get": {"tags": ["Files"], "responses": OK},
            "post": {"tags": ["Files"], "responses": OK},
        },
        "/api/v1/exports/{id}": {
            "delete": {"tags": ["Files"], "operationId": "exports", "responses": OK},
        },
        "/api/v1/reports": {"get": {"tags": ["Files"], "responses": OK}},
        "/other/v1/reports": {"get": {"tags": ["Other"], "responses": OK}},
    }
    names = {(op.method, op.path): op.dotted for op in build(spec_of(paths)).operations}
    assert names == {
        ("GET", "/api/v1/exports"): "files.get_exports",
        ("POST", "/api/v1/exports"): "files.post_exports",
        ("DELETE", "/api/v1/exports/{id}"): "files.exports",
        ("GET", "/api/v1/reports"): "files.reports",  # no other "reports" in its group
        ("GET", "/other/v1/reports"): "other.reports",
    }


def test_group_is_speakeasy_group_else_first_tag_else_default() -> None:
    paths = {
        "/a": {"get": {"operationId": "a", "x-speakeasy-group": "x.y", "tags": ["T"]}},
        "/b": {"get": {"operationId": "b", "tags": ["Knowledge Base", "Other"]}},
        "/c": {"get": {"operationId": "c"}},
    }
    for item in paths.values():
        item["get"]["responses"] = OK
    groups = {op.operation_id: op.group for op in build(spec_of(paths)).operations}
    assert groups == {"a": ("x", "y"), "b": ("knowledge_base",), "c": ("default",)}


def test_keyword_method_names_take_a_trailing_underscore() -> None:
    paths = {
        "/v1/import": {"post": {"operationId": "import", "tags": ["data"], "responses": OK}},
        "/v1/from": {"get": {"tags": ["data"], "responses": OK}},
    }
    api = build(spec_of(paths))
    assert sorted(op.name for op in api.operations) == ["from_", "import_"]
    source = "\n".join(emit_resources(api, "# header").values())
    assert "async def import_(self, *" in source and "async def from_(self, *" in source


# ---- auth -----------------------------------------------------------------------------


def secured(security: Any = None) -> dict[str, Any]:
    op: dict[str, Any] = {"tags": ["t"], "responses": OK}
    if security is not None:
        op["security"] = security
    return op


AUTH_PATHS = {
    "/v1/bearer": {"get": secured([{"bearer": []}])},
    "/v1/open": {"get": secured([])},
    "/v1/empty": {"get": secured([{}])},
    "/v1/optional": {"get": secured([{}, {"bearer": []}])},
    "/v1/silent": {"get": secured()},
}


def test_security_on_operations_only_gives_the_client_a_token() -> None:
    api = build(spec_of(AUTH_PATHS, BEARER))
    assert api.auth and "api_token" in constructor_signature(api)
    auth = {op.path: op.auth for op in api.operations}
    assert auth == {
        "/v1/bearer": True,
        "/v1/open": False,
        "/v1/empty": False,
        "/v1/optional": True,
        "/v1/silent": True,
    }
    silent = [w for w in api.warnings if "declares no security" in w]
    assert silent == [
        "t.silent: declares no security and the spec has none at the top; the token is sent"
    ]


def test_top_level_security_is_inherited_and_an_explicit_empty_one_turns_it_off() -> None:
    on = build(spec_of(AUTH_PATHS, BEARER, security=[{"bearer": []}]))
    assert {op.path: op.auth for op in on.operations}["/v1/silent"] is True
    off = build(spec_of(AUTH_PATHS, BEARER, security=[]))
    assert off.auth and {op.path: op.auth for op in off.operations}["/v1/silent"] is False
    assert not [w for w in on.warnings + off.warnings if "declares no security" in w]


@pytest.mark.parametrize(
    ("schemes", "auth", "warned"),
    [
        ({"bearer": {"type": "apiKey", "in": "header", "name": "Authorization"}}, True, False),
        ({"bearer": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}, True, True),
        ({"bearer": {"type": "http", "scheme": "basic"}}, False, False),
        ({"bearer": {"type": "oauth2", "flows": {}}}, False, False),
        ({}, False, False),
    ],
    ids=["apikey-authorization", "apikey-other-header", "basic", "oauth2", "undeclared"],
)
def test_only_bearer_and_api_key_schemes_give_a_token(
    schemes: dict[str, Any], auth: bool, warned: bool
) -> None:
    api = build(spec_of(AUTH_PATHS, schemes))
    assert api.auth is auth
    assert ("api_token" in constructor_signature(api)) is auth
    assert any(op.auth for op in api.operations) is auth
    assert any("X-Api-Key" in w for w in api.warnings) is warned


# ---- end to end over HTTP ---------------------------------------------------------------


class Recorder(LocalAppServer):
    """Answers every GET with ``{}`` and records the Authorization header it got."""

    def __init__(self, **options: Any) -> None:
        self.seen: list[tuple[str, str | None]] = []
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._answer)
        super().__init__(app, **options)

    async def _answer(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Authorization")))
        return web.json_response({})


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedSDK]:
    import json

    out = tmp_path_factory.mktemp("auth_sdk")
    spec = Path(out / "auth.json")
    spec.write_text(json.dumps(spec_of(AUTH_PATHS, BEARER)), encoding="utf-8")
    with generated_sdk(spec, "auth_rules_sdk", "Secured", out) as built:
        yield built


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    with Recorder.in_thread() as server:
        yield server


EXPECTED = [
    ("/v1/bearer", "Bearer tok-1"),
    ("/v1/open", None),
    ("/v1/empty", None),
    ("/v1/optional", "Bearer tok-1"),
    ("/v1/silent", "Bearer tok-1"),
]


@pytest.mark.anyio
async def test_async_client_sends_the_token_except_where_security_is_empty(
    sdk: GeneratedSDK, recorder: Recorder
) -> None:
    assert "api_token" in inspect.signature(sdk.package.Secured).parameters
    recorder.seen.clear()
    async with sdk.package.Secured(api_token="tok-1", server_url=recorder.url) as client:
        for name in ("bearer", "open", "empty", "optional", "silent"):
            await getattr(client.t, name)()
    assert recorder.seen == EXPECTED


def test_sync_client_sends_the_token_except_where_security_is_empty(
    sdk: GeneratedSDK, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURED_API_TOKEN", "tok-1")  # the env var default
    recorder.seen.clear()
    with sdk.package.sync.Secured(server_url=recorder.url) as client:
        for name in ("bearer", "open", "empty", "optional", "silent"):
            getattr(client.t, name)()
    assert recorder.seen == EXPECTED
