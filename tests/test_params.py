"""OpenAPI parameter serialization: the style table of the OpenAPI 3.0.4 specification
(``color`` = "blue", ["blue", "black", "brown"], {"R": 100, "G": 200, "B": 150}), plus
percent-encoding, omitted values and primitive formatting."""

from __future__ import annotations

import datetime
import enum
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.enums import OpenEnum
from shared.operation import Param, ParamLocation, ParamStyle
from shared.params import (
    cookie_pairs,
    header_value,
    path_value,
    query_pairs,
    query_string,
    to_text,
)
from shared.unset import UNSET

STRING = "blue"
ARRAY = ["blue", "black", "brown"]
OBJECT = {"R": 100, "G": 200, "B": 150}


def param(
    location: ParamLocation, style: ParamStyle, explode: bool, allow_reserved: bool = False
) -> Param:
    return Param("color", "color", location, Any, True, style, explode, allow_reserved)


@pytest.mark.parametrize(
    ("style", "explode", "value", "expected"),
    [
        ("simple", False, STRING, "blue"),
        ("simple", False, ARRAY, "blue,black,brown"),
        ("simple", False, OBJECT, "R,100,G,200,B,150"),
        ("simple", True, ARRAY, "blue,black,brown"),
        ("simple", True, OBJECT, "R=100,G=200,B=150"),
        ("label", False, STRING, ".blue"),
        ("label", False, ARRAY, ".blue,black,brown"),
        ("label", False, OBJECT, ".R,100,G,200,B,150"),
        ("label", True, ARRAY, ".blue.black.brown"),
        ("label", True, OBJECT, ".R=100.G=200.B=150"),
        ("matrix", False, STRING, ";color=blue"),
        ("matrix", False, "", ";color"),
        ("matrix", False, ARRAY, ";color=blue,black,brown"),
        ("matrix", False, OBJECT, ";color=R,100,G,200,B,150"),
        ("matrix", True, ARRAY, ";color=blue;color=black;color=brown"),
        ("matrix", True, OBJECT, ";R=100;G=200;B=150"),
    ],
)
def test_path_styles(style: ParamStyle, explode: bool, value: Any, expected: str) -> None:
    assert path_value(param("path", style, explode), value) == expected


def test_path_values_are_percent_encoded_unless_reserved_allowed() -> None:
    simple = param("path", "simple", False)
    assert path_value(simple, "a/b c?d#e@f%") == "a%2Fb%20c%3Fd%23e%40f%25"
    assert path_value(simple, ["a,b", "c"]) == "a%2Cb,c"
    assert path_value(simple, "caf\xe9") == "caf%C3%A9"
    reserved = param("path", "simple", False, allow_reserved=True)
    assert path_value(reserved, "a/b:c") == "a/b:c"
    assert path_value(reserved, "a b") == "a%20b"


@pytest.mark.parametrize(
    ("style", "explode", "value", "expected"),
    [
        ("form", False, STRING, "color=blue"),
        ("form", False, ARRAY, "color=blue,black,brown"),
        ("form", False, OBJECT, "color=R,100,G,200,B,150"),
        ("form", True, STRING, "color=blue"),
        ("form", True, ARRAY, "color=blue&color=black&color=brown"),
        ("form", True, OBJECT, "R=100&G=200&B=150"),
        ("spaceDelimited", False, ARRAY, "color=blue%20black%20brown"),
        ("spaceDelimited", False, OBJECT, "color=R%20100%20G%20200%20B%20150"),
        ("pipeDelimited", False, ARRAY, "color=blue|black|brown"),
        ("pipeDelimited", False, OBJECT, "color=R|100|G|200|B|150"),
        ("deepObject", True, OBJECT, "color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150"),
    ],
)
def test_query_styles(style: ParamStyle, explode: bool, value: Any, expected: str) -> None:
    assert query_string(query_pairs(param("query", style, explode), value)) == expected


def test_query_pairs_repeat_keys_for_exploded_arrays() -> None:
    assert query_pairs(param("query", "form", True), ["a", "b"]) == [("color", "a"), ("color", "b")]


