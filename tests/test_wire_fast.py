"""The generated dict writers of ``to_wire`` and the compact JSON encoder.

The writers (``shared.wirefast``) must give what the checked path gives (the same
data, the same key order, the same error naming the first bad field in input order) for
any dict; ``shared.jsontext`` must give the text ``json.dumps`` gives, or its error.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glean_async._generated import models
from glean_async._generated.wire import SERIALIZER
from shared import jsontext
from shared.serialization import Serializer
from shared.unset import UNSET, Unset


def _checked(value: Any, tp: Any, serializer: Serializer = SERIALIZER) -> Any:
    """The outcome of the key-by-key path the writers fall back to (every dict in
    ``value`` made a dict subclass, which the writers leave to that path)."""
    try:
        return ("ok", _text(serializer.to_wire(_not_dicts(value), tp, "item")))
    except Exception as exc:
        return ("error", type(exc), str(exc).replace("_NotADict", "dict"))


def _text(wire: Any) -> str:
    """Wire data as JSON text, members sorted: a dict already in wire form is sent in its
    own key order (see ``test_a_dict_in_wire_form_is_its_own_wire_data``)."""
    return json.dumps(wire, sort_keys=True)


def _not_dicts(value: Any) -> Any:
    if isinstance(value, dict):
        return _NotADict({key: _not_dicts(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_not_dicts(item) for item in value]
    return value


def _fast(value: Any, tp: Any, serializer: Serializer = SERIALIZER) -> Any:
    try:
        return ("ok", _text(serializer.to_wire(value, tp, "item")))
    except Exception as exc:
        return ("error", type(exc), str(exc))


class _NotADict(dict[str, Any]):
    """A dict subclass: the wire hook takes the checked path for it, not the writer."""


def _document(spelling: str, **extra: Any) -> dict[str, Any]:
    python = spelling == "python"
    return {
        "datasource": "ds",
        ("object_type" if python else "objectType"): "Article",
        "id": "doc-1",
        ("view_url" if python else "viewURL"): "https://example.com/1",
        "body": {("mime_type" if python else "mimeType"): "text/plain", "textContent": "hi"},
        "permissions": {("allow_anonymous_access" if python else "allowAnonymousAccess"): True},
        ("updated_at" if python else "updatedAt"): 5,
        **extra,
    }


@pytest.mark.parametrize("spelling", ["python", "wire"])
def test_a_document_in_either_spelling_is_written_like_the_checked_path(spelling: str) -> None:
    document = _document(spelling, tags=["a"], additional_properties={"zz": 1})
    cls = models.DocumentDefinition
    assert _fast(document, cls) == _checked(document, cls)
    wire = SERIALIZER.to_wire(document, cls, "item")
    assert list(wire)[:2] == ["datasource", "body"]  # required first, then declared order
    assert wire["viewURL"] == "https://example.com/1" and wire["zz"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": 3}, "'item.title': expected str, got int 3"),
        ({"viewURL": 3, "title": 4}, "'item.viewURL': expected str, got int 3"),
        ({"title": 4, "viewURL": 3}, "'item.title': expected str, got int 4"),
        ({"nope": 1}, "unknown field 'nope' for DocumentDefinition"),
        ({"view_url": "x"}, "given twice, as 'view_url' and 'viewURL'"),
        ({"body": {"mimeType": 1}}, "'item.body.mimeType': expected str, got int 1"),
    ],
)
def test_bad_dicts_get_the_checked_paths_error(change: dict[str, Any], message: str) -> None:
    rest = {key: value for key, value in _document("wire").items() if key not in change}
    document = {**change, **rest}  # the changed keys come first
    cls = models.DocumentDefinition
    outcome = _fast(document, cls)
    assert outcome == _checked(document, cls)
    assert outcome[0] == "error" and message in outcome[2]


def test_a_missing_required_field_is_named() -> None:
    document = _document("wire")
    del document["datasource"]
    outcome = _fast(document, models.DocumentDefinition)
    assert outcome == _checked(document, models.DocumentDefinition)
    assert "missing required field(s) of DocumentDefinition: 'datasource'" in outcome[2]


@attrs.define(slots=True, kw_only=True)
class Clash:
    """``b`` is the wire name of ``a`` and the Python name of another field."""

    a: str = attrs.field(metadata={"json": "b"})
    b: int | Unset = attrs.field(default=UNSET, metadata={"json": "c"})
    d: Inner | Unset = attrs.field(default=UNSET)


@attrs.define(slots=True, kw_only=True)
class Inner:
    x: int | Unset | None = attrs.field(default=UNSET)


_KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
_VALUES = st.one_of(
    st.text(max_size=2),
    st.integers(-2, 2),
    st.none(),
    st.just(UNSET),
    st.dictionaries(st.sampled_from(["x", "y"]), st.one_of(st.integers(0, 2), st.none())),
)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_any_dict_of_a_model_with_clashing_names_matches_the_checked_path(
    value: dict[str, Any],
) -> None:
    serializer = Serializer()
    assert _fast(value, Clash, serializer) == _checked(value, Clash, serializer)


def test_the_clashing_names_mean_what_the_python_names_say() -> None:
    serializer = Serializer()
    assert serializer.to_wire({"a": "s", "b": 2}, Clash, "item") == {"b": "s", "c": 2}
    assert serializer.to_wire({"a": "s", "c": 2, "d": {"x": None}}, Clash, "item") == {
        "b": "s",
        "c": 2,
        "d": {"x": None},
    }
    with pytest.raises(TypeError, match=r"'item\.b': expected int"):
        serializer.to_wire({"a": "s", "b": "not an int"}, Clash, "item")


# -- jsontext -------------------------------------------------------------------------

_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner)),
    max_leaves=20,
)


def _stdlib(value: Any) -> Any:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except Exception as exc:
        return ("error", type(exc))
    return ("ok", text.encode("utf-8"))


def _ours(value: Any) -> Any:
    try:
        return ("ok", jsontext.dumps(value))
    except Exception as exc:
        return ("error", type(exc))


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_jsontext_gives_the_stdlib_text_or_its_error(value: Any) -> None:
    assert _ours(value) == _stdlib(value)


def test_jsontext_refuses_a_circular_reference_and_then_works_on() -> None:
    looped: list[Any] = [1]
    looped.append({"again": looped})
    with pytest.raises(ValueError, match="Circular reference"):
        jsontext.dumps(looped)
    shared = [1]
    assert jsontext.dumps({"a": shared, "b": shared}) == b'{"a":[1],"b":[1]}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsontext.dumps({"when": object()})
    assert jsontext.dumps(["é", 1.5, None]) == '["é",1.5,null]'.encode()


def test_jsontext_from_many_threads_at_once() -> None:
    values = [{"n": n, "items": list(range(n % 7)), "text": "ü" * n} for n in range(200)]
    expected = [_stdlib(value)[1] for value in values]
    results: dict[int, list[bytes]] = {}

    def encode(index: int) -> None:
        results[index] = [jsontext.dumps(value) for value in values]

    threads = [threading.Thread(target=encode, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result == expected for result in results.values())


def test_the_fallback_encoder_matches() -> None:
    value = {"a": [1, 2.5, "x"], "b": None}
    assert jsontext._fallback(value).encode() == jsontext.dumps(value)


def test_the_wire_writers_are_generated_source_with_a_name() -> None:
    SERIALIZER.to_wire(_document("wire"), models.DocumentDefinition, "item")
    writer = SERIALIZER._wire_input._fast[models.DocumentDefinition]
    assert writer.__name__ == "wire_DocumentDefinition"


def _stdlib_loads(text: str) -> Any:
    try:
        return ("ok", json.dumps(json.loads(text)))
    except Exception as exc:
        return ("error", type(exc), str(exc))


def _our_loads(text: str) -> Any:
    try:
        return ("ok", json.dumps(jsontext.loads_text(text)))
    except Exception as exc:
        return ("error", type(exc), str(exc))


_SPACE = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


@settings(max_examples=300, deadline=None)
@given(
    value=_JSON.filter(lambda v: v == v),  # NaN does not equal itself
    before=_SPACE,
    after=_SPACE,
    tail=st.sampled_from(["", "", "x", "1", "{}", ","]),
)
def test_loads_text_reads_what_json_loads_reads(
    value: Any, before: str, after: str, tail: str
) -> None:
    text = before + json.dumps(value, ensure_ascii=False) + after + tail
    assert _our_loads(text) == _stdlib_loads(text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=12))
def test_loads_text_fails_like_json_loads_on_any_text(text: str) -> None:
    assert _our_loads(text) == _stdlib_loads(text)


# -- functions per key order ------------------------------------------------------------

_SHARED = Serializer()  # one serializer for every example: key orders learned across them


@settings(max_examples=400, deadline=None)
@given(value=st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_key_orders_seen_before_give_what_the_checked_path_gives(value: dict[str, Any]) -> None:
    assert _fast(value, Clash, _SHARED) == _checked(value, Clash, _SHARED)


def test_a_known_key_order_with_a_bad_value_gets_the_checked_paths_error() -> None:
    cls = models.DocumentDefinition
    good = _document("wire", title="t")
    assert _fast(good, cls) == _checked(good, cls)  # this key order has its function now
    for key, bad in [("title", 3), ("body", {"mimeType": 1}), ("permissions", "x")]:
        document = {**good, key: bad}  # the same keys in the same order
        outcome = _fast(document, cls)
        assert outcome == _checked(document, cls) and outcome[0] == "error"
    unset = {**good, "title": UNSET}
    assert _fast(unset, cls) == _checked(unset, cls)
    assert "title" not in SERIALIZER.to_wire(unset, cls, "item")


def test_more_key_orders_than_a_writer_keeps_are_all_written_right() -> None:
    import itertools

    serializer = Serializer()
    cls = models.DocumentDefinition
    document = _document("wire", title="t")
    orders = list(itertools.islice(itertools.permutations(document), 3, 3 + 3 * 40, 3))
    for order in orders * 2:  # the first 32 get their function, the rest the general one
        value = {key: document[key] for key in order}
        assert _fast(value, cls, serializer) == _checked(value, cls, serializer)
    writer = serializer._wire_input._fast[cls]
    from shared import wirefast

    assert len(wirefast._TABLES[writer]) == wirefast._SHAPES


def test_a_dict_in_wire_form_is_its_own_wire_data() -> None:
    """Once its key order is known, a dict under wire names whose values need no change
    is sent as it is (its own key order); anything else gets new wire data."""
    serializer = Serializer()
    cls = models.DocumentDefinition
    wire_form = _document("wire", title="t")
    serializer.to_wire(wire_form, cls, "item")  # learns the key order
    again = _document("wire", title="t")
    written = serializer.to_wire(again, cls, "item")
    assert written is again
    assert list(written) == list(_document("wire", title="t"))
    python_form = serializer.to_wire(_document("python"), cls, "item")
    assert python_form is not _document("python")
    assert next(iter(python_form)) == "datasource" and "objectType" in python_form
    body = models.ContentDefinition(mime_type="text/plain")
    for change in ({"tags": ["a"]}, {"title": UNSET}, {"body": body}, {"body": {"mimeType": "x"}}):
        value = {**_document("wire", title="t"), **change}
        for _ in range(2):
            got = serializer.to_wire(value, cls, "item")
            assert _text(got) == _checked(value, cls, serializer)[1]
    nested = {**_document("wire"), "body": {"mime_type": "text/plain", "textContent": "hi"}}
    for _ in range(2):
        got = serializer.to_wire(nested, cls, "item")
        assert got is not nested and got["body"] == {"mimeType": "text/plain", "textContent": "hi"}
        assert nested["body"] == {"mime_type": "text/plain", "textContent": "hi"}  # untouched
