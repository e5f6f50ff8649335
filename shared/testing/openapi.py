"""A fake server for any OpenAPI 3.0 spec, driven by the spec, for tests over real HTTP.

    async with FakeOpenAPIServer(spec_path) as fake:   # or: FakeOpenAPIServer.in_thread(...)
        client = Client(api_token="t", server_url=fake.url)
        ...
        assert fake.requests[-1].valid

Every operation of the spec (read at run time, never copied) gets a route, named like
the SDK names it (:mod:`shared.opnames`: ``group.method``). Each request is validated
against the spec with openapi-core (method and path, path/query/header parameters, the
security the operation requires, the body's media type, a multipart body against its
schema; see ``OpenAPISpec._relaxed_copy`` for the spec flaws it is relaxed for); a JSON
body is checked against its schema by checks compiled once per schema
(:mod:`shared.testing.schemacheck`: jsonschema's errors, many times faster). Then
the checks openapi-core does not make: a required bearer token is not empty, no query
parameter the operation does not declare, multipart part names match the schema, and a
JSON body holds no property its schema does not declare (specs often allow extra
properties, but an SDK that builds bodies from spec models only sends one when a wire
name is wrong). ``validate=False`` skips all of it (benchmarks only).

Each request, its errors and the answer sent are recorded in ``fake.requests``; an
invalid one gets 400 with the errors; a valid one goes to :meth:`FakeOpenAPIServer.respond`
(where a subclass wraps handling, e.g. to inject faults), which answers with the
operation's handler (``fake.handle(op, handler)``: a stateful answer) or else the
declared success response: the spec's example when it is valid against its schema
(invalid ones are listed in ``fake.spec.example_notes``), else a minimal body
synthesized from the schema; CSV as text, ``text/plain`` with an object schema as
NDJSON lines, SSE as a few frames. ``fake.answer_errors(record)`` checks a recorded
success answer against its response schema.

Twins: a path with a ``#fragment`` (``/items#stream``) shares the wire route of the same
path without it, with the same method; the fragment never reaches the wire. The fake
picks between operations sharing a route by content negotiation: an ``Accept`` that names
the content type of exactly one of them selects it; when ``Accept`` does not decide
(absent, ``*/*`` or several), a JSON body with ``"stream": true`` selects the fragment
twin, anything else the plain path.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.validation.request.exceptions import SecurityValidationError
from openapi_schema_validator import OAS30Validator, OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from shared.opnames import operation_names
from shared.testing import LocalAppServer
from shared.testing.schemacheck import CompiledChecks, render_error

SPEC_URI = "urn:openapi-fake:spec"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
MAX_DEPTH = 12  # deeper than any required chain in the spec; guards against recursion
DATE_TIME = "2024-01-15T10:30:00Z"
FORMAT_VALUES = {
    "date-time": DATE_TIME,
    "iso-date-time": DATE_TIME,
    "date": "2024-01-15",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "email": "user@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "byte": "AA==",
    "binary": "",
}
CSV_BODY = "id,value\r\n1,example\r\n"

JSON = Any


# -- the spec -------------------------------------------------------------------------


def pointer(*parts: str) -> str:
    """A JSON pointer to ``parts`` inside the spec, as a URI fragment."""
    escaped = (part.replace("~", "~0").replace("/", "~1") for part in parts)
    return "/" + "/".join(quote(part, safe="") for part in escaped)


def mime(content_type: str | None) -> str:
    """``application/json; charset=UTF-8`` -> ``application/json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


@dataclass
class SpecOperation:
    """One operation of the spec, and what the fake answers to it."""

    name: str  # the SDK's dotted method path, e.g. "users.list"
    operation_id: str | None
    method: str  # upper case
    path: str  # the spec's path key, fragment included
    deprecated: bool
    status: int  # the declared success status the fake answers with
    status_key: str  # that response's key in the spec ("200", "2XX")
    content_type: str | None  # of that response; None when it has no content
    bearer_required: bool  # every security alternative of the operation is a bearer scheme
    raw: dict[str, Any] = field(repr=False)

    @property
    def route(self) -> str:
        """The path on the wire (``#fragment`` removed)."""
        return self.path.split("#", 1)[0]

    def media_pointer(self, content_type: str) -> str:
        """Pointer to the success response's media object."""
        where = ("responses", self.status_key, "content", content_type)
        return pointer("paths", self.path, self.method.lower(), *where)


