"""Glean models against the spec: examples round-trip, forward compatibility, bad bodies.

Every response example of ``glean.yaml`` (and every object example of a component
schema) is structured into the type the SDK uses for it and unstructured again; the
result must equal the example, undeclared fields included (date-times compared as
instants), also with undeclared fields injected into every object at every depth.
Examples that do not fit their own schema are spec flaws and are expected to fail.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import types
import typing
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal, Union

import attrs
import cattrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import glean_async.sync
from glean_async import Glean, converter, errors, models
from glean_async._generated import operations
from glean_async.testing import FakeGleanServer
from shared.enums import OpenEnum
from shared.errors import InvalidInputError
from shared.models import ADDITIONAL
from shared.operation import Operation, Response
from shared.serialization import describe_error
from shared.unset import UNSET, Unset
from tests.data import load_spec

SPEC: dict[str, Any] = load_spec("glean")
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
OPERATIONS = [op for op in vars(operations).values() if isinstance(op, Operation)]
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

Schema = dict[str, Any]


# --- reading schemas ------------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def resolve(schema: Schema) -> Schema:
    """Follow ``$ref`` (siblings of a ``$ref`` are ignored, as in OpenAPI 3.0)."""
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def parts(schema: Schema) -> list[Schema]:
    """The schema and, recursively, every ``allOf`` member, all resolved."""
    schema = resolve(schema)
    found = [schema]
    for member in schema.get("allOf", ()):
        found.extend(parts(member))
    return found


def properties_of(schema: Schema) -> dict[str, Schema]:
    merged: dict[str, Schema] = {}
    for part in parts(schema):
        merged.update(part.get("properties", {}))
    return merged


def additional_of(schema: Schema) -> Any:
    """The ``additionalProperties`` the schema states (a schema or a bool), else ``None``."""
    for part in parts(schema):
        if "additionalProperties" in part:
            return part["additionalProperties"]
    return None


def keyword(schema: Schema, name: str) -> Any:
    for part in parts(schema):
        if name in part:
            return part[name]
    return None


def kind_of(schema: Schema) -> str | None:
    """The JSON type the schema declares (or implies by its keywords)."""
    declared = keyword(schema, "type")
    if declared is not None:
        return str(declared)
    if properties_of(schema) or additional_of(schema) is not None:
        return "object"
    if keyword(schema, "items") is not None:
        return "array"
    return None


def branches_of(schema: Schema) -> list[Schema]:
    return list(keyword(schema, "oneOf") or keyword(schema, "anyOf") or ())


# --- validating an example against its schema ----------------------------------------


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 date-time (``Z`` accepted on every Python), aware ones in UTC."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return value.astimezone(dt.timezone.utc) if value.tzinfo else value


_TYPE_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def problems(value: Any, schema: Schema, path: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (types, formats, required fields, unions).

    Enum values are not checked: the SDK's enums are open by design.
    """
    if value is None:
        nullable = any(part.get("nullable") for part in parts(schema))
        return [] if nullable else [f"null @ {path}"]
    branches = branches_of(schema)
    if branches and all(problems(value, branch, path) for branch in branches):
        return [f"fits no oneOf/anyOf branch @ {path}"]
    kind = kind_of(schema)
    if kind is not None and not _TYPE_CHECKS[kind](value):
        return [f"{type(value).__name__} where the spec says {kind} @ {path}"]
    if isinstance(value, str):
        return format_problems(value, keyword(schema, "format"), path)
    if isinstance(value, list):
        items = keyword(schema, "items") or {}
        return [p for i, item in enumerate(value) for p in problems(item, items, f"{path}[{i}]")]
    if isinstance(value, dict):
        return object_problems(value, schema, path)
    return []


def format_problems(value: str, fmt: str | None, path: str) -> list[str]:
    try:
        if fmt == "date-time":
            parse_instant(value)
        elif fmt == "date":
            dt.date.fromisoformat(value)
    except ValueError:
        return [f"{value!r} is not a {fmt} @ {path}"]
    return []


