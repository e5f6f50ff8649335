"""One naming rule for every derived name, on an inline spec, end to end.

Only Python keywords take a trailing ``_``; builtins' names stay. Collisions after the
conversion resolve the same way whatever order the spec lists names in, and the generated
code stays correct (at run time and for ``mypy --strict``) when a name shadows a builtin or
a name the generated module uses itself.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from shared.codegen import ir
from shared.codegen.build import build
from shared.testing import LocalAppServer
from tests.generated import generated_package

REPO = Path(__file__).resolve().parents[1]
STRING = {"type": "string"}
THING = {
    "type": "object",
    "properties": {
        "type": STRING,
        "Type": STRING,
        "type_": STRING,
        "from": STRING,
        "class": STRING,
        "str": STRING,
        "name": STRING,
        "list": {"type": "array", "items": STRING},
        "tags": {"type": "array", "items": STRING},
        "datetime": {"type": "string", "format": "date-time"},
        "when": {"type": "string", "format": "date-time"},
        "attrs": STRING,
        "count": {"type": "integer"},
    },
}
EXPECTED_FIELDS = {
    "type": "type",
    "Type": "type_2",
    "type_": "type_",
    "from": "from_",
    "class": "class_",
    "str": "str",
    "name": "name",
    "list": "list",
    "tags": "tags",
    "datetime": "datetime",
    "when": "when",
    "attrs": "attrs",
    "count": "count",
}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


THING_REF = {"$ref": "#/components/schemas/Thing"}
SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "names", "version": "1"},
    "servers": [{"url": "http://127.0.0.1:1"}],
    "paths": {
        "/things": {
            "post": {
                "operationId": "import",
                "tags": ["things"],
                # arguments named like what a generated method body uses
                "parameters": [
                    _query("c", STRING),
                    _query("operations", STRING),
                    _query("cast", STRING),
                    _query("body", STRING),
                ],
                "requestBody": _json(THING_REF),
                "responses": {"200": {"description": "ok", **_json(THING_REF)}},
            },
            "get": {
                "operationId": "list",
                "tags": ["things"],
                "responses": {
                    "200": {
                        "description": "ok",
                        **_json({"type": "array", "items": THING_REF}),
                    }
                },
            },
        },
        "/global": {
            "get": {
                "operationId": "global",
                "tags": ["things"],
                "parameters": [_query("list", {"type": "array", "items": STRING})],
                "responses": {"204": {"description": "none"}},
            }
        },
        "/models": {
            "get": {
                "operationId": "models",
                "tags": ["things"],
                "responses": {"200": {"description": "ok", **_json(THING_REF)}},
            }
        },
    },
    "components": {"schemas": {"Thing": THING}},
}


def fields_of(spec: dict[str, Any]) -> dict[str, str]:
    model = build(spec).decls["Thing"]
    assert isinstance(model, ir.Model)
    return {f.json_name: f.py_name for f in model.fields}


def with_properties(properties: dict[str, Any]) -> dict[str, Any]:
    spec = json.loads(json.dumps(SPEC))
    spec["components"]["schemas"]["Thing"]["properties"] = properties
    return spec


def test_field_names_follow_the_rule() -> None:
    assert fields_of(SPEC) == EXPECTED_FIELDS


def test_collisions_resolve_the_same_whatever_the_order() -> None:
    reordered = dict(reversed(list(THING["properties"].items())))
    assert fields_of(with_properties(reordered)) == EXPECTED_FIELDS


def test_method_names_follow_the_rule() -> None:
    names = {op.operation_id: op.name for op in build(SPEC).operations}
    # keywords escaped, builtins kept, a name the class body needs (models) escaped
    assert names == {"import": "import_", "list": "list", "global": "global_", "models": "models_"}


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    out = tmp_path_factory.mktemp("naming")
    with generated_package(SPEC, "naming_sdk", "Names", out) as module:
        yield module, out


def test_generated_package_passes_mypy_strict(package: Any) -> None:
    _, out = package
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "naming_sdk"]
    env = {"MYPYPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(command, cwd=out, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


THING_WIRE = {
    "type": "a",
    "Type": "b",
    "type_": "c",
    "from": "d",
    "class": "e",
    "str": "f",
    "name": "g",
    "list": ["h"],
    "datetime": "2024-01-02T03:04:05Z",
    "when": "2024-01-02T03:04:05Z",
    "attrs": "i",
    "count": 3,
}


def test_models_with_shadowing_fields_structure_and_round_trip(package: Any) -> None:
    module, _ = package
    thing = module.converter.structure(THING_WIRE, module.models.Thing)
    assert (thing.type, thing.type_2, thing.type_, thing.from_, thing.class_) == tuple("abcde")
    assert thing.str == "f" and thing.list == ["h"] and thing.attrs == "i"
    assert thing.when == thing.datetime == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert module.converter.unstructure(thing) == THING_WIRE
    built = module.models.Thing(type="a", str="f", list=["h"], count=3)
    wire = {"type": "a", "str": "f", "list": ["h"], "count": 3}
    assert module.converter.unstructure(built) == wire


SEEN: list[dict[str, Any]] = []


async def post_things(request: web.Request) -> web.Response:
    body = await request.json()
    SEEN.append({"query": dict(request.query), "body": body})
    return web.json_response(body)


async def get_global(request: web.Request) -> web.Response:
    SEEN.append({"query": request.query.getall("list", [])})
    return web.Response(status=204)


async def get_models(request: web.Request) -> web.Response:
    return web.json_response({"type": "m"})


class NamesServer(LocalAppServer):
    """Records what the generated client sends."""

    def __init__(self, **options: Any) -> None:
        app = web.Application()
        app.router.add_post("/things", post_things)
        app.router.add_get("/global", get_global)
        app.router.add_get("/models", get_models)
        super().__init__(app, **options)


@pytest.fixture
def server_url() -> Iterator[str]:
    SEEN.clear()
    with NamesServer.in_thread() as server:
        yield server.url


QUERY = {"c": "1", "operations": "2", "cast": "3", "body": "4"}


@pytest.mark.anyio
async def test_arguments_that_shadow_body_names_are_sent(package: Any, server_url: str) -> None:
    module, _ = package
    async with module.Names(server_url=server_url) as client:
        result = await client.things.import_(**QUERY, type="a", from_="d", str="f", list=["h"])
        assert module.converter.unstructure(result) == {
            "type": "a",
            "from": "d",
            "str": "f",
            "list": ["h"],
        }
        assert await client.things.global_(list=["x", "y"]) is None
        assert (await client.things.models_()).type == "m"
    sent = {"type": "a", "from": "d", "str": "f", "list": ["h"]}
    assert SEEN[0] == {"query": QUERY, "body": sent}
    assert SEEN[1] == {"query": ["x", "y"]}


def test_sync_facade_with_shadowing_arguments(package: Any, server_url: str) -> None:
    module, _ = package
    with module.sync.Names(server_url=server_url) as client:
        result = client.things.import_(**QUERY, class_="e", type_="c")
        assert result.class_ == "e" and result.type_ == "c"
        client.things.global_(list=["z"])
    assert SEEN[0] == {"query": QUERY, "body": {"class": "e", "type_": "c"}}
    assert SEEN[1] == {"query": ["z"]}