class OpenAPISpec:
    """The spec as read, the validator's relaxed copy, and schema helpers."""

    def __init__(self, path: Path) -> None:
        self.document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.relaxed_required: dict[str, list[str]] = {}
        self.example_notes: list[str] = []
        self.validator_document = self._relaxed_copy(self.document)
        self.openapi = OpenAPI.from_dict(
            self.validator_document, config=Config(spec_validator_cls=None)
        )
        resource = Resource.from_contents(self.validator_document, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self.operations = {op.name: op for op in self._operations()}
        self.checks = CompiledChecks(self.validator_document, self._fallback_errors)
        # openapi-core on a copy whose JSON request bodies take any value: it checks the
        # method, path, parameters, security and that a body parses; the schema of a JSON
        # body is checked by ``self.checks`` (the same errors, much faster)
        self.request_openapi = OpenAPI.from_dict(
            _any_json_body(self.validator_document), config=Config(spec_validator_cls=None)
        )
        # by the ids of the schemas, which each entry keeps (so an id is never reused)
        self._parts_cache: dict[int, tuple[JSON, list[dict[str, Any]]]] = {}
        self._places: dict[tuple[int, ...], tuple[list[JSON], _Place]] = {}

    # -- the validator's copy ---------------------------------------------------------

    def _relaxed_copy(self, document: dict[str, Any]) -> dict[str, Any]:
        """A copy that openapi-core can validate requests with, relaxed for known flaws.

        - ``servers``: the fake stands in for the spec's server, so its root ``/`` is the
          only server (paths and operations are untouched).
        - ``required`` names that no part of the schema declares are dropped: the SDK
          cannot send a property the spec never defines, and a valid request would be
          rejected. Names declared in an ``allOf`` sibling are declared, so they stay
          required. The dropped names are in ``relaxed_required``.
        - Schemas with ``properties`` but no ``type`` get ``type: object``: that is how
          the generator and any client read them, and it keeps e.g. a string example
          from passing for an object (stricter, not looser).
        - ``oneOf`` becomes ``anyOf``: branches that are objects without
          ``additionalProperties: false`` overlap, so a valid value can match two
          branches and fail ``oneOf``. Nothing else is weakened.
        """
        relaxed = copy.deepcopy(document)
        relaxed["servers"] = [{"url": "/"}]
        declared_by_composition = self._composition_properties(relaxed)
        for where, node in _schemas(relaxed):
            if "oneOf" in node and isinstance(node["oneOf"], list):
                node["anyOf"] = node.pop("oneOf")
            if isinstance(node.get("properties"), dict) and "type" not in node:
                node["type"] = "object"
            required = node.get("required")
            if isinstance(required, list) and all(isinstance(r, str) for r in required):
                declared = set(node.get("properties") or {})
                declared |= declared_by_composition.get(id(node), set())
                dropped = [name for name in required if name not in declared]
                if dropped:
                    node["required"] = [name for name in required if name in declared]
                    self.relaxed_required[where] = dropped
        return relaxed

    def _composition_properties(self, document: dict[str, Any]) -> dict[int, set[str]]:
        """For each schema inside an ``allOf`` closure: the properties the closure declares."""
        result: dict[int, set[str]] = defaultdict(set)
        for _, node in _schemas(document):
            if isinstance(node.get("allOf"), list):
                members = self._all_of_closure(node, document)
                names: set[str] = set()
                for member in members:
                    names |= set(member.get("properties") or {})
                for member in members:
                    result[id(member)] |= names
        return result

    def all_of_closure(self, schema: JSON) -> list[dict[str, Any]]:
        """The schema and its ``allOf`` parts, recursively (validator's copy)."""
        return self._all_of_closure(schema, self.validator_document)

    def _all_of_closure(self, schema: JSON, document: JSON) -> list[dict[str, Any]]:
        schema = _deref(schema, document)
        members = [schema]
        for branch in schema.get("allOf") or []:
            members += self._all_of_closure(branch, document)
        return members

    # -- operations -------------------------------------------------------------------

    def _operations(self) -> Iterator[SpecOperation]:
        names = operation_names(self.document["paths"])
        for path, item in self.document["paths"].items():
            for method, raw in item.items():
                if method in METHODS:
                    yield self._operation(path, method, raw, names[(path, method)].dotted)

    def _operation(self, path: str, method: str, raw: dict[str, Any], dotted: str) -> SpecOperation:
        status_key, response = _success(raw["responses"], self.document)
        content = list(response.get("content") or {})
        return SpecOperation(
            name=dotted,
            operation_id=raw.get("operationId"),
            method=method.upper(),
            path=path,
            deprecated=bool(raw.get("deprecated")),
            status=200 if status_key.upper() == "2XX" else int(status_key),
            status_key=status_key,
            content_type=content[0] if content else None,
            bearer_required=self._bearer_required(raw),
            raw=raw,
        )

    def _bearer_required(self, raw: dict[str, Any]) -> bool:
        """Whether every way the operation's security allows needs an HTTP bearer token."""
        security = raw.get("security", self.document.get("security")) or []
        schemes = (self.document.get("components") or {}).get("securitySchemes") or {}

        def bearer(name: str) -> bool:
            scheme = schemes.get(name) or {}
            return scheme.get("type") == "http" and str(scheme.get("scheme")).lower() == "bearer"

        return bool(security) and all(any(map(bearer, alt)) for alt in security)

    def resolve(self, node: JSON) -> JSON:
        """``node`` with its ``$ref`` chain followed (in the validator's copy)."""
        return _deref(node, self.validator_document)

    def at(self, pointer_fragment: str) -> JSON:
        """The node of the validator's copy a pointer from :func:`pointer` names."""
        resolved = self._registry.resolver().lookup(f"{SPEC_URI}#{pointer_fragment}")
        return resolved.contents

    # -- schema validation ----------------------------------------------------------

    def schema_errors(self, value: JSON, schema_pointer: str) -> list[str]:
        """Why ``value`` does not fit the schema at ``schema_pointer`` (empty: it fits)."""
        validator = OAS30Validator(
            {"$ref": f"{SPEC_URI}#{schema_pointer}"},
            registry=self._registry,
            format_checker=oas30_format_checker,
        )
        return [_schema_error(error) for error in validator.iter_errors(value)]

    def request_schema_errors(self, value: JSON, schema_pointer: str) -> list[str]:
        """Like :meth:`schema_errors` for a request (write) value, with jsonschema."""
        return [render_error(*error) for error in self._fallback_errors(value, schema_pointer)]

    def _fallback_errors(self, value: JSON, schema_pointer: str) -> list[tuple[str, list[Any]]]:
        """jsonschema's errors for a value sent in a request (``OAS30WriteValidator``)."""
        validator = OAS30WriteValidator(
            {"$ref": f"{SPEC_URI}#{schema_pointer}"},
            registry=self._registry,
            format_checker=OAS30WriteValidator.FORMAT_CHECKER,
        )
        found = validator.iter_errors(value)
        return [(error.message, list(reversed(error.absolute_path))) for error in found]

    def undeclared_properties(self, value: JSON, schema: JSON) -> list[str]:
        """Object keys in ``value`` that the schema (any of its parts) does not declare."""
        found = self._undeclared(value, self._place([schema]), 0) or []
        return [render_error(message, path) for message, path in found]

    def _undeclared(
        self, value: JSON, place: _Place, depth: int
    ) -> list[tuple[str, list[Any]]] | None:
        """The walk of :meth:`undeclared_properties` (paths innermost key first)."""
        if depth > MAX_DEPTH or place.empty:
            return None
        found: list[tuple[str, list[Any]]] | None = None
        if isinstance(value, list):
            entries: Iterator[tuple[Any, JSON]] = enumerate(value)
        elif isinstance(value, dict):
            entries = iter(value.items())
        else:
            return None
        for key, item in entries:
            if isinstance(value, dict) and place.undeclared(key):
                found = (found or []) + [("property not declared by the schema", [key])]
                continue
            if isinstance(item, (dict, list)):
                child = self._child(place, key if isinstance(value, dict) else None)
                errors = self._undeclared(item, child, depth + 1)
                if errors:
                    for _, path in errors:
                        path.append(key)
                    found = (found or []) + errors
        return found

    def _child(self, place: _Place, key: str | None) -> _Place:
        """The place of a property (``key``) or of a list's items (``None``)."""
        child = place.children.get(key)
        if child is None:
            child = self._place(place.schemas_of(key))
            place.children[key] = child
        return child

    def declared_only(self, value: JSON, schema: JSON) -> JSON:
        """``value`` without the object keys the schema does not declare, at any depth."""
        return self._prune(value, [schema], "", 0, [])

    def _prune(
        self, value: JSON, schemas: list[JSON], where: str, depth: int, errors: list[str]
    ) -> JSON:
        if depth > MAX_DEPTH or not schemas or not isinstance(value, (dict, list)):
            return value
        place = self._place(schemas)
        if isinstance(value, list):
            return [
                self._prune(item, place.items, f"{where}/{index}", depth + 1, errors)
                for index, item in enumerate(value)
            ]
        pruned: dict[str, JSON] = {}
        for key, item in value.items():
            if place.undeclared(key):
                errors.append(f"{where}/{key}: property not declared by the schema")
                continue
            subs = place.schemas_of(key)
            pruned[key] = self._prune(item, subs, f"{where}/{key}", depth + 1, errors)
        return pruned

    def _place(self, schemas: list[JSON]) -> _Place:
        """What the schemas at one place of a value declare (computed once per schema set)."""
        key = tuple(map(id, schemas))
        cached = self._places.get(key)
        if cached is not None:
            return cached[1]
        parts = [part for schema in schemas for part in self._parts(schema)]
        declared: dict[str, list[JSON]] = defaultdict(list)
        for part in parts:
            for name, sub in (part.get("properties") or {}).items():
                declared[name].append(sub)
        extra = [p["additionalProperties"] for p in parts if p.get("additionalProperties")]
        place = _Place(
            empty=not schemas,
            items=[part["items"] for part in parts if isinstance(part.get("items"), dict)],
            declared=dict(declared),
            extra=bool(extra),
            extra_schemas=[schema for schema in extra if isinstance(schema, dict)],
        )
        self._places[key] = (list(schemas), place)
        return place

    def _parts(self, schema: JSON) -> list[dict[str, Any]]:
        """The schema and everything it composes (allOf, anyOf, oneOf), refs followed."""
        cached = self._parts_cache.get(id(schema))
        if cached is not None:
            return cached[1]
        resolved = self.resolve(schema)
        parts: list[dict[str, Any]] = []
        if isinstance(resolved, dict):
            parts.append(resolved)
            for key in ("allOf", "anyOf", "oneOf"):
                for branch in resolved.get(key) or []:
                    parts += self._parts(branch)
        self._parts_cache[id(schema)] = (schema, parts)
        return parts

    # -- examples and synthesized values ---------------------------------------------

    def example(self, media_pointer: str, label: str) -> JSON | None:
        """The first declared example of a media object that fits its schema, or None.

        Looks at the media object's ``example``/``examples`` and then at the schema's own
        ``example``; invalid ones are noted in ``example_notes`` and skipped.
        """
        valid = self.examples(media_pointer, label)
        return valid[0] if valid else None

    def examples(self, media_pointer: str, label: str) -> list[JSON]:
        """Every declared example of a media object that fits its schema (see ``example``)."""
        valid: list[JSON] = []
        for source, value in self._examples(media_pointer):
            errors = self.schema_errors(value, media_pointer + "/schema")
            note = f"{label}: {source} is not valid: {errors[0]}" if errors else ""
            if not errors:
                valid.append(value)
            elif note not in self.example_notes:
                self.example_notes.append(note)
        return valid

    def _examples(self, media_pointer: str) -> Iterator[tuple[str, JSON]]:
        media = self.at(media_pointer)
        if "example" in media:
            yield "the media example", media["example"]
        for name, entry in (media.get("examples") or {}).items():
            entry = self.resolve(entry)
            if isinstance(entry, dict) and "value" in entry:
                yield f"example {name!r}", entry["value"]
        schema = self.resolve(media.get("schema") or {})
        if isinstance(schema, dict) and "example" in schema:
            yield "the schema example", schema["example"]

    def synthesize(self, schema: JSON, depth: int = 0) -> JSON:
        """A minimal deterministic value valid against ``schema`` (required fields only)."""
        if depth > MAX_DEPTH:
            raise ValueError("the schema requires nesting deeper than the fake supports")
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return {}
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                return self.synthesize(schema[key][0], depth + 1)
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind is None and ("properties" in schema or "allOf" in schema):
            kind = "object"
        if kind == "object" or "additionalProperties" in schema:
            return self._synthesize_object(schema, depth)
        if kind == "array":
            return [
                self.synthesize(schema.get("items") or {}, depth + 1)
                for _ in range(schema.get("minItems", 0))
            ]
        return _scalar(kind, schema)

    def _synthesize_object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties: dict[str, JSON] = {}
        required: list[str] = []
        for part in self.all_of_closure(schema):
            properties.update(part.get("properties") or {})
            required += [name for name in part.get("required") or [] if name not in required]
        return {name: self.synthesize(properties[name], depth + 1) for name in required}


@dataclass
class _Place:
    """The schemas that apply at one place of a value, merged (for the undeclared check)."""

    empty: bool  # no schema applies here: nothing below is checked
    items: list[JSON]  # the schemas of a list's items
    declared: dict[str, list[JSON]]  # property name -> the schemas declaring it
    extra: bool  # some part allows additional properties
    extra_schemas: list[JSON]  # the schemas of those additional properties
    children: dict[str | None, _Place] = field(default_factory=dict)  # by key; None: items

    def undeclared(self, key: str) -> bool:
        """Whether an object key here is one no schema declares (nor allows as extra)."""
        return key not in self.declared and not self.extra and bool(self.declared)

    def schemas_of(self, key: str | None) -> list[JSON]:
        """The schemas of a property's value (``key``) or of the items (``None``)."""
        if key is None:
            return self.items
        return self.declared.get(key) or self.extra_schemas


def _any_json_body(document: dict[str, Any]) -> dict[str, Any]:
    """A shallow-copied document whose JSON request bodies have the schema ``{}``."""
    copied = dict(document)
    copied["paths"] = paths = {}
    for path, item in document["paths"].items():
        paths[path] = item = dict(item)
        for method in METHODS:
            if not isinstance(item.get(method), dict) or "requestBody" not in item[method]:
                continue
            item[method] = op = dict(item[method])
            op["requestBody"] = body = dict(_deref(op["requestBody"], document))
            body["content"] = {
                content_type: {**media, "schema": {}} if _is_json(content_type) else media
                for content_type, media in (body.get("content") or {}).items()
            }
    return copied


def _is_json(content_type: str) -> bool:
    kind = mime(content_type)
    return kind == "application/json" or kind.endswith("+json")


def _scalar(kind: str | None, schema: dict[str, Any]) -> JSON:
    if kind == "string":
        return FORMAT_VALUES.get(str(schema.get("format")), "string")
    if kind in ("integer", "number"):
        low = schema.get("minimum", 0)
        value = low + 1 if schema.get("exclusiveMinimum") else low
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return {}


def _schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object of an OpenAPI 3.0 document, with its location.

    Only places that hold schemas are visited, so a property *named* ``properties`` or
    ``required`` and example values are never taken for schema keywords. ``$ref``
    targets are visited where they are defined.
    """
    components = document.get("components") or {}
    for name, schema in (components.get("schemas") or {}).items():
        yield from _subschemas(schema, f"#/components/schemas/{name}")
    for name, parameter in (components.get("parameters") or {}).items():
        yield from _subschemas(parameter.get("schema"), f"#/components/parameters/{name}/schema")
    for kind in ("requestBodies", "responses"):
        for name, holder in (components.get(kind) or {}).items():
            for content_type, media in (holder.get("content") or {}).items():
                where = f"#/components/{kind}/{name}/{content_type}/schema"
                yield from _subschemas(media.get("schema"), where)
    for path, item in (document.get("paths") or {}).items():
        for index, parameter in enumerate(item.get("parameters") or []):
            yield from _subschemas(parameter.get("schema"), f"#{path}/parameters/{index}/schema")
        for method, op in item.items():
            if method in METHODS:
                yield from _operation_schemas(op, f"#{path}/{method}")


def _operation_schemas(op: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, parameter in enumerate(op.get("parameters") or []):
        yield from _subschemas(parameter.get("schema"), f"{where}/parameters/{index}/schema")
    bodies = [("requestBody", op.get("requestBody") or {})]
    bodies += [(f"responses/{code}", r) for code, r in (op.get("responses") or {}).items()]
    for label, holder in bodies:
        for content_type, media in (holder.get("content") or {}).items():
            yield from _subschemas(media.get("schema"), f"{where}/{label}/{content_type}/schema")


def _subschemas(schema: JSON, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``schema`` and the schemas inside it (properties, items, compositions...)."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    yield where, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _subschemas(sub, f"{where}/properties/{name}")
    for key in ("items", "additionalProperties", "not"):
        yield from _subschemas(schema.get(key), f"{where}/{key}")
    for key in ("allOf", "anyOf", "oneOf"):
        for index, sub in enumerate(schema.get(key) or []):
            yield from _subschemas(sub, f"{where}/{key}/{index}")


def _deref(node: JSON, document: JSON) -> JSON:
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or seen > 50:
            raise ValueError(f"unsupported $ref {ref!r}")
        node = document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
    return node


def _success(responses: dict[Any, Any], document: JSON) -> tuple[str, dict[str, Any]]:
    """The key of the first declared 2xx response (lowest code) and the resolved response."""
    keys = {str(code): code for code in responses}  # YAML may read 200 as an int
    codes = sorted(code for code in keys if code.startswith("2"))
    if not codes:
        raise ValueError("operation declares no success response")
    return codes[0], _deref(responses[keys[codes[0]]], document)


def _schema_error(error: Any) -> str:
    """A jsonschema ``ValidationError`` as ``/where: message``."""
    where = "/".join(str(part) for part in error.absolute_path)
    return f"/{where}: {error.message}" if where else error.message


@functools.lru_cache(maxsize=4)
def load_spec(path: Path) -> OpenAPISpec:
    """The parsed spec (read once per process and path)."""
    return OpenAPISpec(path)


# -- requests ---------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request the fake received, and what validation found."""

    name: str | None  # the operation's dotted SDK name; None when no operation matched
    operation_id: str | None
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str] = field(repr=False)  # holds the token: kept out of repr
    raw_body: bytes = field(repr=False)
    body: JSON  # parsed JSON, text, {part name: [bytes, ...]} for multipart, or None
    errors: list[str]
    status: int | None = None  # the status answered; None until answered, or when dropped
    response: JSON = field(default=None, repr=False)  # the body answered (stream: the items)

    @property
    def valid(self) -> bool:
        """Whether the request passed validation."""
        return not self.errors

    @property
    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header, if any."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None

    def query_values(self, name: str) -> list[str]:
        """Every value of a query parameter, in order."""
        return [value for key, value in self.query if key == name]


