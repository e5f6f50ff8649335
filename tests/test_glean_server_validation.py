"""Request validation of the spec-driven fake: the compiled schema checks give exactly the
errors jsonschema gives (hypothesis, over every JSON request body of both Glean specs),
bulk pages get short errors, and ``validate=False`` skips validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glean_async.testing import SPEC_PATH, FakeGleanServer
from shared.testing.openapi import OpenAPISpec, load_spec, pointer
from shared.testing.pytest_plugin import TOKEN
from shared.testing.schemacheck import needs_fallback

SPECS = [SPEC_PATH, Path(__file__).resolve().parents[1] / "specs" / "glean-2026-04.json"]
MAX_DEPTH = 4
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
FORMATTED = {
    "date-time": st.sampled_from(["2024-01-15T10:30:00Z", "2024-13-40T99:00:00Z", "yesterday"]),
    "date": st.sampled_from(["2024-01-15", "2024-02-30", "soon"]),
    "email": st.sampled_from(["a@example.com", "not an email"]),
    "int64": st.integers(min_value=-(2**64), max_value=2**64),
    "uuid": st.sampled_from(["00000000-0000-4000-8000-000000000000", "uuid?"]),
}


def json_bodies(spec: OpenAPISpec) -> list[str]:
    """Pointers to the schema of every JSON request body of a spec."""
    found = []
    for op in spec.operations.values():
        content = (op.raw.get("requestBody") or {}).get("content") or {}
        for content_type, media in content.items():
            if "json" in content_type and "schema" in media:
                where = ("paths", op.path, op.method.lower(), "requestBody", "content")
                found.append(pointer(*where, content_type, "schema"))
    return found


class Values:
    """Hypothesis strategies for values near a spec's schemas: mostly fitting, sometimes
    not (a wrong value anywhere, a missing required property, an undeclared one)."""

    def __init__(self, spec: OpenAPISpec) -> None:
        self.spec = spec

    def near(self, schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
        fitting = self.fitting(schema, depth)
        return st.one_of(fitting, fitting, fitting, JSON_VALUES) if depth else fitting

    def fitting(self, schema: Any, depth: int) -> st.SearchStrategy[Any]:
        schema = self.spec.resolve(schema)
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return JSON_VALUES
        if "enum" in schema:
            return st.sampled_from([*schema["enum"], "not-in-the-enum"])
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                return st.one_of([self.near(b, depth + 1) for b in schema[key]])
        kind = schema.get("type")
        if kind == "object" or "properties" in schema or "allOf" in schema:
            return self._object(schema, depth)
        if kind == "array":
            return st.lists(self.near(schema.get("items") or {}, depth + 1), max_size=3)
        return self._scalar(kind, schema.get("format"))

    def _object(self, schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for part in self.spec.all_of_closure(schema):
            properties.update(part.get("properties") or {})
            required += part.get("required") or []
        values = {name: self.near(sub, depth + 1) for name, sub in properties.items()}
        chosen = st.sets(st.sampled_from(sorted(values)), max_size=4) if values else st.just(set())

        @st.composite
        def build(draw: st.DrawFn) -> dict[str, Any]:
            names = set(required) | draw(chosen)
            if draw(st.integers(0, 9)) == 0:
                names -= {draw(st.sampled_from(sorted(names)))} if names else set()
            value = {name: draw(values[name]) if name in values else 1 for name in sorted(names)}
            if draw(st.integers(0, 19)) == 0:
                value["undeclaredName"] = draw(JSON_VALUES)
            return value

        return build()

    def _scalar(self, kind: Any, fmt: Any) -> st.SearchStrategy[Any]:
        if fmt in FORMATTED:
            return FORMATTED[fmt]
        return {
            "string": st.text(max_size=8),
            "integer": st.integers(),
            "number": st.floats(allow_nan=False) | st.integers(),
            "boolean": st.booleans(),
        }.get(kind, JSON_VALUES)


@pytest.fixture(scope="module", params=SPECS, ids=lambda p: p.name)
def spec(request: pytest.FixtureRequest) -> OpenAPISpec:
    return load_spec(request.param)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_compiled_checks_give_the_errors_jsonschema_gives(
    spec: OpenAPISpec, data: st.DataObject
) -> None:
    where = data.draw(st.sampled_from(json_bodies(spec)), label="body schema")
    value = data.draw(Values(spec).near(spec.at(where)), label="value")
    compiled = spec.checks.errors(value, where)
    assert sorted(compiled) == sorted(spec.request_schema_errors(value, where))


def test_every_request_schema_compiles_without_falling_back() -> None:
    """The Glean spec's request schemas use only compiled keywords (so no body is
    validated at jsonschema's speed)."""
    spec = load_spec(SPEC_PATH)
    from shared.testing.openapi import _schemas

    fallbacks = [where for where, node in _schemas(spec.validator_document) if needs_fallback(node)]
    assert fallbacks == []


