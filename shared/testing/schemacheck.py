"""JSON Schema checks compiled once per schema, for the fake's request bodies.

openapi-core validates a body with jsonschema, which walks the schema afresh for every
value: about 0.2 s of CPU for a 1000-document bulk page. :class:`CompiledChecks` turns
each schema of an OpenAPI 3.0 document into nested Python closures once, and then
checks values with them, giving the errors jsonschema's ``OAS30WriteValidator`` gives
(same messages, same paths). It compiles the keywords the Glean specs use (``type``,
``properties``, ``required``, ``items``, ``enum``, ``allOf``, ``anyOf``,
``additionalProperties``, ``format``, ``$ref``; ``$ref`` siblings apply, as in that
validator); a schema holding any other keyword that validator acts on is checked by
jsonschema itself, so nothing is weakened, only sped up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

from openapi_schema_validator import OAS30WriteValidator

JSON = Any
# an error: (message, path from the checked value, innermost key first)
Error = tuple[str, list[Any]]
Check = Callable[[JSON], "list[Error] | None"]
Fallback = Callable[[JSON, str], list[Error]]

COMPILED = frozenset(
    {"$ref", "type", "properties", "required", "items", "enum", "allOf", "anyOf"}
    | {"additionalProperties", "format"}
)
# keywords the OAS 3.0 validator registers but does nothing with
INERT = frozenset({"example", "deprecated", "xml", "externalDocs"})
# keywords that change what a compiled keyword means (handled by jsonschema)
MODIFIERS = frozenset({"nullable", "discriminator", "readOnly", "writeOnly"})
TYPES: dict[str, Callable[[JSON], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}
FORMATS = OAS30WriteValidator.FORMAT_CHECKER
ACTIVE = frozenset(OAS30WriteValidator.VALIDATORS) - INERT


def needs_fallback(schema: Mapping[str, Any]) -> bool:
    """Whether a schema uses a keyword the compiled checks do not implement."""
    keys = set(schema)
    if keys & MODIFIERS or (keys & ACTIVE) - COMPILED:
        return True
    kind = schema.get("type")
    if kind is not None and kind not in TYPES:
        return True
    if "items" in schema and not isinstance(schema["items"], dict):
        return True
    properties = schema.get("properties")
    inline = properties.values() if isinstance(properties, dict) else ()
    return any(isinstance(sub, dict) and "readOnly" in sub for sub in inline)


class CompiledChecks:
    """The schemas of one document compiled to checks, each once, by JSON pointer.

    ``fallback(value, pointer)`` validates a value against the schema at ``pointer``
    with jsonschema (for schemas :func:`needs_fallback` picks).
    """

    def __init__(self, document: Mapping[str, Any], fallback: Fallback) -> None:
        self._document = document
        self._fallback = fallback
        self._checks: dict[str, Check] = {}

    def errors(self, value: JSON, pointer: str) -> list[str]:
        """Why ``value`` does not fit the schema at ``pointer``, as ``/where: message``."""
        found = self.check(pointer)(value) or []
        return [render_error(message, path) for message, path in found]

    def check(self, pointer: str) -> Check:
        """The compiled check of the schema at a pointer (URI-fragment form, as in ``$ref``)."""
        if pointer not in self._checks:
            slot: list[Check] = []
            self._checks[pointer] = lambda value: slot[0](value)  # for recursive schemas
            slot.append(self._compile(pointer))
            self._checks[pointer] = slot[0]
        return self._checks[pointer]

    # -- compiling ------------------------------------------------------------------

    def _compile(self, pointer: str) -> Check:
        schema = self._node(pointer)
        if not isinstance(schema, dict):
            return _valid
        if needs_fallback(schema):
            return self._fallback_check(pointer)
        parts: list[Check] = []
        if isinstance(schema.get("$ref"), str):
            parts.append(self._reference(schema["$ref"]))
        if "type" in schema:
            parts.append(_type_check(schema["type"]))
        if "enum" in schema:
            parts.append(_enum_check(schema["enum"]))
        if "format" in schema:
            parts.append(_format_check(schema["format"]))
        parts += self._object_checks(schema, pointer)
        if "items" in schema:
            parts.append(_items_check(self.check(f"{pointer}/items")))
        for key in ("allOf", "anyOf"):
            branches = [
                self.check(f"{pointer}/{key}/{i}") for i in range(len(schema.get(key) or []))
            ]
            if key in schema:
                parts.append(_all_of(branches) if key == "allOf" else _any_of(branches))
        return _together(parts)

    def _object_checks(self, schema: dict[str, Any], pointer: str) -> list[Check]:
        checks: list[Check] = []
        if isinstance(schema.get("required"), list):
            checks.append(_required_check(schema["required"]))
        properties = schema.get("properties")
        if isinstance(properties, dict):
            children = {
                name: self.check(f"{pointer}/properties/{_escape(name)}") for name in properties
            }
            checks.append(_properties_check(children))
        if "additionalProperties" in schema:
            extra = schema["additionalProperties"]
            declared = frozenset(properties or ())
            if extra is False:
                checks.append(_no_extras(declared))
            elif isinstance(extra, dict):
                checks.append(
                    _extras_check(declared, self.check(f"{pointer}/additionalProperties"))
                )
        return checks

    def _reference(self, ref: str) -> Check:
        if not ref.startswith("#/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        return self.check(ref[1:])

    def _fallback_check(self, pointer: str) -> Check:
        def check(value: JSON) -> list[Error] | None:
            return self._fallback(value, pointer) or None

        return check

    def _node(self, pointer: str) -> JSON:
        node: JSON = self._document
        for part in pointer.split("/")[1:]:
            key = unquote(part).replace("~1", "/").replace("~0", "~")
            node = node[int(key)] if isinstance(node, list) else node[key]
        return node


# -- the checks -------------------------------------------------------------------------


def _valid(value: JSON) -> None:
    return None


def _together(parts: Sequence[Check]) -> Check:
    if not parts:
        return _valid
    if len(parts) == 1:
        return parts[0]

    def check(value: JSON) -> list[Error] | None:
        found: list[Error] | None = None
        for part in parts:
            errors = part(value)
            if errors:
                found = errors if found is None else found + errors
        return found

    return check


def _type_check(kind: str) -> Check:
    test = TYPES[kind]
    wanted = repr(kind)

    def check(value: JSON) -> list[Error] | None:
        if test(value):
            return None
        errors: list[Error] = [("None for not nullable", [])] if value is None else []
        return [*errors, (f"{value!r} is not of type {wanted}", [])]

    return check


def _enum_check(options: list[Any]) -> Check:
    strings = frozenset(o for o in options if isinstance(o, str))
    others = [o for o in options if not isinstance(o, str)]

    def check(value: JSON) -> list[Error] | None:
        if isinstance(value, str) and value in strings:
            return None
        if any(_equal(value, option) for option in others):
            return None
        return [(f"{value!r} is not one of {options!r}", [])]

    return check


def _format_check(name: str) -> Check:
    if name not in FORMATS.checkers:
        return _valid

    def check(value: JSON) -> list[Error] | None:
        if value is None or FORMATS.conforms(value, name):
            return None
        return [(f"{value!r} is not a {name!r}", [])]

    return check


def _required_check(names: list[str]) -> Check:
    def check(value: JSON) -> list[Error] | None:
        if not isinstance(value, dict):
            return None
        missing: list[Error] = [
            (f"{name!r} is a required property", []) for name in names if name not in value
        ]
        return missing or None

    return check


def _properties_check(children: dict[str, Check]) -> Check:
    def check(value: JSON) -> list[Error] | None:
        if not isinstance(value, dict):
            return None
        found: list[Error] | None = None
        for key, item in value.items():
            child = children.get(key)
            if child is None:
                continue
            errors = child(item)
            if errors:
                found = (found or []) + _under(key, errors)
        return found

    return check


def _no_extras(declared: frozenset[str]) -> Check:
    def check(value: JSON) -> list[Error] | None:
        if not isinstance(value, dict):
            return None
        extras = [key for key in value if key not in declared]
        if not extras:
            return None
        verb = "was" if len(extras) == 1 else "were"
        names = ", ".join(repr(extra) for extra in extras)
        return [(f"Additional properties are not allowed ({names} {verb} unexpected)", [])]

    return check


def _extras_check(declared: frozenset[str], child: Check) -> Check:
    def check(value: JSON) -> list[Error] | None:
        if not isinstance(value, dict):
            return None
        found: list[Error] | None = None
        for key, item in value.items():
            if key not in declared:
                errors = child(item)
                if errors:
                    found = (found or []) + _under(key, errors)
        return found

    return check


def _items_check(child: Check) -> Check:
    def check(value: JSON) -> list[Error] | None:
        if not isinstance(value, list):
            return None
        found: list[Error] | None = None
        for index, item in enumerate(value):
            errors = child(item)
            if errors:
                found = (found or []) + _under(index, errors)
        return found

    return check


def _all_of(branches: list[Check]) -> Check:
    return _together(branches)


def _any_of(branches: list[Check]) -> Check:
    def check(value: JSON) -> list[Error] | None:
        if any(not branch(value) for branch in branches):
            return None
        return [(f"{value!r} is not valid under any of the given schemas", [])]

    return check


# -- helpers ----------------------------------------------------------------------------


def _under(key: Any, errors: list[Error]) -> list[Error]:
    for _, path in errors:
        path.append(key)
    return errors


def render_error(message: str, path: list[Any]) -> str:
    where = "/".join(str(part) for part in reversed(path))
    return f"/{where}: {message}" if where else message


def _escape(name: str) -> str:
    """A property name as one part of a URI-fragment JSON pointer."""
    return quote(name.replace("~", "~0").replace("/", "~1"), safe="")


def _equal(one: JSON, two: JSON) -> bool:
    """JSON equality (``True`` is not ``1``), as jsonschema's ``enum`` compares."""
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(map(_equal, one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    return bool(one == two)