@dataclass
class Call:
    """A request that passed validation, as a stateful handler sees it."""

    op: SpecOperation
    request: web.Request = field(repr=False)
    body: JSON  # as in ``RecordedRequest.body``
    record: RecordedRequest = field(repr=False)
    context: dict[str, Any] = field(default_factory=dict)  # for a subclass's handlers


@dataclass
class Answer:
    """What the fake sends: a whole body, or (``chunks``) a body streamed piece by piece."""

    status: int = 200
    body: JSON = None  # dict/list: JSON; str: text; bytes: as is; None: empty
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None  # None: JSON for a dict/list body, text for a str
    chunks: list[bytes] | None = None  # a streamed body, one write per chunk
    items: list[JSON] | None = None  # what the chunks carry (recorded as the response)

    @classmethod
    def json(cls, value: JSON, status: int = 200, content_type: str | None = None) -> Answer:
        """A JSON body."""
        return cls(status, value, content_type=content_type or "application/json")

    @classmethod
    def ndjson(
        cls, items: list[JSON], status: int = 200, content_type: str | None = None
    ) -> Answer:
        """A stream of JSON values, one line each (``text/plain`` streams)."""
        chunks = [(json.dumps(item) + "\n").encode() for item in items]
        kind = content_type or "application/x-ndjson"
        return cls(status, content_type=kind, chunks=chunks, items=items)

    @classmethod
    def sse(cls, items: list[JSON], status: int = 200) -> Answer:
        """Server-Sent Events, one frame per item."""
        chunks = [frame.encode() for frame in _sse_frames(items)]
        return cls(status, content_type="text/event-stream", chunks=chunks, items=items)

    def payload(self) -> tuple[bytes, str | None]:
        """The whole body as bytes, and its content type."""
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        return self.body or b"", self.content_type


