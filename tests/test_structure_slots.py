"""Generated structure functions that set attributes directly instead of calling ``__init__``."""

from __future__ import annotations

import json
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import payloads
from glean_async._generated import models
from glean_async._generated.wire import SERIALIZER
from shared import serialization
from shared.models import ADDITIONAL
from shared.serialization import Serializer
from shared.unset import UNSET, Unset


def _by_init(cls: type, data: dict[str, Any]) -> Any:
    """The model ``__init__`` builds from the same structured attribute values."""
    made = SERIALIZER.structure(data, cls)
    kwargs = {field.alias: getattr(made, field.name) for field in attrs.fields(cls)}
    return made, cls(**kwargs)


def test_a_search_response_matches_one_built_by_init() -> None:
    data = json.loads(payloads.search_body())
    made, built = _by_init(models.SearchResponse, data)
    assert made == built
    first = made.results[0]
    assert first == models.SearchResult(
        **{f.alias: getattr(first, f.name) for f in attrs.fields(models.SearchResult)}
    )
    assert SERIALIZER.unstructure(made) == data


@settings(max_examples=80, deadline=None)
@given(
    start=st.integers(-3, 3),
    end=st.one_of(st.none(), st.integers(0, 9)),
    url=st.one_of(st.none(), st.text(max_size=4)),
    extra=st.dictionaries(st.sampled_from(["x", "yy", "zzz"]), st.integers(), max_size=2),
)
def test_left_out_fields_get_the_init_defaults(
    start: int, end: int | None, url: str | None, extra: dict[str, int]
) -> None:
    data: dict[str, Any] = {"startIndex": start, **extra}
    if end is not None:
        data["endIndex"] = end
    if url is not None:
        data["url"] = url
    made, built = _by_init(models.TextRange, data)
    assert made == built
    assert made.end_index == (UNSET if end is None else end)
    assert made.additional_properties == extra
    fresh = models.TextRange(start_index=start)
    if not extra:  # the shared empty default, as __init__ leaves it
        assert made.additional_properties is fresh.additional_properties
    assert SERIALIZER.unstructure(made) == data


@attrs.define(slots=True, kw_only=True, init=False)
class Scaled:
    """A model whose ``__init__`` does more than assign: it must still be called."""

    size: int = attrs.field(metadata={"json": "size"})
    label: str | Unset = attrs.field(default=UNSET, metadata={"json": "label"})
    more: dict[str, Any] = attrs.field(factory=dict, metadata={ADDITIONAL: True})

    def __init__(self, *, size: int, label: str | Unset = UNSET, more: Any = None) -> None:
        self.size = size * 10
        self.label = label
        self.more = more or {}


@attrs.define(slots=True, kw_only=True)
class Plain:
    size: int = attrs.field(metadata={"json": "size"})
    label: str | Unset = attrs.field(default=UNSET, metadata={"json": "label"})


def test_an_init_that_does_more_than_assign_is_called() -> None:
    assert serialization._slot_defaults(Scaled, *_fields(Scaled)) is None
    made = Serializer().structure({"size": 2, "label": "a"}, Scaled)
    assert (made.size, made.label) == (20, "a")


def test_an_attrs_init_is_replaced_by_setting_attributes() -> None:
    assert serialization._slot_defaults(Plain, *_fields(Plain)) == {"label": UNSET}
    assert Serializer().structure({"size": 2}, Plain) == Plain(size=2)


def _fields(cls: type) -> tuple[Any, Any]:
    return serialization._declared_fields(cls), serialization.additional_field(cls)
