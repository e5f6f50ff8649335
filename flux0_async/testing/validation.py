"""Request validation for the fake flux0 server, with FastAPI's error shapes.

The request schemas are the spec's (``flux0.json``) with ``$ref`` resolved and the prose
dropped, embedded here so the server needs no spec file at run time. :func:`check` walks
the small JSON Schema subset they use and reports errors the way FastAPI (pydantic v2)
does: ``{"type", "loc", "msg", "input", "ctx"?}``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

JSONDict = dict[str, Any]
Loc = tuple[str | int, ...]

EVENT_TYPES = ("message", "tool", "status", "custom")
EVENT_SOURCES = ("user", "ai_agent", "system")

ID_SCHEMA: JSONDict = {"type": "string", "minLength": 10, "maxLength": 10}
NULL_SCHEMA: JSONDict = {"type": "null"}
EVENT_TYPE_SCHEMA: JSONDict = {"type": "string", "enum": list(EVENT_TYPES)}
EVENT_SOURCE_SCHEMA: JSONDict = {"type": "string", "enum": list(EVENT_SOURCES)}

AGENT_CREATION_PARAMS: JSONDict = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "type": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"anyOf": [{"type": "string"}, NULL_SCHEMA]},
    },
    "required": ["name", "type"],
    "additionalProperties": False,
}

SESSION_CREATION_PARAMS: JSONDict = {
    "type": "object",
    "properties": {
        "agent_id": ID_SCHEMA,
        "id": {"anyOf": [ID_SCHEMA, NULL_SCHEMA]},
        "title": {"anyOf": [{"type": "string", "maxLength": 200}, NULL_SCHEMA]},
    },
    "required": ["agent_id"],
    "additionalProperties": False,
}

EVENT_CREATION_PARAMS: JSONDict = {
    "type": "object",
    "properties": {
        "type": EVENT_TYPE_SCHEMA,
        "source": EVENT_SOURCE_SCHEMA,
        "content": {"anyOf": [{"type": "string"}, NULL_SCHEMA]},
    },
    "required": ["type", "source"],
    "additionalProperties": False,
}

EVENT_TYPES_BODY: JSONDict = {
    "anyOf": [{"type": "array", "items": EVENT_TYPE_SCHEMA}, NULL_SCHEMA],
}

ALLOW_GREETING_QUERY: JSONDict = {"type": "boolean"}
AGENT_ID_QUERY: JSONDict = {"anyOf": [{"type": "string"}, NULL_SCHEMA]}
MIN_OFFSET_QUERY: JSONDict = {"anyOf": [{"type": "integer"}, NULL_SCHEMA]}
SOURCE_QUERY: JSONDict = {"anyOf": [EVENT_SOURCE_SCHEMA, NULL_SCHEMA]}
CORRELATION_ID_QUERY: JSONDict = {"anyOf": [{"type": "string"}, NULL_SCHEMA]}

_INTEGER = re.compile(r"[+-]?[0-9]+")
_TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


def error(type: str, loc: Loc, msg: str, input: Any, ctx: JSONDict | None = None) -> JSONDict:
    """One FastAPI validation error entry, keys in FastAPI's order."""
    entry: JSONDict = {"type": type, "loc": list(loc), "msg": msg, "input": input}
    if ctx is not None:
        entry["ctx"] = ctx
    return entry


def check(schema: JSONDict, value: Any, loc: Loc) -> list[JSONDict]:
    """Errors of ``value`` against ``schema``; an empty list when it is valid."""
    if "anyOf" in schema:
        return _check_any_of(schema["anyOf"], value, loc)
    if "enum" in schema:
        return _check_enum(schema["enum"], value, loc)
    kind = schema.get("type")
    if kind == "object":
        return _check_object(schema, value, loc)
    if kind == "array":
        return _check_array(schema, value, loc)
    if kind == "string":
        return _check_string(schema, value, loc)
    if kind == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        return [error("int_type", loc, "Input should be a valid integer", value)]
    if kind == "boolean" and not isinstance(value, bool):
        return [error("bool_type", loc, "Input should be a valid boolean", value)]
    if kind == "null" and value is not None:
        return [error("none_required", loc, "Input should be None", value)]
    return []