# a stateful answer for a valid request; None falls back to the spec's success answer
Handler = Callable[[Call], "Answer | None"]


@dataclass
class ForcedResponse:
    """A response queued by :meth:`FakeOpenAPIServer.fail_next`."""

    status: int
    body: JSON
    headers: dict[str, str]
    times: int


class _CoreRequest:
    """An aiohttp request as openapi-core reads it, pinned to the routed operation."""

    def __init__(self, request: web.Request, body: bytes, op: SpecOperation) -> None:
        self.parameters = RequestParameters(
            query=request.query,
            header=request.headers,
            cookie=request.cookies,
            path=dict(request.match_info),
        )
        self.host_url = f"{request.scheme}://{request.host}"
        self.path = request.path
        # the spec's own key, so the ``#stream`` twin is validated as itself
        self.path_pattern = op.path
        self.method = request.method.lower()
        self.body = body or None
        self.content_type = _declared_content_type(op, request.headers.get("Content-Type", ""))


def _declared_content_type(op: SpecOperation, sent: str) -> str:
    """The spec's spelling of a sent content type that equals it but for case and spaces.

    openapi-core looks media types up by exact key (or by the bare type), so a declared
    ``application/json; charset=UTF-8`` would miss an equally valid ``charset=utf-8``.
    """
    declared = (op.raw.get("requestBody") or {}).get("content") or {}

    def canonical(value: str) -> str:
        return ";".join(part.strip() for part in value.lower().split(";"))

    return next((key for key in declared if canonical(key) == canonical(sent)), sent)


