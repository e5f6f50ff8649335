"""Compact JSON text of wire data, written by the standard library's C encoder directly,
and JSON text read by its C scanner directly.

``json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)`` builds a
``JSONEncoder`` and a new C encoder on every call, which costs more than encoding a
small object itself. :func:`dumps` keeps one C encoder made with the same settings and
gives the same text, the same errors (a circular reference, NaN, an unsupported type)
and falls back to ``json.dumps`` where the C encoder is missing (another interpreter).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from json import encoder as _stdlib
from typing import Any

__all__ = ["dumps", "dumps_all", "dumps_text", "loads_text"]


def _unsupported(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _fallback(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _c_encoder() -> tuple[Callable[[Any], str], Callable[[list[Any]], list[bytes]]] | None:
    """``dumps_text`` and ``dumps_all`` on the C encoder, or ``None`` when this
    interpreter has none."""
    make = getattr(_stdlib, "c_make_encoder", None)
    escape = getattr(_stdlib, "c_encode_basestring", None)
    if make is None or escape is None:
        return None
    local = threading.local()  # the circular-reference markers of each thread

    def encoder() -> Any:
        markers: dict[int, Any] = {}
        encode = make(markers, _unsupported, escape, None, ":", ",", False, False, False)
        local.state = state = (markers, encode)
        return state

    join = "".join

    def dumps_text(data: Any) -> str:
        try:
            markers, encode = local.state
        except AttributeError:
            markers, encode = encoder()
        try:
            return join(encode(data, 0))
        except BaseException:
            markers.clear()  # an error leaves the markers of the containers it was in
            raise

    def dumps_all(items: list[Any]) -> list[bytes]:
        """:func:`dumps` of each item, in one call (raises the first item's error)."""
        try:
            markers, encode = local.state
        except AttributeError:
            markers, encode = encoder()
        try:
            return [join(encode(item, 0)).encode() for item in items]
        except BaseException:
            markers.clear()
            raise

    return dumps_text, dumps_all


def _fallback_all(items: list[Any]) -> list[bytes]:
    """:func:`dumps` of each item, in one call (raises the first item's error)."""
    return [_fallback(item).encode() for item in items]


dumps_text: Callable[[Any], str]
dumps_all: Callable[[list[Any]], list[bytes]]
dumps_text, dumps_all = _c_encoder() or (_fallback, _fallback_all)


def dumps(data: Any) -> bytes:
    """``data`` (plain JSON values) as compact UTF-8 JSON bytes."""
    return dumps_text(data).encode("utf-8")


def _c_loads() -> Callable[[str], Any]:
    """``json.loads`` for text, without its two Python frames and two regex matches.

    The decoder's scanner reads one JSON value from the start of the text; when that is
    the whole text, it is the answer. Anything else (leading or trailing whitespace,
    extra data, not JSON at all) goes to ``json.loads``, which answers or raises as ever.
    """
    decoder = json.JSONDecoder()  # its scanner is the C one where there is one
    scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]
    loads = json.loads

    def loads_text(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except StopIteration:
            return loads(text)
        if end == len(text):
            return value
        return loads(text)

    return loads_text


loads_text: Callable[[str], Any] = _c_loads()
