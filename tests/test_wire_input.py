"""``Serializer.to_wire`` against ``unstructure(from_python(...))``: same data, same errors.

Inputs are drawn from the generated models' own field types (mostly valid values, in
either spelling, with undeclared fields and now and then a value of the wrong type), so
the comparison covers nested models, lists, maps, unions, enums and dates.
"""

from __future__ import annotations

import datetime
import json
import typing
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glean_async._generated import models
from glean_async._generated.wire import SERIALIZER
from shared import serialization
from shared.enums import OpenEnum
from shared.unset import UNSET, Unset

MODELS = [
    "DocumentDefinition",
    "IndexDocumentRequest",
    "ChatRequest",
    "SearchRequest",
    "PeopleRequest",
    "UserReferenceDefinition",
    "CustomDatasourceConfig",
]
_WRONG = st.one_of(st.integers(), st.text(max_size=3), st.none(), st.lists(st.booleans()))
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)


def _values(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    """Values a caller might give for ``tp``, now and then one of the wrong type."""
    fitting = _fitting(tp, depth)
    return st.integers(0, 24).flatmap(lambda roll: _WRONG if roll == 0 else fitting)


def _fitting(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    if tp in (Any, None, object):
        return _JSON
    if tp is str:
        return st.text(max_size=6)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-5, 5)
    if tp is float:
        return st.one_of(st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False))
    if tp is Unset:
        return st.just(UNSET)
    if tp is type(None):
        return st.none()
    if tp is datetime.datetime:
        dates = st.datetimes(timezones=st.just(datetime.timezone.utc))
        return st.one_of(dates, dates.map(lambda value: value.isoformat()))
    if tp is datetime.date:
        return st.dates()
    if isinstance(tp, type) and issubclass(tp, OpenEnum):
        return st.one_of(st.sampled_from(list(tp)), st.sampled_from([m.value for m in tp]))
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if serialization._is_union(tp):
        return st.one_of(*[_fitting(arg, depth) for arg in args])
    if origin is list:
        return st.lists(_values(args[0], depth - 1), max_size=2) if depth > 0 else st.just([])
    if origin is dict:
        items = _values(args[1], depth - 1) if depth > 0 else st.none()
        return st.dictionaries(st.text(max_size=3), items, max_size=2)
    if attrs.has(tp):
        return _model_input(tp, depth - 1) if depth > 0 else st.just({})
    return st.nothing()


def _model_input(cls: type, depth: int) -> st.SearchStrategy[Any]:
    """A dict in either spelling (or the model built from one), maybe with extra keys."""
    fields = serialization._declared_fields(cls)
    extra = serialization.additional_field(cls)

    @st.composite
    def draw(draw: st.DrawFn) -> Any:
        data: dict[str, Any] = {}
        for field in fields:
            required = field.default is attrs.NOTHING
            if required or draw(st.integers(0, 3)) == 0:
                key = draw(st.sampled_from([field.name, serialization._wire_name(field)]))
                data[key] = draw(_values(field.type, depth))
        if extra is not None and draw(st.integers(0, 4)) == 0:
            data[extra.name] = draw(st.dictionaries(st.text(max_size=4), _JSON, max_size=2))
        if draw(st.integers(0, 19)) == 0:
            data[draw(st.text(max_size=4))] = 1  # most likely an unknown key
        if draw(st.integers(0, 5)) == 0:
            try:
                return SERIALIZER.from_python(data, cls, "built")
            except (TypeError, ValueError):
                return data
        return data

    return draw()


def _outcome(call: Any) -> Any:
    try:
        data = call()
    except Exception as exc:  # compared, type and message
        return ("error", type(exc), str(exc))
    # member order is not compared: a dict already in wire form is sent in its own order
    return ("ok", json.dumps(data, default=str, sort_keys=True))


def _both(value: Any, tp: Any) -> tuple[Any, Any]:
    old = _outcome(
        lambda: SERIALIZER.converter.unstructure(SERIALIZER.from_python(value, tp, "item"))
    )
    new = _outcome(lambda: SERIALIZER.to_wire(value, tp, "item"))
    return old, new


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_to_wire_matches_the_model_path(name: str, data: st.DataObject) -> None:
    cls = getattr(models, name)
    value = data.draw(_model_input(cls, 3))
    old, new = _both(value, cls)
    assert new == old


def test_to_wire_gives_the_same_bytes_for_a_document() -> None:
    document = {
        "datasource": "ds",
        "id": "doc-1",
        "view_url": "https://example.com/1",
        "body": {"mimeType": "text/plain", "textContent": "hello"},
        "permissions": {"allowedUsers": [{"email": "a@example.com"}]},
        "tags": ["a", "b"],
        "additional_properties": {"zz": [1, {"y": 2}]},
    }
    cls = models.DocumentDefinition
    wire = SERIALIZER.to_wire(document, cls, "document")
    assert SERIALIZER.encode_json(wire) == SERIALIZER.dumps(
        SERIALIZER.from_python(document, cls, "document")
    )
    assert next(iter(wire)) == "datasource"  # required fields first, as cattrs writes them
    assert wire["zz"] == [1, {"y": 2}]


def test_to_wire_names_the_field_path_of_bad_input() -> None:
    document = {"datasource": "ds", "permissions": {"allowedUsers": [{"email": 3}]}}
    with pytest.raises(TypeError) as caught:
        SERIALIZER.to_wire(document, models.DocumentDefinition, "documents[4]")
    assert str(caught.value) == (
        "invalid value for 'documents[4].permissions.allowedUsers[0].email': "
        "expected str, got int 3"
    )


def test_to_wire_of_a_non_model_type_unstructures_the_checked_value() -> None:
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert SERIALIZER.to_wire([when], list[datetime.datetime], "times") == ["2024-01-02T03:04:05Z"]