def object_problems(value: dict[str, Any], schema: Schema, path: str) -> list[str]:
    props = properties_of(schema)
    # a required name without a declared property (ActivityEvent.source) has no field
    required = {name for part in parts(schema) for name in part.get("required", ())}
    missing = sorted(required.intersection(props) - set(value))
    found = [f"required field missing @ {path}.{name}" for name in missing]
    additional = additional_of(schema)
    for key, item in value.items():
        sub = props.get(key, additional if isinstance(additional, dict) else None)
        if sub is not None:
            found.extend(problems(item, sub, f"{path}.{key}"))
    return found


# --- what to compare ------------------------------------------------------------------


def normalize(value: Any, schema: Schema, *, prune: bool) -> Any:
    """``value`` with date-times as instants; with ``prune``, undeclared keys dropped.

    Objects with declared properties keep only those (plus keys their
    ``additionalProperties`` schema covers); free-form objects keep everything.
    Unions follow the first branch the value fits, as the SDK does.
    """
    if value is None:
        return None
    fitting = [b for b in branches_of(schema) if not problems(value, b)]
    if fitting:
        return normalize(value, fitting[0], prune=prune)
    if isinstance(value, dict):
        return normalize_object(value, schema, prune=prune)
    if isinstance(value, list):
        items = keyword(schema, "items") or {}
        return [normalize(item, items, prune=prune) for item in value]
    if isinstance(value, str) and keyword(schema, "format") == "date-time":
        return parse_instant(value)
    return value


def normalize_object(value: dict[str, Any], schema: Schema, *, prune: bool) -> dict[str, Any]:
    props = properties_of(schema)
    additional = additional_of(schema)
    free_form = not props and not isinstance(additional, dict)
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key in props:
            result[key] = normalize(item, props[key], prune=prune)
        elif isinstance(additional, dict):
            result[key] = normalize(item, additional, prune=prune)
        elif free_form or not prune:
            result[key] = item
    return result


# --- the examples and the SDK type each one is read as -------------------------------


@attrs.frozen
class Example:
    id: str
    value: Any
    schema: Schema
    type: Any
    spec_schema: Schema | None = None  # the response schema the spec names, if different


def find_operation(method: str, path: str, status: str, media: str) -> tuple[Operation, Response]:
    """The generated operation and response for a spec response (method, path#fragment)."""
    base = path.split("#", 1)[0]
    for op in OPERATIONS:
        if op.method != method.upper() or op.path != base:
            continue
        for response in op.responses:
            declared = (response.content_type or "").split(";")[0].strip()
            if response.status == status and declared == media.split(";")[0].strip():
                return op, response
    raise LookupError(f"no generated operation for {method.upper()} {path} {status} {media}")


def response_examples() -> Iterator[Example]:
    for path, item in SPEC["paths"].items():
        for method in HTTP_METHODS:
            spec_op = item.get(method)
            if spec_op is None:
                continue
            for status, response in spec_op.get("responses", {}).items():
                yield from content_examples(method, path, str(status), response)


def content_examples(method: str, path: str, status: str, response: Any) -> Iterator[Example]:
    for media, content in (resolve(response).get("content") or {}).items():
        values = [("example", content["example"])] if "example" in content else []
        values += [(name, ex["value"]) for name, ex in content.get("examples", {}).items()]
        if not values:
            continue
        op, declared = find_operation(method, path, status, media)
        spec_schema = content.get("schema") or {}
        # a streamed body is read line by line, each line as the item type
        schema = ref(declared.type.__name__) if declared.kind == "ndjson" else spec_schema
        for name, value in values:
            example_id = f"{op.name}-{status}-{name}"
            yield Example(example_id, value, schema, declared.type, spec_schema)


def model_of_schema(name: str) -> Any:
    return getattr(models, name, None) or getattr(models, name[:1].upper() + name[1:])


def schema_examples() -> Iterator[Example]:
    for name, schema in SCHEMAS.items():
        if isinstance(schema.get("example"), dict):
            yield Example(f"schema-{name}", schema["example"], ref(name), model_of_schema(name))