def test_keywords_the_checks_do_not_compile_go_to_jsonschema() -> None:
    assert needs_fallback({"type": "string", "maxLength": 3})
    assert needs_fallback({"type": "string", "nullable": True})
    assert needs_fallback({"properties": {"a": {"readOnly": True}}})
    assert needs_fallback({"type": "null"})
    assert not needs_fallback({"type": "string", "example": "x", "description": "d", "x-y": 1})


# -- over HTTP ---------------------------------------------------------------------------------


def bulk_page(count: int) -> dict[str, Any]:
    documents = [
        {
            "datasource": "wiki",
            "id": f"d{n}",
            "title": f"Title {n}",
            "body": {"mimeType": "text/plain"},
        }
        for n in range(count)
    ]
    return {"uploadId": "u", "datasource": "wiki", "isFirstPage": True, "documents": documents}


async def post(server: FakeGleanServer, path: str, body: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(server.url + path, json=body) as response,
    ):
        text = await response.text()
    return response.status, json.loads(text) if text else None


@pytest.mark.anyio
async def test_a_bad_document_in_a_large_page_gets_a_short_error(
    glean_server: FakeGleanServer,
) -> None:
    body = bulk_page(1000)
    body["documents"][500]["title"] = 5
    body["documents"][7]["tilte"] = "typo"
    del body["documents"][9]["body"]["mimeType"]
    status, answer = await post(glean_server, "/api/index/v1/bulkindexdocuments", body)
    assert status == 400
    assert sorted(answer["errors"]) == sorted(
        [
            "InvalidRequestBody: Request body validation error",
            "  /documents/500/title: 5 is not of type 'string'",
            "  /documents/9/body: 'mimeType' is a required property",
            "/documents/7/tilte: property not declared by the schema",
        ]
    )
    assert len(json.dumps(answer)) < 1000 and glean_server.documents("wiki") == {}


@pytest.mark.anyio
async def test_bodies_that_are_not_json_or_missing_are_still_refused(
    glean_server: FakeGleanServer,
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    url = glean_server.url + "/api/index/v1/indexdocuments"
    async with aiohttp.ClientSession(headers=headers) as session:
        for data in (b"{not json", b""):
            async with session.post(url, data=data) as response:
                assert response.status == 400
    assert all(not r.valid for r in glean_server.requests)
    status, _ = await post(glean_server, "/api/index/v1/indexdocuments", "a JSON string")
    assert status == 400
    assert any("is not of type 'object'" in e for e in glean_server.requests[-1].errors)


@pytest.fixture
def unvalidated() -> Iterator[FakeGleanServer]:
    with FakeGleanServer.in_thread(validate=False) as server:
        yield server


@pytest.mark.anyio
async def test_validate_false_skips_validation(unvalidated: FakeGleanServer) -> None:
    body = bulk_page(3)
    body["documents"][1]["title"] = 5
    status, _ = await post(unvalidated, "/api/index/v1/bulkindexdocuments", body)
    assert status == 200 and unvalidated.requests[-1].errors == []
    assert sorted(unvalidated.documents("wiki")) == ["d0", "d1", "d2"]