def check_query(schema: JSONDict, raw: str | None, loc: Loc) -> tuple[Any, list[JSONDict]]:
    """Parse a query parameter's text by its schema: the value and any errors.

    An absent parameter gives ``None``; only ``integer`` and ``boolean`` are converted.
    """
    if raw is None:
        return None, []
    branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
    kind = branches[0].get("type")
    if kind == "integer":
        return _parse_int(raw, loc)
    if kind == "boolean":
        return _parse_bool(raw, loc)
    errors = check(branches[0], raw, loc)
    return (None if errors else raw), errors


def _check_any_of(branches: Sequence[JSONDict], value: Any, loc: Loc) -> list[JSONDict]:
    if value is None and any(b.get("type") == "null" for b in branches):
        return []
    first_errors: list[JSONDict] | None = None
    for branch in branches:
        if branch.get("type") == "null":
            continue
        errors = check(branch, value, loc)
        if not errors:
            return []
        if first_errors is None:
            first_errors = errors
    return first_errors or []


def _check_enum(allowed: Sequence[Any], value: Any, loc: Loc) -> list[JSONDict]:
    if isinstance(value, str) and value in allowed:
        return []
    expected = _quoted_choices(allowed)
    return [error("enum", loc, f"Input should be {expected}", value, {"expected": expected})]


def _quoted_choices(allowed: Sequence[Any]) -> str:
    quoted = [f"'{choice}'" for choice in allowed]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _check_object(schema: JSONDict, value: Any, loc: Loc) -> list[JSONDict]:
    if not isinstance(value, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return [error("model_attributes_type", loc, msg, value)]
    properties: JSONDict = schema.get("properties", {})
    required = set(schema.get("required", []))
    errors: list[JSONDict] = []
    for name, field_schema in properties.items():
        if name in value:
            errors.extend(check(field_schema, value[name], (*loc, name)))
        elif name in required:
            errors.append(error("missing", (*loc, name), "Field required", value))
    if schema.get("additionalProperties") is False:
        for name in value:
            if name not in properties:
                msg = "Extra inputs are not permitted"
                errors.append(error("extra_forbidden", (*loc, name), msg, value[name]))
    return errors


def _check_array(schema: JSONDict, value: Any, loc: Loc) -> list[JSONDict]:
    if not isinstance(value, list):
        return [error("list_type", loc, "Input should be a valid list", value)]
    items: JSONDict = schema.get("items", {})
    errors: list[JSONDict] = []
    for index, item in enumerate(value):
        errors.extend(check(items, item, (*loc, index)))
    return errors


def _check_string(schema: JSONDict, value: Any, loc: Loc) -> list[JSONDict]:
    if not isinstance(value, str):
        return [error("string_type", loc, "Input should be a valid string", value)]
    min_length = schema.get("minLength")
    if min_length is not None and len(value) < min_length:
        msg = f"String should have at least {_characters(min_length)}"
        return [error("string_too_short", loc, msg, value, {"min_length": min_length})]
    max_length = schema.get("maxLength")
    if max_length is not None and len(value) > max_length:
        msg = f"String should have at most {_characters(max_length)}"
        return [error("string_too_long", loc, msg, value, {"max_length": max_length})]
    return []


def _characters(count: int) -> str:
    return f"{count} character" if count == 1 else f"{count} characters"


def _parse_int(raw: str, loc: Loc) -> tuple[int | None, list[JSONDict]]:
    text = raw.strip()
    if _INTEGER.fullmatch(text):
        return int(text), []
    msg = "Input should be a valid integer, unable to parse string as an integer"
    return None, [error("int_parsing", loc, msg, raw)]


def _parse_bool(raw: str, loc: Loc) -> tuple[bool | None, list[JSONDict]]:
    word = raw.strip().lower()
    if word in _TRUE_WORDS:
        return True, []
    if word in _FALSE_WORDS:
        return False, []
    msg = "Input should be a valid boolean, unable to interpret input"
    return None, [error("bool_parsing", loc, msg, raw)]