def example_params(examples: list[Example]) -> list[Any]:
    params = []
    for example in examples:
        flaws = problems(example.value, example.schema)
        marks: list[Any] = []
        if flaws:
            reason = "spec flaw: the example does not fit its schema: " + "; ".join(flaws)
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        params.append(pytest.param(example, id=example.id, marks=marks))
    return params


RESPONSE_EXAMPLES = list(response_examples())
SCHEMA_EXAMPLES = list(schema_examples())


def assert_round_trips(value: Any, example: Example) -> None:
    """Parse -> unstructure gives back ``value``: nothing the server sent is lost."""
    parsed = converter.structure(value, example.type)
    wire = converter.unstructure(parsed)
    expected = normalize(value, example.schema, prune=False)
    assert normalize(wire, example.schema, prune=False) == expected
    assert converter.structure(wire, example.type) == parsed


def inject(value: Any, schema: Schema, depth: int = 0) -> Any:
    """``value`` with an undeclared field added to every object (typed maps excepted)."""
    if isinstance(value, list):
        items = keyword(schema, "items") or {}
        return [inject(item, items, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    fitting = [b for b in branches_of(schema) if not problems(value, b)]
    if fitting:
        return inject(value, fitting[0], depth)
    props = properties_of(schema)
    additional = additional_of(schema)
    typed_map = isinstance(additional, dict)
    result = {
        key: inject(item, props.get(key, additional if typed_map else {}), depth + 1)
        for key, item in value.items()
    }
    if not typed_map:
        result[f"zzUndeclared{depth}"] = {"depth": depth, "items": [1, "two", None, {}]}
    return result


def injected_keys(value: Any) -> int:
    if isinstance(value, list):
        return sum(injected_keys(item) for item in value)
    if isinstance(value, dict):
        own = sum(1 for key in value if str(key).startswith("zzUndeclared"))
        return own + sum(injected_keys(item) for item in value.values())
    return 0


@pytest.mark.parametrize("example", example_params(RESPONSE_EXAMPLES))
def test_response_example_round_trips(example: Example) -> None:
    assert_round_trips(example.value, example)


@pytest.mark.parametrize("example", example_params(SCHEMA_EXAMPLES))
def test_schema_example_round_trips(example: Example) -> None:
    assert_round_trips(example.value, example)


@pytest.mark.parametrize("example", example_params(RESPONSE_EXAMPLES + SCHEMA_EXAMPLES))
def test_undeclared_fields_at_every_depth_round_trip(example: Example) -> None:
    value = inject(example.value, example.schema)
    assert injected_keys(value) >= 1
    assert_round_trips(value, example)
    parsed = converter.structure(value, example.type)
    assert parsed.additional_properties["zzUndeclared0"]["depth"] == 0
    assert "zzUndeclared0" in repr(parsed)


def test_injection_reaches_nested_objects() -> None:
    """The injecting helper itself: every object of a nested example gets a key."""
    example = next(e for e in RESPONSE_EXAMPLES if e.id.endswith("citationResponse"))
    value = inject(example.value, example.schema)
    citation = value["messages"][0]["citations"][0]
    assert {"zzUndeclared0", "zzUndeclared2"} <= set(value) | set(value["messages"][0])
    assert any(key.startswith("zzUndeclared") for key in citation["sourceDocument"])
    assert injected_keys(value) >= 5


def only_nulls(example: Example) -> bool:
    """Flaws that are all ``null`` in optional fields: read as unset, by design."""
    return all(p.startswith("null @") for p in problems(example.value, example.schema))


def flawed_params() -> list[Any]:
    flawed = [e for e in RESPONSE_EXAMPLES + SCHEMA_EXAMPLES if problems(e.value, e.schema)]
    return [pytest.param(e, id=e.id) for e in flawed if not only_nulls(e)]


def test_null_in_an_optional_field_is_read_as_unset() -> None:
    """Servers send ``null`` for "absent" (the spec's own streaming example does)."""
    nulls = [e for e in RESPONSE_EXAMPLES if problems(e.value, e.schema) and only_nulls(e)]
    assert nulls
    for example in nulls:
        parsed = converter.structure(example.value, example.type)
        wire = example.value["messages"]
        nulled = [i for i, m in enumerate(wire) if "fragments" in m and m["fragments"] is None]
        assert nulled and all(parsed.messages[i].fragments is UNSET for i in nulled)


@pytest.mark.parametrize("example", flawed_params())
def test_examples_that_break_their_schema_are_rejected(example: Example) -> None:
    """A body like a flawed example is not silently half-read: structuring raises."""
    with pytest.raises((TypeError, ValueError, KeyError, cattrs.BaseValidationError)):
        converter.structure(example.value, example.type)


def test_every_response_example_was_found() -> None:
    # 4 examples each for POST /chat (JSON) and POST /chat#stream (NDJSON lines)
    assert len(RESPONSE_EXAMPLES) == 8
    assert {e.type for e in RESPONSE_EXAMPLES} == {models.ChatResponse}
    assert len(SCHEMA_EXAMPLES) == 24
    assert all(attrs.has(e.type) for e in SCHEMA_EXAMPLES)


def test_sdk_types_are_the_spec_response_schemas() -> None:
    """JSON responses are read as the schema the spec names; stream lines as the twin's."""
    for example in RESPONSE_EXAMPLES:
        spec_name = (example.spec_schema or {}).get("$ref", "").rsplit("/", 1)[-1]
        if example.id.startswith("client.chat.create_stream"):
            # the spec gives the request schema here; the SDK reads each line as what
            # the non-streaming twin (POST /chat) returns
            assert spec_name == "ChatRequestStream"
            assert example.type is models.ChatResponse
        else:
            assert example.type.__name__ == spec_name


# --- the comparison helpers themselves -------------------------------------------------


def test_normalize_prunes_undeclared_keys_and_compares_instants() -> None:
    example = {
        "agentConfig": {"agent": "DEFAULT", "hasMoreFragments": True},
        "ts": "x",
        "extra": 1,
    }
    assert normalize(example, ref("ChatMessage"), prune=True) == {
        "agentConfig": {"agent": "DEFAULT"},
        "ts": "x",
    }
    event = {"action": "VIEW", "url": "u", "timestamp": "2000-01-23T04:56:07.000Z"}
    same = {"action": "VIEW", "url": "u", "timestamp": "2000-01-23T05:56:07+01:00"}
    schema = ref("ActivityEvent")
    assert normalize(event, schema, prune=True) == normalize(same, schema, prune=False)


def test_problems_finds_what_breaks_a_schema() -> None:
    assert problems({"name": "a", "obfuscatedId": "b"}, ref("Person")) == []
    assert problems({"name": 1}, ref("Person")) == [
        "required field missing @ $.obfuscatedId",
        "int where the spec says string @ $.name",
    ]
    assert problems({"timestamp": "soon"}, ref("ActivityEvent"))[-1] == (
        "'soon' is not a date-time @ $.timestamp"
    )


# --- forward compatibility -----------------------------------------------------------


def test_unknown_enum_values_are_kept_and_round_trip() -> None:
    wire = {
        "messages": [
            {"author": "ROBOT", "messageType": "HOLOGRAM", "agentConfig": {"mode": "TURBO"}}
        ]
    }
    parsed = converter.structure(wire, models.ChatResponse)
    message = parsed.messages[0]
    assert isinstance(message.author, models.ChatMessageAuthor)
    assert message.author.value == "ROBOT" and not message.author.is_known
    assert message.message_type == "HOLOGRAM"
    assert message.agent_config.mode.value == "TURBO"
    assert converter.unstructure(parsed) == wire


def all_open_enums() -> list[type[OpenEnum]]:
    found = [getattr(models, name) for name in models.__all__]
    return [cls for cls in found if isinstance(cls, type) and issubclass(cls, OpenEnum)]


def test_every_enum_accepts_an_unknown_value() -> None:
    enums = all_open_enums()
    assert len(enums) > 100
    for cls in enums:
        member = converter.structure("SOMETHING_NEWER_THAN_THE_SPEC", cls)
        assert isinstance(member, cls) and not member.is_known
        assert converter.unstructure(member) == "SOMETHING_NEWER_THAN_THE_SPEC"
        known = next(iter(cls))
        assert converter.structure(known.value, cls) is known and known.is_known


def test_unknown_fields_are_kept_and_written_back() -> None:
    wire = {
        "chatId": "c1",
        "brandNewField": {"nested": [1, 2]},
        "messages": [{"ts": "1", "sparkles": True, "fragments": [{"text": "hi", "x": 1}]}],
    }
    parsed = converter.structure(wire, models.ChatResponse)
    assert parsed.chat_id == "c1" and parsed.messages[0].fragments[0].text == "hi"
    assert parsed.additional_properties == {"brandNewField": {"nested": [1, 2]}}
    assert parsed.messages[0].additional_properties == {"sparkles": True}
    assert parsed.messages[0].fragments[0].additional_properties == {"x": 1}
    assert converter.unstructure(parsed) == wire
    assert list(converter.unstructure(parsed)) == ["chatId", "messages", "brandNewField"]
    plain = converter.structure({"chatId": "c1"}, models.ChatResponse)
    assert plain.additional_properties == {} and "additional_properties" not in repr(plain)
    assert plain != parsed and attrs.evolve(plain, additional_properties={"x": 1}) != plain


def test_spec_examples_carry_undeclared_fields_and_keep_them() -> None:
    """The snapshot's own examples hold fields their schemas do not declare."""
    kept = []
    for example in RESPONSE_EXAMPLES + SCHEMA_EXAMPLES:
        if problems(example.value, example.schema):
            continue
        pruned = normalize(example.value, example.schema, prune=True)
        if pruned != normalize(example.value, example.schema, prune=False):
            kept.append(example.id)
            assert_round_trips(example.value, example)
    assert kept  # e.g. the citation examples' sourceDocument.referenceRanges


def test_date_times_are_written_in_utc_as_z() -> None:
    wire = {"action": "VIEW", "url": "u", "timestamp": "2000-01-23T04:56:07.000Z"}
    parsed = converter.structure(wire, models.ActivityEvent)
    assert parsed.timestamp == dt.datetime(2000, 1, 23, 4, 56, 7, tzinfo=dt.timezone.utc)
    assert converter.unstructure(parsed)["timestamp"] == "2000-01-23T04:56:07Z"


# --- recursive models -----------------------------------------------------------------


def nested_document(depth: int) -> dict[str, Any]:
    """Document -> metadata.author (Person) -> relatedDocuments[0].documents[0] -> ..."""
    document: dict[str, Any] = {"id": "leaf", "title": "bottom"}
    for level in range(depth):
        person = {
            "name": f"p{level}",
            "obfuscatedId": f"o{level}",
            "relatedDocuments": [{"relation": "ATTACHMENT", "documents": [document]}],
            "metadata": {"manager": {"name": "m", "obfuscatedId": "mo"}, "reports": []},
        }
        document = {
            "id": f"d{level}",
            "parentDocument": {"id": f"parent{level}"},
            "metadata": {"author": person, "createTime": "2024-02-29T12:00:00Z"},
        }
    return document


def test_recursive_models_round_trip_at_depth() -> None:
    wire = nested_document(40)
    parsed = converter.structure(wire, models.Document)
    assert converter.unstructure(parsed) == wire
    node = parsed
    for _ in range(40):
        assert isinstance(node, models.Document)
        author = node.metadata.author
        assert isinstance(author, models.Person)
        assert isinstance(author.metadata.manager, models.Person)
        node = author.related_documents[0].documents[0]
    assert node.id == "leaf"


def test_search_results_nest_clusters_of_themselves() -> None:
    result: dict[str, Any] = {"url": "https://e.com/0", "title": "t0"}
    for level in range(1, 30):
        result = {"url": f"https://e.com/{level}", "clusteredResults": [result], "attachments": []}
    parsed = converter.structure(result, models.SearchResult)
    assert converter.unstructure(parsed) == result


def test_a_wrong_type_deep_inside_a_recursive_model_names_its_path() -> None:
    wire = nested_document(3)
    wire["metadata"]["author"]["relatedDocuments"][0]["documents"][0]["id"] = 7
    with pytest.raises(Exception) as caught:
        converter.structure(wire, models.Document)
    lines = describe_error(caught.value)
    assert "$.metadata.author.relatedDocuments[0].documents[0].id" in "\n".join(lines)


# --- every model ------------------------------------------------------------------------


def exported() -> list[Any]:
    return [getattr(models, name) for name in models.__all__]


def model_classes() -> list[type]:
    return [cls for cls in exported() if isinstance(cls, type) and attrs.has(cls)]


SAMPLE_INSTANT = "2024-05-06T07:08:09Z"
FULL_DEPTH = 2  # models nested deeper than this get their required fields only


class NotOnTheWire(Exception):
    """A type only callers give (multipart file content); responses never hold it."""


def sample_wire(tp: Any, building: tuple[Any, ...] = (), *, full: bool = False) -> Any:
    """A small valid wire value for ``tp``: its required fields, or (``full``) every
    field near the top whose type does not lead back to a model being built."""
    scalar = {str: "s", int: 3, float: 1.5, bool: True, dt.date: "2024-05-06"}
    if tp in scalar:
        return scalar[tp]
    if tp is dt.datetime:
        return SAMPLE_INSTANT
    if tp is Any or tp is object:
        return {"free": ["form", 1]}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(iter(tp)).value
    if attrs.has(tp):
        return sample_model(tp, building, full=full)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return args[0]
    if origin is list:
        inner = args[0] if args else Any
        return [] if mentions(inner, building) else [sample_wire(inner, building, full=full)]
    if origin is dict:
        return {"key": sample_wire(args[1], building, full=full) if args else "v"}
    if tp is bytes:
        raise NotOnTheWire(tp)
    if origin is Union or origin is types.UnionType:
        branches = [arg for arg in args if arg not in (Unset, type(None))]
        return sample_wire(branches[0], building, full=full) if branches else None
    raise AssertionError(f"no sample for {tp!r}")


def sample_model(cls: type, building: tuple[Any, ...], *, full: bool) -> dict[str, Any]:
    attrs.resolve_types(cls)
    inside = (*building, cls)
    wide = full and len(building) < FULL_DEPTH
    wire: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.metadata.get(ADDITIONAL):
            continue  # undeclared fields: not on the wire under this name
        required = field.default is attrs.NOTHING
        if required or (wide and not mentions(field.type, inside)):
            name = field.metadata.get("json", field.name)
            wire[name] = sample_wire(field.type, inside, full=full)
    return wire


def mentions(tp: Any, classes: tuple[Any, ...]) -> bool:
    """Whether ``tp`` is or directly contains one of ``classes`` (it would recurse)."""
    return tp in classes or any(mentions(arg, classes) for arg in typing.get_args(tp))


def test_every_export_imports_and_builds_its_hooks() -> None:
    names = models.__all__
    assert len(names) == len(set(names)) and len(names) > 455
    for obj in exported():
        converter.get_structure_hook(obj)
        converter.get_unstructure_hook(obj)


@pytest.mark.parametrize("full", [False, True], ids=["required-fields", "all-fields"])
def test_every_model_structures_a_sample_and_round_trips(full: bool) -> None:
    classes = model_classes()
    assert len(classes) > 300
    request_only = []
    for cls in classes:
        try:
            wire = sample_wire(cls, full=full)
        except NotOnTheWire:
            request_only.append(cls)
            continue
        parsed = converter.structure(wire, cls)
        assert isinstance(parsed, cls), cls
        assert converter.unstructure(parsed) == wire, cls.__name__
    assert request_only == [models.UploadChatFilesRequest]


# --- bad response bodies through the client -------------------------------------------

REPLIES = web.AppKey("replies", dict)


async def reply(request: web.Request) -> web.Response:
    status, content_type, body = request.app[REPLIES][request.path]
    return web.Response(status=status, body=body, content_type=content_type)


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app[REPLIES] = {}
    app.router.add_route("*", "/{tail:.*}", reply)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


@pytest.fixture
async def glean(server: TestServer) -> AsyncIterator[Glean]:
    async with Glean("secret-token", server_url=str(server.make_url(""))) as client:
        yield client


def serve(server: TestServer, path: str, body: str, *, status: int = 200) -> None:
    server.app[REPLIES][path] = (status, "application/json", body.encode("utf-8"))


CHAT = "/rest/api/v1/chat"


@pytest.mark.anyio
async def test_wrong_typed_field_raises_response_validation_error(
    server: TestServer, glean: Glean
) -> None:
    body = '{"chatId": "c1", "backendTimeMillis": "fast"}'
    serve(server, CHAT, body)
    with pytest.raises(errors.ResponseValidationError) as caught:
        await glean.client.chat.create(messages=[{"fragments": [{"text": "hi"}]}])
    error = caught.value
    assert error.body == body and error.status_code == 200
    assert "backendTimeMillis" in str(error) and "secret-token" not in str(error)
    assert isinstance(error, errors.GleanError)


@pytest.mark.anyio
async def test_wrong_typed_nested_field_names_its_json_path(
    server: TestServer, glean: Glean
) -> None:
    body = '{"messages": [{"fragments": [{"text": "ok"}, {"text": 12}]}]}'
    serve(server, CHAT, body)
    with pytest.raises(errors.ResponseValidationError) as caught:
        await glean.client.chat.create(messages=[{"fragments": [{"text": "hi"}]}])
    assert caught.value.body == body
    assert "$.messages[0].fragments[1].text" in str(caught.value)


@pytest.mark.anyio
async def test_unknown_enum_and_fields_are_accepted_through_the_client(
    server: TestServer, glean: Glean
) -> None:
    body = json.dumps({"messages": [{"author": "ROBOT", "newThing": 1}], "more": {}})
    serve(server, CHAT, body)
    result = await glean.client.chat.create(messages=[{"fragments": [{"text": "hi"}]}])
    assert isinstance(result, models.ChatResponse)
    assert result.messages[0].author.value == "ROBOT"
    assert result.messages[0].additional_properties == {"newThing": 1}
    assert converter.unstructure(result) == json.loads(body)


@pytest.mark.anyio
async def test_a_body_that_is_not_json_raises_response_validation_error(
    server: TestServer, glean: Glean
) -> None:
    serve(server, CHAT, "<html>oops</html>")
    with pytest.raises(errors.ResponseValidationError) as caught:
        await glean.client.chat.create(messages=[{"fragments": [{"text": "hi"}]}])
    assert caught.value.body == "<html>oops</html>"


@pytest.mark.anyio
async def test_policy_download_returns_csv_text(server: TestServer, glean: Glean) -> None:
    csv = "id,name\n1,caf\u00e9\n"
    path = "/rest/api/v1/governance/data/policies/p1/download"
    server.app[REPLIES][path] = (200, "text/csv", csv.encode("utf-8"))
    assert await glean.client.governance.data.policies.download(id="p1") == csv


@pytest.mark.parametrize(
    "value",
    [pytest.param("a string", id="string"), pytest.param([1, 2], id="list")],
)
def test_a_non_object_where_a_model_is_expected_raises(value: Any) -> None:
    with pytest.raises(cattrs.BaseValidationError) as caught:
        converter.structure({"chatId": "c", "messages": [value]}, models.ChatResponse)
    assert "expected an object (ChatMessage)" in str(caught.value)


@pytest.mark.anyio
async def test_a_string_where_an_object_belongs_fails_through_the_client(
    server: TestServer, glean: Glean
) -> None:
    body = '{"chatId": "c1", "messages": ["not an object"]}'
    serve(server, CHAT, body)
    with pytest.raises(errors.ResponseValidationError) as caught:
        await glean.client.chat.create(messages=[{"fragments": [{"text": "hi"}]}])
    assert caught.value.body == body and "$.messages[0]" in str(caught.value)


# --- either spelling in, through the clients (the spec fake validates each request) ---

WIRE_DOCUMENT = {
    "datasource": "wiki",
    "objectType": "Page",
    "id": "page-1",
    "viewURL": "https://wiki.example.com/page-1",
    "body": {"mimeType": "text/plain", "textContent": "Restart it."},
    "permissions": {"allow_anonymous_access": True},
}
SENT_DOCUMENT = {**WIRE_DOCUMENT, "permissions": {"allowAnonymousAccess": True}}


@pytest.fixture
def fake(glean_server: FakeGleanServer) -> FakeGleanServer:
    return glean_server


def last_request(fake: FakeGleanServer, before: int) -> Any:
    new = fake.requests[before:]
    assert [r.name for r in new] == ["indexing.documents.index"]
    return new[0]


@pytest.mark.anyio
async def test_wire_spelled_documents_through_the_async_client(
    fake: FakeGleanServer, glean_client: Glean
) -> None:
    before = len(fake.requests)
    await glean_client.indexing.documents.index(datasource="wiki", documents=[WIRE_DOCUMENT])
    request = last_request(fake, before)
    assert request.valid, request.errors
    assert request.body == {"datasource": "wiki", "documents": [SENT_DOCUMENT]}
    before = len(fake.requests)
    wire_request = {"datasource": "wiki", "uploadId": "u", "documents": [WIRE_DOCUMENT]}
    await glean_client.indexing.documents.index(request=wire_request)
    assert last_request(fake, before).body == {**wire_request, "documents": [SENT_DOCUMENT]}
    twice = {**WIRE_DOCUMENT, "object_type": "Doc"}
    with pytest.raises(InvalidInputError) as info:
        await glean_client.indexing.documents.index(datasource="wiki", documents=[twice])
    assert info.value.field == "request.documents[0].object_type"
    with pytest.raises(InvalidInputError, match="did you mean 'viewURL'"):
        await glean_client.indexing.documents.index(
            datasource="wiki", documents=[{"datasource": "wiki", "viewURl": "u"}]
        )


def test_wire_spelled_documents_through_the_sync_facade(
    fake: FakeGleanServer, glean_sync_client: glean_async.sync.Glean
) -> None:
    before = len(fake.requests)
    glean_sync_client.indexing.documents.index(datasource="wiki", documents=[WIRE_DOCUMENT])
    request = last_request(fake, before)
    assert request.valid, request.errors
    assert request.body == {"datasource": "wiki", "documents": [SENT_DOCUMENT]}
    nested_twice = {**WIRE_DOCUMENT, "body": {"mimeType": "a", "mime_type": "b"}}
    with pytest.raises(InvalidInputError) as info:
        glean_sync_client.indexing.documents.index(datasource="wiki", documents=[nested_twice])
    assert info.value.field == "request.documents[0].body.mime_type"
    assert len(fake.requests) == before + 1  # refused before any request


@pytest.mark.anyio
async def test_extra_keys_go_on_the_wire_only_through_the_attribute(
    fake: FakeGleanServer, glean_client: Glean
) -> None:
    document = models.DocumentDefinition(
        datasource="wiki", additional_properties={"brandNewField": {"x": 1}}
    )
    before = len(fake.requests)
    with pytest.raises(errors.GleanError):  # the fake knows only the spec's fields
        await glean_client.indexing.documents.index(datasource="wiki", documents=[document])
    request = fake.requests[before]
    assert request.body["documents"] == [{"datasource": "wiki", "brandNewField": {"x": 1}}]
    assert any("brandNewField" in error for error in request.errors)
    with pytest.raises(InvalidInputError, match="undeclared fields go in"):
        await glean_client.indexing.documents.index(
            datasource="wiki", documents=[{"datasource": "wiki", "brandNewField": 1}]
        )
