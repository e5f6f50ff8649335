"""OpenAPI 3 parameter serialization (path, query, header and cookie styles).

Values arrive in wire shape (what the converter's ``unstructure`` gives: dicts with JSON
keys, lists, primitives), though enums, dates and booleans are also handled directly:
booleans become ``true``/``false``, enums their value, dates ISO 8601. ``None`` and
``UNSET`` are omitted, at the top level and inside arrays and objects.

Path and query results are percent-encoded here, item by item, so a delimiter the style
adds (``,`` ``|`` ``.`` ``;`` ``=``) stays apart from the same character inside a value.
"""

from __future__ import annotations

import datetime
import enum
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from shared.operation import Param
from shared.unset import Unset

_RESERVED = ":/?#[]@!$&'()*+,;="
_QUERY_DELIMITERS = {"form": ",", "spaceDelimited": "%20", "pipeDelimited": "|"}

Encoder = Callable[[Any], str]


def is_omitted(value: Any) -> bool:
    """Whether a value is left out of the request (``None`` or ``UNSET``)."""
    return value is None or isinstance(value, Unset)


def to_text(value: Any) -> str:
    """The text of one primitive value as it goes on the wire."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return to_text(value.value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def _items(value: Sequence[Any]) -> list[Any]:
    return [item for item in value if not is_omitted(item)]


def _entries(value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(str(key), item) for key, item in value.items() if not is_omitted(item)]


def _is_array(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _encode(text: str, allow_reserved: bool = False) -> str:
    return quote(text, safe=_RESERVED if allow_reserved else "")


# --- path -------------------------------------------------------------------------------


def path_value(param: Param, value: Any) -> str:
    """The percent-encoded text that replaces ``{name}`` in the path.

    ``simple`` (``a,b``), ``label`` (``.a.b`` / ``.a,b``) or ``matrix`` (``;id=a;id=b``).
    """
    style = param.style if param.style in ("simple", "label", "matrix") else "simple"

    def enc(text: Any) -> str:
        return _encode(to_text(text), param.allow_reserved)

    if style == "matrix":
        return _matrix(param, value, enc)
    if _is_array(value):
        parts = [enc(item) for item in _items(value)]
    elif isinstance(value, Mapping):
        parts = _object_parts(_entries(value), param.explode, enc)
    else:
        parts = [enc(value)]
    if style == "label":
        return "." + ("." if param.explode else ",").join(parts)
    return ",".join(parts)


def _object_parts(entries: list[tuple[str, Any]], explode: bool, enc: Encoder) -> list[str]:
    if explode:
        return [f"{enc(key)}={enc(item)}" for key, item in entries]
    return [part for key, item in entries for part in (enc(key), enc(item))]


def _matrix(param: Param, value: Any, enc: Encoder) -> str:
    name = enc(param.name)
    if _is_array(value):
        items = [enc(item) for item in _items(value)]
        if param.explode:
            return "".join(f";{name}={item}" for item in items)
        return f";{name}=" + ",".join(items)
    if isinstance(value, Mapping):
        entries = _entries(value)
        if param.explode:
            return "".join(f";{enc(key)}={enc(item)}" for key, item in entries)
        return f";{name}=" + ",".join(_object_parts(entries, False, enc))
    text = enc(value)
    return f";{name}={text}" if text else f";{name}"


# --- query ------------------------------------------------------------------------------


def query_pairs(param: Param, value: Any) -> list[tuple[str, str]]:
    """Percent-encoded ``(name, value)`` pairs for a query parameter, in order.

    ``form`` explode repeats the name for each array item and spreads an object's keys as
    names; non-exploded arrays join with ``,``, ``%20`` (spaceDelimited) or ``|``
    (pipeDelimited); ``deepObject`` gives ``name[key]=value`` (nested: ``name[a][b]``).
    Empty arrays and objects add nothing.
    """
    if is_omitted(value):
        return []
    reserved = param.allow_reserved

    def enc(text: Any) -> str:
        return _encode(to_text(text), reserved)

    name = _encode(param.name)
    if param.style == "deepObject" and isinstance(value, Mapping):
        return _deep_object(param.name, value, reserved)
    if _is_array(value):
        items = [enc(item) for item in _items(value)]
        if not items:
            return []
        if param.explode and param.style == "form":
            return [(name, item) for item in items]
        delimiter = _QUERY_DELIMITERS.get(param.style, ",")
        return [(name, delimiter.join(items))]
    if isinstance(value, Mapping):
        entries = _entries(value)
        if not entries:
            return []
        if param.explode and param.style == "form":
            return [(enc(key), enc(item)) for key, item in entries]
        delimiter = _QUERY_DELIMITERS.get(param.style, ",")
        return [(name, delimiter.join(_object_parts(entries, False, enc)))]
    return [(name, enc(value))]


def _deep_object(prefix: str, value: Mapping[str, Any], reserved: bool) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, item in _entries(value):
        name = f"{prefix}[{key}]"
        if isinstance(item, Mapping):
            pairs.extend(_deep_object(name, item, reserved))
        elif _is_array(item):
            pairs.extend((_encode(name), _encode(to_text(one), reserved)) for one in _items(item))
        else:
            pairs.append((_encode(name), _encode(to_text(item), reserved)))
    return pairs


def query_string(pairs: Sequence[tuple[str, str]]) -> str:
    """Join encoded pairs into a query string (without the ``?``)."""
    return "&".join(f"{name}={value}" for name, value in pairs)


# --- header and cookie ------------------------------------------------------------------


def header_value(param: Param, value: Any) -> str:
    """The ``simple``-style text of a header parameter (not percent-encoded)."""
    if _is_array(value):
        return ",".join(to_text(item) for item in _items(value))
    if isinstance(value, Mapping):
        return ",".join(_object_parts(_entries(value), param.explode, to_text))
    return to_text(value)


def cookie_pairs(param: Param, value: Any) -> list[tuple[str, str]]:
    """``form``-style ``(name, value)`` pairs for a cookie parameter, percent-encoded."""
    return query_pairs(attrs.evolve(param, style="form"), value)