def _describe(error: BaseException) -> list[str]:
    """Readable lines for an openapi-core error and the schema errors under it."""
    lines = [f"{type(error).__name__}: {error}"]
    cause = error.__cause__
    while cause is not None:
        nested = getattr(cause, "schema_errors", None)
        if nested:
            lines += [f"  {_schema_error(e)}" for e in nested]
            break
        lines.append(f"  {type(cause).__name__}: {cause}")
        cause = cause.__cause__
    return lines


def _parse_body(request: web.Request, body: bytes) -> JSON:
    if not body:
        return None
    kind = mime(request.headers.get("Content-Type"))
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return json.loads(body)
        except ValueError:
            return body.decode("utf-8", errors="replace")
    if kind.startswith("text/"):
        return body.decode("utf-8", errors="replace")
    return body


def _multipart_parts(content_type: str, body: bytes) -> dict[str, list[bytes]]:
    """The parts of a multipart/form-data body by name (parsed with the stdlib)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    parts: dict[str, list[bytes]] = defaultdict(list)
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name].append(payload)
    return dict(parts)


# -- the server -------------------------------------------------------------------------


class FakeOpenAPIServer(LocalAppServer):
    """The fake server of one spec; ``fake.url`` is its base URL.

    ``fake.requests`` lists every request received (:class:`RecordedRequest`),
    ``fake.fail_next(op, status=..., body=...)`` makes the next call(s) of an operation
    fail, ``fake.handle(op, handler)`` answers an operation from state instead of the
    spec's example, ``FakeOpenAPIServer.in_thread(spec_path=...)`` runs one on its own
    thread for blocking code. ``validate=False`` skips validation (benchmarks only).
    Subclasses wrap :meth:`respond` to inject faults around every valid request.
    """

    def __init__(
        self, spec_path: Path, *, host: str = "127.0.0.1", port: int = 0, validate: bool = True
    ) -> None:
        self.spec = load_spec(spec_path)
        self.operations = self.spec.operations
        self.requests: list[RecordedRequest] = []
        self.validate = validate  # False skips request validation (benchmarks only)
        self.handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._forced: dict[str, deque[ForcedResponse]] = defaultdict(deque)
        self._bodies: dict[str, JSON] = {}
        super().__init__(self._make_app(), host=host, port=port)

    # -- public API -------------------------------------------------------------------

    def operation(self, name: str) -> SpecOperation:
        """An operation by dotted SDK name (``users.list``) or operationId."""
        if name in self.operations:
            return self.operations[name]
        for op in self.operations.values():
            if op.operation_id == name:
                return op
        raise KeyError(f"no operation {name!r} in the spec")

    def fail_next(
        self,
        operation: str,
        *,
        status: int,
        body: JSON = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` valid calls of ``operation`` with ``status`` and ``body``.

        A dict or list body is sent as JSON, a ``str`` as text/plain, ``bytes`` as is,
        ``None`` as an empty body.
        """
        op = self.operation(operation)
        with self._lock:
            self._forced[op.name].append(ForcedResponse(status, body, dict(headers or {}), times))

    def handle(self, operation: str, handler: Handler) -> None:
        """Answer the valid requests of ``operation`` with ``handler`` (a stateful answer).

        The handler runs on the server's loop after validation (and after any
        :meth:`fail_next` answer); returning None sends the spec's success answer.
        """
        self.handlers[self.operation(operation).name] = handler

    def requests_for(self, operation: str) -> list[RecordedRequest]:
        """The recorded requests of one operation (dotted name or operationId)."""
        name = self.operation(operation).name
        return [request for request in self.requests if request.name == name]

    def clear(self) -> None:
        """Forget the recorded requests and any queued failures."""
        with self._lock:
            self.requests.clear()
            self._forced.clear()

    def success_body(self, operation: str) -> JSON:
        """The JSON (or text) the fake answers ``operation`` with, computed once."""
        op = self.operation(operation)
        if op.name not in self._bodies:
            self._bodies[op.name] = self._make_success_body(op)
        return self._bodies[op.name]

    def request_media(self, operation: str) -> tuple[str, str] | None:
        """``(content type, pointer)`` of an operation's first request media, if any."""
        op = self.operation(operation)
        content = (op.raw.get("requestBody") or {}).get("content") or {}
        if not content:
            return None
        content_type = next(iter(content))
        where = pointer("paths", op.path, op.method.lower(), "requestBody", "content", content_type)
        return content_type, where

    def request_example(self, operation: str) -> JSON | None:
        """The spec's request example for an operation when it is valid, else None."""
        media = self.request_media(operation)
        if media is None:
            return None
        return self.spec.example(media[1], f"{self.operation(operation).name} request")

    def request_schema(self, operation: str) -> JSON:
        """The schema of an operation's first request media (``{}`` when it has no body)."""
        media = self.request_media(operation)
        return self.spec.at(media[1]).get("schema", {}) if media else {}

    # -- lifecycle --------------------------------------------------------------------

    # -- routing ----------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application()
        by_route: dict[tuple[str, str], list[SpecOperation]] = defaultdict(list)
        for op in self.operations.values():
            by_route[(op.method, op.route)].append(op)
        for (method, route), ops in by_route.items():
            app.router.add_route(method, route, functools.partial(self._handle, ops))
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        error = f"no operation in the spec for {request.method} {request.path}"
        record = self._record(request, None, body, _parse_body(request, body), [error])
        record.status, record.response = 404, {"errors": [error]}
        return web.json_response(record.response, status=404)

    async def _handle(
        self, ops: Sequence[SpecOperation], request: web.Request
    ) -> web.StreamResponse:
        raw = await request.read()
        parsed = _parse_body(request, raw)
        op = _negotiate(ops, request, parsed)
        content_type = request.headers.get("Content-Type", "")
        if mime(content_type) == "multipart/form-data":
            parsed = _multipart_parts(content_type, raw)
        errors = self._validate(op, request, raw, parsed) if self.validate else []
        call = Call(op, request, parsed, self._record(request, op, raw, parsed, errors))
        if errors:
            invalid = {"operation": op.name, "errors": errors}
            return await self.send(call, Answer.json(invalid, 400))
        forced = self._take_forced(op)
        if forced is not None:
            return await self.send(call, _forced_answer(forced))
        return await self.respond(call)

    async def respond(self, call: Call) -> web.StreamResponse:
        """Answer a valid request: its handler's answer, else the spec's success answer.

        The place where subclasses wrap handling (delays, dropped connections, errors).
        """
        return await self.send(call, self.answer(call))

    def answer(self, call: Call) -> Answer:
        """The answer to a valid request, from its handler or the spec."""
        handler = self.handlers.get(call.op.name)
        answer = handler(call) if handler is not None else None
        return answer if answer is not None else self.spec_answer(call.op)

    async def send(
        self, call: Call, answer: Answer, *, cut_after: int | None = None
    ) -> web.StreamResponse:
        """Send ``answer`` and record it; ``cut_after`` chunks, then drop the connection."""
        call.record.status = answer.status
        call.record.response = answer.items if answer.chunks is not None else answer.body
        if answer.chunks is None:
            payload, content_type = answer.payload()
            headers = dict(answer.headers)
            if content_type:
                headers.setdefault("Content-Type", content_type)
            return web.Response(status=answer.status, body=payload, headers=headers)
        headers = {"Content-Type": answer.content_type or "application/octet-stream"}
        response = web.StreamResponse(status=answer.status, headers={**headers, **answer.headers})
        await response.prepare(call.request)
        for index, chunk in enumerate(answer.chunks):
            if cut_after is not None and index >= cut_after:
                drop_connection(call.request)
                return response
            await response.write(chunk)
        await response.write_eof()
        return response

    def _validate(
        self, op: SpecOperation, request: web.Request, raw: bytes, parsed: JSON
    ) -> list[str]:
        """openapi-core's findings, then the checks it does not make (see the module doc).

        openapi-core runs on a copy of the spec whose JSON bodies take any value; the
        JSON body's schema is checked by the spec's compiled checks, unless openapi-core
        stopped early (unknown path or method, failed security). A JSON body that parsed
        reaches openapi-core as ``{}``: under that copy's schema only presence, media type
        and parsing count, and it need not parse a large body a second time.
        """
        errors: list[str] = []
        content_type = _declared_content_type(op, request.headers.get("Content-Type", ""))
        where = self._json_media_schema(op, content_type) if raw else None
        value = _json_value(raw, parsed) if where else _NOT_JSON
        stand_in = b"{}" if value is not _NOT_JSON else raw
        core_request = _CoreRequest(request, stand_in, op)
        found = list(self.spec.request_openapi.iter_apicall_request_errors(core_request))
        for error in found:
            errors += _describe(error)
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        if op.bearer_required and not token:
            errors.append("Authorization: no bearer token")
        declared = {p["name"] for p in self.parameters(op) if p.get("in") == "query"}
        undeclared = sorted(set(request.query.keys()) - declared)
        errors += [f"query parameter {key!r} is not declared" for key in undeclared]
        stopped = any(isinstance(error, (SecurityValidationError, PathError)) for error in found)
        if where is not None and value is not _NOT_JSON and not stopped:
            schema_errors = self.spec.checks.errors(value, where)
            if schema_errors:
                errors.append("InvalidRequestBody: Request body validation error")
                errors += [f"  {error}" for error in schema_errors]
        return errors + self._body_errors(op, request.headers.get("Content-Type", ""), parsed)

    def _json_media_schema(self, op: SpecOperation, content_type: str) -> str | None:
        """Pointer to the schema of the JSON request media matching ``content_type``."""
        holder = pointer("paths", op.path, op.method.lower(), "requestBody")
        body = self.spec.at(holder) if "requestBody" in op.raw else {}
        if isinstance(body.get("$ref"), str):
            holder, body = body["$ref"][1:], self.spec.resolve(body)
        content = body.get("content") or {}
        key = _media_key(content, content_type)
        if key is None or not _is_json(key) or "schema" not in content[key]:
            return None
        return f"{holder}{pointer('content', key, 'schema')}"

    def _body_errors(self, op: SpecOperation, content_type: str, parsed: JSON) -> list[str]:
        """Undeclared JSON properties; multipart part names against the schema.

        openapi-core reads a multipart body by the schema's property names only, so a
        missing array part becomes ``[]`` and a stray part is never seen: check names here.
        """
        media = (op.raw.get("requestBody") or {}).get("content") or {}
        key = _declared_content_type(op, content_type)
        key = key if key in media else next((k for k in media if mime(k) == mime(key)), "")
        if parsed is None or not key:
            return []
        schema = media[key].get("schema")
        if mime(key) == "multipart/form-data" and isinstance(parsed, dict):
            return self._part_errors(schema, set(parsed))
        if isinstance(parsed, (dict, list)):
            return self.spec.undeclared_properties(parsed, schema)
        return []

    def _part_errors(self, schema: JSON, names: set[str]) -> list[str]:
        properties: set[str] = set()
        required: set[str] = set()
        for part in self.spec.all_of_closure(schema):
            properties |= set(part.get("properties") or {})
            required |= set(part.get("required") or [])
        missing = [f"multipart: required part {name!r} is missing" for name in required - names]
        stray = [f"multipart: part {name!r} is not declared" for name in names - properties]
        return sorted(missing) + sorted(stray)

    def parameters(self, op: SpecOperation) -> list[dict[str, Any]]:
        """The operation's parameter objects (path-level ones included), refs followed."""
        shared = self.spec.document["paths"][op.path].get("parameters") or []
        return [self.spec.resolve(p) for p in [*shared, *(op.raw.get("parameters") or [])]]

    def _record(
        self,
        request: web.Request,
        op: SpecOperation | None,
        raw: bytes,
        parsed: JSON,
        errors: list[str],
    ) -> RecordedRequest:
        record = RecordedRequest(
            name=op.name if op else None,
            operation_id=op.operation_id if op else None,
            method=request.method,
            path=request.path,
            query=list(request.query.items()),
            headers=dict(request.headers),
            raw_body=raw,
            body=parsed,
            errors=errors,
        )
        self.requests.append(record)
        return record

    def _take_forced(self, op: SpecOperation) -> ForcedResponse | None:
        with self._lock:
            queue = self._forced.get(op.name)
            if not queue:
                return None
            forced = queue[0]
            forced.times -= 1
            if forced.times <= 0:
                queue.popleft()
            return forced

    # -- answers ----------------------------------------------------------------------

    def spec_answer(self, op: SpecOperation) -> Answer:
        """The declared success answer: the spec's example or a synthesized body."""
        kind = mime(op.content_type)
        if op.content_type is None:
            return Answer(op.status)
        body = self.success_body(op.name)
        if kind == "text/event-stream":
            return Answer.sse(body, op.status)
        if kind == "text/plain" and isinstance(body, list):
            return Answer.ndjson(body, op.status, op.content_type)
        text = body if isinstance(body, str) else json.dumps(body)
        return Answer(op.status, text, content_type=op.content_type)

    def _make_success_body(self, op: SpecOperation) -> JSON:
        """The body of a success answer: example or synthesized; list of items for streams."""
        if op.content_type is None:
            return None
        media = op.media_pointer(op.content_type)
        kind = mime(op.content_type)
        if kind == "text/event-stream":
            return [{"index": index} for index in range(3)]
        if kind == "text/plain":
            return self._stream_items(op)
        body = self.spec.example(media, op.name)
        if body is None:
            body = (
                CSV_BODY
                if kind == "text/csv"
                else self.spec.synthesize(self.spec.at(media)["schema"])
            )
        errors = self.spec.schema_errors(body, media + "/schema")
        if errors:
            raise AssertionError(f"{op.name}: the fake's own answer is invalid: {errors}")
        return body

    def _stream_items(self, op: SpecOperation) -> list[JSON]:
        """NDJSON items: shaped like the JSON twin's response (same method and path).

        A ``text/plain`` stream's own schema is a loose declaration (the generator reads
        its lines as the twin's response too); each valid example of the twin is one line.
        """
        twin = self._twin(op)
        media = twin.media_pointer(str(twin.content_type))
        items = self.spec.examples(media, f"{op.name} (lines from {twin.name})")
        return items or [self.spec.synthesize(self.spec.at(media)["schema"])] * 3

    def _twin(self, op: SpecOperation) -> SpecOperation:
        """The JSON operation sharing a text/plain stream's method and path."""
        for other in self.operations.values():
            same_route = (other.method, other.route) == (op.method, op.route)
            if other is not op and same_route and mime(other.content_type) == "application/json":
                return other
        raise ValueError(f"{op.name}: a text/plain stream needs a JSON twin operation")

    def response_schema(self, operation: str) -> JSON:
        """The schema of the success body (of each line, for a ``text/plain`` stream)."""
        op = self.operation(operation)
        if op.content_type is None:
            return {}
        if mime(op.content_type) == "text/plain":
            op = self._twin(op)
        return self.spec.at(op.media_pointer(str(op.content_type)))["schema"]

    def answer_errors(self, record: RecordedRequest) -> list[str]:
        """Why a recorded success answer does not fit its declared response schema.

        JSON bodies are checked whole, a ``text/plain`` stream's items one by one (as its
        JSON twin's response); other answers (errors, text, SSE) are not checked.
        """
        if record.name is None or record.status is None or not 200 <= record.status < 300:
            return []
        op = self.operation(record.name)
        kind = mime(op.content_type)
        if kind == "text/plain" and isinstance(record.response, list):
            twin = self._twin(op)
            where = twin.media_pointer(str(twin.content_type)) + "/schema"
            return [
                f"line {index}: {error}"
                for index, item in enumerate(record.response)
                for error in self.spec.schema_errors(item, where)
            ]
        if op.content_type is None:
            empty = record.response in (None, b"", "")
            return [] if empty else ["a body where the spec declares none"]
        if not _is_json(op.content_type):
            return []
        body = record.response
        if isinstance(body, str):  # the spec's answers are sent as text
            body = json.loads(body)
        return self.spec.schema_errors(body, op.media_pointer(op.content_type) + "/schema")