def test_deep_object_nests_and_repeats_arrays() -> None:
    pairs = query_pairs(
        param("query", "deepObject", True), {"a": {"b": "x"}, "list": [1, 2], "skip": None}
    )
    decoded = [(unquote(name), unquote(value)) for name, value in pairs]
    assert decoded == [("color[a][b]", "x"), ("color[list]", "1"), ("color[list]", "2")]


def test_query_values_are_encoded_item_by_item() -> None:
    form = param("query", "form", False)
    assert query_pairs(form, ["a,b", "c&d=e"]) == [("color", "a%2Cb,c%26d%3De")]
    assert query_pairs(param("query", "pipeDelimited", False), ["a|b", "c"]) == [
        ("color", "a%7Cb|c")
    ]
    reserved = param("query", "form", True, allow_reserved=True)
    assert query_pairs(reserved, "a/b?c") == [("color", "a/b?c")]
    spaced = Param("my name", "my_name", "query", str)
    assert query_pairs(spaced, "x y") == [("my%20name", "x%20y")]


@pytest.mark.parametrize("value", [None, UNSET, [], {}, [None, UNSET]])
def test_missing_and_empty_query_values_add_nothing(value: Any) -> None:
    assert query_pairs(param("query", "form", True), value) == []


def test_none_items_are_left_out_of_arrays_and_objects() -> None:
    assert query_pairs(param("query", "form", True), ["a", None, "b"]) == [
        ("color", "a"),
        ("color", "b"),
    ]
    assert path_value(param("path", "simple", True), {"a": 1, "b": None}) == "a=1"


class Color(enum.Enum):
    RED = "red"


class Shade(OpenEnum):
    DARK = "dark"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (2.5, "2.5"),
        (Color.RED, "red"),
        (Shade.DARK, "dark"),
        (Shade("brand-new"), "brand-new"),
        (
            datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc),
            "2024-05-01T12:30:00+00:00",
        ),
        (datetime.date(2024, 5, 1), "2024-05-01"),
        ({"a": [1, True]}, '{"a":[1,true]}'),
    ],
)
def test_primitive_text(value: Any, expected: str) -> None:
    assert to_text(value) == expected


def test_booleans_and_enums_in_every_location() -> None:
    assert query_pairs(param("query", "form", True), [True, Color.RED]) == [
        ("color", "true"),
        ("color", "red"),
    ]
    assert path_value(param("path", "simple", False), False) == "false"
    assert header_value(param("header", "simple", False), True) == "true"


@pytest.mark.parametrize(
    ("explode", "value", "expected"),
    [
        (False, STRING, "blue"),
        (False, ARRAY, "blue,black,brown"),
        (False, OBJECT, "R,100,G,200,B,150"),
        (True, OBJECT, "R=100,G=200,B=150"),
    ],
)
def test_header_simple_style(explode: bool, value: Any, expected: str) -> None:
    assert header_value(param("header", "simple", explode), value) == expected


def test_header_values_are_not_percent_encoded() -> None:
    assert header_value(param("header", "simple", False), "a b/c") == "a b/c"


def test_cookie_form_style() -> None:
    assert cookie_pairs(param("cookie", "form", True), "a b") == [("color", "a%20b")]
    assert cookie_pairs(param("cookie", "form", False), ["x", "y"]) == [("color", "x,y")]


@given(st.text(), st.text(min_size=1))
def test_query_round_trip_through_a_standard_parser(value: str, name: str) -> None:
    pairs = query_pairs(Param(name, "p", "query", str), value)
    assert parse_qsl(query_string(pairs), keep_blank_values=True) == [(name, value)]


@given(st.lists(st.text(), min_size=1))
def test_exploded_array_round_trip(values: list[str]) -> None:
    pairs = query_pairs(Param("v", "v", "query", list[str]), values)
    assert parse_qsl(query_string(pairs), keep_blank_values=True) == [("v", v) for v in values]


@given(st.text())
def test_path_value_never_leaves_a_delimiter_unencoded(value: str) -> None:
    encoded = path_value(param("path", "simple", False), value)
    assert not set(encoded) & set("/?#[]@!$&'()*+,;= ")
    assert unquote(encoded) == value