def _negotiate(ops: Sequence[SpecOperation], request: web.Request, parsed: JSON) -> SpecOperation:
    """Pick the operation among those sharing a method and path (see the module doc)."""
    if len(ops) == 1:
        return ops[0]
    accept = {mime(part) for part in request.headers.get("Accept", "").split(",")}
    offered = [op for op in ops if mime(op.content_type) in accept]
    if len(offered) == 1:
        return offered[0]
    streaming = isinstance(parsed, dict) and parsed.get("stream") is True
    by_stream = [op for op in ops if ("#" in op.path) == streaming]
    return by_stream[0] if by_stream else ops[0]


def _sse_frames(items: list[JSON]) -> list[str]:
    """A few SSE frames (``id``, ``event: message``, one JSON ``data`` line each)."""
    return [
        f"id: {index}\nevent: message\ndata: {json.dumps(item)}\n\n"
        for index, item in enumerate(items, start=1)
    ]


_NOT_JSON = object()


def _json_value(raw: bytes, parsed: JSON) -> JSON:
    """The JSON value of a body (``parsed`` unless it is text), or ``_NOT_JSON``."""
    if not isinstance(parsed, (str, bytes)):
        return parsed
    try:  # text: it did not parse as JSON, or it is a JSON string
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


def _forced_answer(forced: ForcedResponse) -> Answer:
    return Answer(forced.status, forced.body, headers=dict(forced.headers))


def _media_key(content: Mapping[str, Any], content_type: str) -> str | None:
    """The declared media type openapi-core picks for a sent content type, if any."""
    if not content_type:
        return None
    bare = content_type.split(";", 1)[0].lower().rstrip()
    for candidate in (content_type, bare):
        if candidate in content:
            return candidate
    return next((key for key in content if fnmatch.fnmatch(bare, key)), None)


def drop_connection(request: web.Request) -> None:
    """Close the request's connection at once, answering nothing more."""
    transport = request.transport
    if transport is not None:
        transport.abort()
