"""Tests for shared.serialization: wire converter, strict user input, JSON helpers."""

from __future__ import annotations

import datetime
import json
from typing import Any, Literal, Union

import attrs
import cattrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import serialization
from shared.enums import OpenEnum
from shared.errors import InvalidInputError
from shared.serialization import (
    ModelValidationError,
    Serializer,
    StructureError,
    UnionInfo,
    make_serializer,
)
from shared.unset import UNSET, Unset

# ---------------------------------------------------------------------------
# Models written the way the generator emits them (ARCHITECTURE.md)


class Color(OpenEnum):
    RED = "red"
    GREEN = "green"


@attrs.define(slots=True, kw_only=True)
class Node:
    name: str = attrs.field(metadata={"json": "name"})
    children: list[Node] = attrs.field(metadata={"json": "children"})
    label: str | None | Unset = attrs.field(default=UNSET, metadata={"json": "nodeLabel"})  # noqa: RUF036


@attrs.define(slots=True, kw_only=True)
class TextPart:
    kind: Literal["text"] = attrs.field(metadata={"json": "kind"})
    content: str = attrs.field(metadata={"json": "content"})


@attrs.define(slots=True, kw_only=True)
class ToolPart:
    kind: Literal["tool"] = attrs.field(metadata={"json": "kind"})
    tool_name: str = attrs.field(metadata={"json": "toolName"})
    arguments: dict[str, Any] = attrs.field(metadata={"json": "arguments"})


@attrs.define(slots=True, kw_only=True)
class Cat:
    name: str = attrs.field(metadata={"json": "name"})
    meows: bool = attrs.field(metadata={"json": "meows"})


@attrs.define(slots=True, kw_only=True)
class Dog:
    name: str = attrs.field(metadata={"json": "name"})
    barks: int = attrs.field(metadata={"json": "barkCount"})


@attrs.define(slots=True, kw_only=True)
class Session:
    id: str = attrs.field(metadata={"json": "id"})
    title: str | None = attrs.field(metadata={"json": "title"})
    created_at: datetime.datetime = attrs.field(metadata={"json": "created_at"})
    kind: Literal["session"] = attrs.field(metadata={"json": "kind"})
    parts: list[TextPart | ToolPart] = attrs.field(metadata={"json": "parts"})
    agent_id: str | Unset = attrs.field(default=UNSET, metadata={"json": "agentId"})
    note: str | None | Unset = attrs.field(default=UNSET, metadata={"json": "note"})  # noqa: RUF036
    birthday: datetime.date | Unset = attrs.field(default=UNSET, metadata={"json": "birthday"})
    color: Color | Unset = attrs.field(default=UNSET, metadata={"json": "color"})
    pet: Cat | Dog | Unset | None = attrs.field(default=UNSET, metadata={"json": "pet"})
    scalar: str | int | float | Unset = attrs.field(default=UNSET, metadata={"json": "scalar"})
    score: float | Unset = attrs.field(default=UNSET, metadata={"json": "score"})
    count: int | Unset = attrs.field(default=UNSET, metadata={"json": "count"})
    enabled: bool | Unset = attrs.field(default=UNSET, metadata={"json": "enabled"})
    tags: list[str] | Unset = attrs.field(default=UNSET, metadata={"json": "tags"})
    metadata: dict[str, Any] | Unset | None = attrs.field(
        default=UNSET, metadata={"json": "metadata"}
    )
    parts_by_id: dict[str, TextPart | ToolPart] | Unset = attrs.field(
        default=UNSET, metadata={"json": "partsById"}
    )
    last_part: TextPart | ToolPart | Unset | None = attrs.field(
        default=UNSET, metadata={"json": "lastPart"}
    )
    tree: Node | Unset = attrs.field(default=UNSET, metadata={"json": "tree"})
    owner: Owner | Unset = attrs.field(default=UNSET, metadata={"json": "owner"})
    extra: Any = attrs.field(default=UNSET, metadata={"json": "extra"})


@attrs.define(slots=True, kw_only=True)
class Owner:
    """Defined after ``Session`` refers to it: the annotation resolves lazily."""

    user_name: str = attrs.field(metadata={"json": "userName"})


@attrs.define(slots=True, kw_only=True)
class Untyped:
    value = attrs.field(metadata={"json": "v"})


@attrs.define(slots=True, kw_only=True)
class Broken:
    missing: DoesNotExist = attrs.field(metadata={"json": "missing"})  # type: ignore[name-defined]  # noqa: F821


PART_UNION = UnionInfo(
    type=Union[TextPart, ToolPart],  # noqa: UP007 - what the generator emits
    discriminator="kind",
    mapping={"text": TextPart, "tool": ToolPart},
)


@pytest.fixture(scope="module")
def ser() -> Serializer:
    return make_serializer([PART_UNION])


def session_wire(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "s1",
        "title": None,
        "created_at": "2024-05-06T07:08:09Z",
        "kind": "session",
        "parts": [{"kind": "text", "content": "hi"}],
    }
    data.update(extra)
    return data


FULL_WIRE = session_wire(
    title="Hello",
    parts=[
        {"kind": "text", "content": "hi"},
        {"kind": "tool", "toolName": "search", "arguments": {"q": "x", "n": [1, 2.5, None]}},
    ],
    agentId="agent-1",
    note=None,
    birthday="1999-12-31",
    color="red",
    pet={"name": "Rex", "barkCount": 3},
    scalar=7,
    score=0.5,
    count=2,
    enabled=False,
    tags=["a", "b"],
    metadata={"nested": {"deep": [True, {"x": None}]}},
    partsById={"p1": {"kind": "tool", "toolName": "t", "arguments": {}}},
    lastPart=None,
    tree={"name": "root", "children": [{"name": "leaf", "children": [], "nodeLabel": None}]},
    owner={"userName": "ann"},
    extra=[1, "two", {"three": 3}],
)


# ---------------------------------------------------------------------------
# Wire: round trips and field rules


def test_converter_is_a_cattrs_converter(ser: Serializer) -> None:
    assert isinstance(ser.converter, cattrs.Converter)
    model = ser.converter.structure(FULL_WIRE, Session)
    assert ser.converter.unstructure(model) == FULL_WIRE


@pytest.mark.parametrize(
    "wire",
    [
        FULL_WIRE,
        session_wire(),
        session_wire(
            pet={"name": "Tom", "meows": True}, scalar="7", lastPart={"kind": "text", "content": ""}
        ),
        session_wire(scalar=7.25, metadata=None, created_at="2024-05-06T07:08:09.123456+02:00"),
        session_wire(created_at="2024-05-06T07:08:09", color="ultraviolet", pet=None),
    ],
)
def test_wire_round_trip(ser: Serializer, wire: dict[str, Any]) -> None:
    model = ser.structure(wire, Session)
    assert ser.unstructure(model) == wire
    assert ser.loads(ser.dumps(model)) == wire


def test_wire_names_and_typed_values(ser: Serializer) -> None:
    model = ser.structure(FULL_WIRE, Session)
    assert model.agent_id == "agent-1"
    assert model.created_at == datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    assert model.birthday == datetime.date(1999, 12, 31)
    assert model.color is Color.RED
    assert model.pet == Dog(name="Rex", barks=3)
    assert model.parts[1] == ToolPart(
        kind="tool", tool_name="search", arguments={"q": "x", "n": [1, 2.5, None]}
    )
    assert model.parts_by_id == {"p1": ToolPart(kind="tool", tool_name="t", arguments={})}
    assert model.tree == Node(name="root", children=[Node(name="leaf", children=[], label=None)])
    assert model.owner == Owner(user_name="ann")
    assert model.extra == [1, "two", {"three": 3}]


def test_missing_optional_keys_stay_unset(ser: Serializer) -> None:
    model = ser.structure(session_wire(), Session)
    assert model.agent_id is UNSET
    assert model.note is UNSET
    assert model.pet is UNSET
    assert model.extra is UNSET
    assert model.title is None


def test_unset_is_omitted_and_none_is_sent(ser: Serializer) -> None:
    model = Session(
        id="s",
        title=None,
        created_at=datetime.datetime(2024, 1, 1),
        kind="session",
        parts=[],
        note=None,
        pet=None,
    )
    wire = ser.unstructure(model)
    assert wire == {
        "id": "s",
        "title": None,
        "created_at": "2024-01-01T00:00:00",
        "kind": "session",
        "parts": [],
        "note": None,
        "pet": None,
    }
    assert "agentId" not in wire
    assert ser.dumps(model) == json.dumps(wire, separators=(",", ":")).encode()


def test_unknown_fields_and_enum_values_are_accepted(ser: Serializer) -> None:
    model = ser.structure(session_wire(color="mauve", brandNew={"x": 1}), Session)
    assert isinstance(model.color, Color)
    assert model.color == "mauve"
    assert not model.color.is_known
    wire = ser.unstructure(model)
    assert wire["color"] == "mauve"
    assert type(wire["color"]) is str
    assert "brandNew" not in wire


def test_datetime_formats(ser: Serializer) -> None:
    utc = datetime.timezone.utc
    cases = {
        "2024-01-02T03:04:05Z": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc),
        "2024-01-02T03:04:05.5Z": datetime.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=utc),
        "2024-01-02T03:04:05": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "2024-01-02T03:04:05-05:30": datetime.datetime(
            2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(-datetime.timedelta(hours=5, minutes=30))
        ),
    }
    for text, expected in cases.items():
        parsed = ser.structure(text, datetime.datetime)
        assert parsed == expected
        assert parsed.utcoffset() == expected.utcoffset()
    assert ser.unstructure(cases["2024-01-02T03:04:05Z"]) == "2024-01-02T03:04:05Z"
    assert ser.unstructure(datetime.date(2024, 2, 29)) == "2024-02-29"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2024-01-02T03:04:05Z",
            datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        ),
        (
            "2024-01-02T03:04:05.123Z",
            datetime.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=datetime.timezone.utc),
        ),
        (
            "2024-01-02T03:04:05.1234567z",
            datetime.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc),
        ),
        ("2024-01-02 03:04", datetime.datetime(2024, 1, 2, 3, 4)),
        (
            "2024-01-02T03:04:05+0100",
            datetime.datetime(
                2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
            ),
        ),
    ],
)
def test_datetime_fallback_parser_covers_python_310(text: str, expected: datetime.datetime) -> None:
    # Python 3.10's fromisoformat rejects all of these; the fallback must not.
    parsed = serialization._parse_datetime_fallback(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01T00:00:00Z", "2024-01-02T03"])
def test_datetime_fallback_parser_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="date-time"):
        serialization._parse_datetime_fallback(text)


def test_recursive_model_deep(ser: Serializer) -> None:
    wire: dict[str, Any] = {"name": "0", "children": []}
    current = wire
    for depth in range(1, 30):
        child: dict[str, Any] = {"name": str(depth), "children": [], "nodeLabel": f"d{depth}"}
        current["children"].append(child)
        current = child
    node = ser.structure(wire, Node)
    assert ser.unstructure(node) == wire
    for _ in range(29):
        node = node.children[0]
    assert node.name == "29"


# ---------------------------------------------------------------------------
# Wire: strict primitives and unions


def test_primitives_are_strict(ser: Serializer) -> None:
    assert ser.structure(1, float) == 1
    assert type(ser.structure(1, float)) is int  # kept as sent: exact round trip
    assert ser.structure(2.5, float) == 2.5
    assert ser.structure(False, bool) is False
    for value, tp in [
        (123, str),
        ("1", int),
        (True, int),
        (1.0, int),
        (True, float),
        ("1.5", float),
        (1, bool),
        ("true", bool),
        ([1], dict[str, Any]),
        ("abc", list[str]),
        ({"a": 1}, list[int]),
        ("text", Literal["session"]),
        (5, Color),
        (1700000000, datetime.datetime),
        ("2024-01-02T03:04:05Z", datetime.date),
    ]:
        with pytest.raises(StructureError):
            ser.structure(value, tp)


def test_any_and_untyped_pass_through(ser: Serializer) -> None:
    marker = object()
    assert ser.structure(marker, Any) is marker
    assert ser.structure({"v": marker}, Untyped).value is marker
    assert ser.unstructure(Untyped(value=[1, "x"])) == {"v": [1, "x"]}


def test_overlapping_union_takes_first_branch_that_fits(ser: Serializer) -> None:
    assert ser.structure("1", Union[int, str]) == "1"  # noqa: UP007
    assert ser.structure(1, str | int) == 1
    assert type(ser.structure(1, float | int)) is int
    assert type(ser.structure(1.0, int | float)) is float
    assert ser.structure(1, float | str) == 1
    assert ser.structure({"name": "Tom", "meows": True}, Cat | Dog) == Cat(name="Tom", meows=True)
    assert ser.structure({"name": "Rex", "barkCount": 2}, Cat | Dog) == Dog(name="Rex", barks=2)
    assert ser.structure(["a", "b"], list[str] | str) == ["a", "b"]
    # An exact scalar match wins over a branch that would convert the value.
    assert type(ser.structure("mauve", Color | str)) is str
    assert type(ser.structure("2024-01-01", datetime.date | str)) is str
    assert type(ser.structure("mauve", Color | int)) is Color


@attrs.define(slots=True, kw_only=True)
class Doc:
    id: str | Unset = UNSET
    title: str | Unset = UNSET


@attrs.define(slots=True, kw_only=True)
class ErrorOnly:
    error: str | Unset = UNSET


def test_first_fit_prefers_a_branch_that_declares_every_key(ser: Serializer) -> None:
    # Doc ignores unknown keys, so it would "fit" {"error": ...}; ErrorOnly declares it.
    assert ser.structure({"error": "gone"}, Doc | ErrorOnly) == ErrorOnly(error="gone")
    assert ser.structure({"id": "1"}, Doc | ErrorOnly) == Doc(id="1")
    # With no branch declaring every key, the first one that structures still wins.
    assert ser.structure({"id": "1", "new": 2}, Doc | ErrorOnly) == Doc(id="1")


def test_union_error_lists_every_branch(ser: Serializer) -> None:
    with pytest.raises(StructureError) as info:
        ser.structure(session_wire(pet={"name": "Bob"}), Session)
    (message,) = info.value.errors
    assert "no variant of Cat | Dog fits" in message
    assert "Cat: required field missing @ $.pet.meows" in message
    assert "Dog: required field missing @ $.pet.barkCount" in message
    with pytest.raises(StructureError, match=r"str: expected str, got bool True.* @ \$"):
        ser.structure(True, str | int)


def test_discriminated_union_everywhere(ser: Serializer) -> None:
    text = {"kind": "text", "content": "a"}
    tool = {"kind": "tool", "toolName": "t", "arguments": {}}
    union = Union[TextPart, ToolPart]  # noqa: UP007
    assert ser.structure(tool, union) == ToolPart(kind="tool", tool_name="t", arguments={})
    assert ser.structure(None, TextPart | ToolPart | None) is None
    assert ser.structure([text, tool], list[union])[0] == TextPart(kind="text", content="a")
    mapped = ser.structure({"x": tool}, dict[str, union])
    assert mapped["x"].tool_name == "t"
    assert ser.unstructure(mapped) == {"x": tool}


def test_discriminated_union_rejects_unknown_or_missing_tag(ser: Serializer) -> None:
    with pytest.raises(StructureError) as info:
        ser.structure(session_wire(parts=[{"kind": "video", "url": "u"}]), Session)
    assert info.value.errors == [
        "unknown 'kind' value 'video' for TextPart | ToolPart; "
        "expected one of 'text', 'tool' @ $.parts[0]"
    ]
    with pytest.raises(StructureError, match=r"missing discriminator 'kind'.* @ \$\.lastPart"):
        ser.structure(session_wire(lastPart={"content": "x"}), Session)


def test_union_info_is_the_registered_union_structure_dispatches_by(ser: Serializer) -> None:
    assert ser.union_info(Union[TextPart, ToolPart]) is PART_UNION  # noqa: UP007
    assert ser.union_info(ToolPart | TextPart) is PART_UNION
    assert ser.union_info(TextPart | ToolPart | Unset | None) is PART_UNION
    for other in (Cat | Dog, TextPart, list[TextPart | ToolPart], str | int, TextPart | None):
        assert ser.union_info(other) is None


def test_discriminated_union_dispatches_without_trying_other_branches(ser: Serializer) -> None:
    # A tool part missing a field must report the tool branch only, not "no variant fits".
    with pytest.raises(StructureError) as info:
        ser.structure({"kind": "tool", "toolName": "t"}, TextPart | ToolPart)
    assert info.value.errors == ["required field missing @ $.arguments"]


# ---------------------------------------------------------------------------
# Wire: errors name the field path


def test_null_is_unset_in_optional_fields_and_an_error_in_required_ones(
    ser: Serializer,
) -> None:
    assert ser.structure(session_wire(agentId=None), Session).agent_id is UNSET
    with pytest.raises(StructureError, match=r"expected str, got None @ \$\.id"):
        ser.structure(session_wire(id=None), Session)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [(session_wire(agentId=5), "expected str, got int 5 @ $.agentId")],
)
def test_optional_fields_still_check_types(ser: Serializer, wire: Any, expected: str) -> None:
    with pytest.raises(StructureError) as caught:
        ser.structure(wire, Session)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (session_wire(title=5), "expected str, got int 5 @ $.title"),
        (session_wire(count="1"), "expected int, got str '1' @ $.count"),
        (session_wire(count=True), "expected int, got bool True @ $.count"),
        (session_wire(enabled=1), "expected bool, got int 1 @ $.enabled"),
        (session_wire(score=True), "expected float, got bool True @ $.score"),
        (session_wire(kind="chat"), "expected 'session', got str 'chat' @ $.kind"),
        (session_wire(created_at="soon"), "not an ISO 8601 date-time: str 'soon' @ $.created_at"),
        (session_wire(birthday=20240101), "@ $.birthday"),
        (session_wire(metadata=[1]), "expected an object, got list [1] @ $.metadata"),
        (session_wire(tags=["a", 2]), "expected str, got int 2 @ $.tags[1]"),
        (session_wire(parts=[{"kind": "text", "content": 1}]), "@ $.parts[0].content"),
        (
            session_wire(partsById={"p": {"kind": "text", "content": None}}),
            "expected str, got None @ $.partsById['p'].content",
        ),
        (
            session_wire(tree={"name": "r", "children": [{"name": "c", "children": {}}]}),
            "expected a list, got dict {} @ $.tree.children[0].children",
        ),
        (session_wire(owner="ann"), "expected an object (Owner), got str 'ann' @ $.owner"),
        ({"title": None}, "required field missing @ $.id"),
    ],
)
def test_wire_errors_name_the_path(ser: Serializer, wire: Any, expected: str) -> None:
    with pytest.raises(StructureError) as info:
        ser.structure(wire, Session)
    assert any(expected in line for line in info.value.errors), info.value.errors
    assert expected in str(info.value)


def test_converter_errors_are_readable_class_validation_errors(ser: Serializer) -> None:
    wire = session_wire(title=5, tags=["a", 2])
    with pytest.raises(ModelValidationError) as info:
        ser.converter.structure(wire, Session)
    error = info.value
    assert isinstance(error, cattrs.ClassValidationError)
    assert str(error) == (
        "invalid Session: expected str, got int 5 @ $.title; expected str, got int 2 @ $.tags[1]"
    )
    # cattrs' own tool still understands the error tree (with Python names).
    assert cattrs.transform_error(error) == [
        "invalid value for type, expected str | None @ $.title",
        "invalid value for type, expected str @ $.tags[1]",
    ]


def test_all_missing_fields_are_reported(ser: Serializer) -> None:
    with pytest.raises(StructureError) as info:
        ser.structure({}, Session)
    assert info.value.errors == [
        "required field missing @ $.id",
        "required field missing @ $.title",
        "required field missing @ $.created_at",
        "required field missing @ $.kind",
        "required field missing @ $.parts",
    ]


def test_error_never_contains_a_large_value(ser: Serializer) -> None:
    big = ["x" * 50] * 1000
    with pytest.raises(StructureError) as info:
        ser.structure(session_wire(title=big), Session)
    assert "expected str, got list @ $.title" in str(info.value)
    assert len(str(info.value)) < 200


# ---------------------------------------------------------------------------
# User input (from_python)


def test_dict_and_instance_give_the_same_model(ser: Serializer) -> None:
    created = datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)
    as_dict = {
        "id": "s",
        "title": "t",
        "created_at": "2024-01-02T00:00:00Z",
        "kind": "session",
        "parts": ({"kind": "tool", "tool_name": "x", "arguments": {"CamelKey": 1}},),
        "color": "green",
        "birthday": "2000-01-01",
        "pet": {"name": "Rex", "barks": 1},
        "tree": {"name": "r", "children": [{"name": "c", "children": []}]},
        "parts_by_id": {"someKey": TextPart(kind="text", content="c")},
        "owner": Owner(user_name="ann"),
    }
    instance = Session(
        id="s",
        title="t",
        created_at=created,
        kind="session",
        parts=[ToolPart(kind="tool", tool_name="x", arguments={"CamelKey": 1})],
        color=Color.GREEN,
        birthday=datetime.date(2000, 1, 1),
        pet=Dog(name="Rex", barks=1),
        tree=Node(name="r", children=[Node(name="c", children=[])]),
        parts_by_id={"someKey": TextPart(kind="text", content="c")},
        owner=Owner(user_name="ann"),
    )
    from_dict = ser.from_python(as_dict, Session, "request")
    assert from_dict == instance
    assert from_dict.color is Color.GREEN
    assert ser.from_python(instance, Session, "request") is instance
    assert ser.unstructure(from_dict)["partsById"] == {"someKey": {"kind": "text", "content": "c"}}


def test_instance_fields_are_validated_and_converted(ser: Serializer) -> None:
    given = Session(id="s", title=None, created_at="2024-01-02T00:00:00Z", kind="session", parts=[])  # type: ignore[arg-type]
    checked = ser.from_python(given, Session, "request")
    assert checked is not given
    assert checked.created_at == datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)
    bad = Session(
        id=1, title=None, created_at=datetime.datetime(2024, 1, 1), kind="session", parts=[]
    )  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError) as info:
        ser.from_python(bad, Session, "request")
    assert info.value.field == "request.id"


def test_input_scalars_enums_dates_literals(ser: Serializer) -> None:
    convert = ser.from_python
    assert convert("ultraviolet", Color, "c") == "ultraviolet"
    assert convert(Color.RED, Color, "c") is Color.RED
    assert convert("red", Color, "c") is Color.RED
    assert convert(3, float, "f") == 3
    assert convert((1, 2), list[int], "ids") == [1, 2]
    assert convert("2024-02-03", datetime.date, "d") == datetime.date(2024, 2, 3)
    now = datetime.datetime.now()
    assert convert(now, datetime.datetime, "t") is now
    assert convert("session", Literal["session"], "k") == "session"
    assert convert(UNSET, str | Unset, "s") is UNSET
    assert convert(None, str | None, "s") is None
    assert convert(1, str | int, "s") == 1
    assert type(convert("red", Color | str, "s")) is str
    assert convert(Color.RED, str | Color, "s") is Color.RED
    assert convert(Cat(name="c", meows=True), Dog | Cat, "pet") == Cat(name="c", meows=True)
    marker = object()
    assert convert(marker, Any, "anything") is marker


@pytest.mark.parametrize(
    ("value", "tp", "field", "problem"),
    [
        (123, str, "arg", "expected str, got int 123"),
        ("1", int, "arg", "expected int, got str '1'"),
        (True, int, "arg", "expected int, got bool True"),
        (True, float, "arg", "expected float, got bool True"),
        (1, bool, "arg", "expected bool, got int 1"),
        ("chat", Literal["session"], "arg", "expected 'session', got str 'chat'"),
        (1, Literal["session"], "arg", "expected 'session', got int 1"),
        (3, Color, "arg", "expected Color or its string value, got int 3"),
        (1700000000, datetime.datetime, "arg", "expected a datetime or an ISO 8601 string"),
        ("tomorrow", datetime.datetime, "arg", "not an ISO 8601 date-time"),
        (datetime.datetime(2024, 1, 1), datetime.date, "arg", "expected a date"),
        ({1, 2}, list[int], "arg", "expected a list or tuple, got set"),
        ([1, "2"], list[int], "arg[1]", "expected int, got str '2'"),
        ({"a": "1"}, dict[str, int], "arg['a']", "expected int, got str '1'"),
        ([("a", 1)], dict[str, int], "arg", "expected a dict, got list"),
        (None, str | Unset, "arg", "expected str, got None"),
        ([1], str | int, "arg", "does not fit str | int"),
        ("x" * 500, int, "arg", "expected int, got str"),
    ],
)
def test_input_type_errors(ser: Serializer, value: Any, tp: Any, field: str, problem: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        ser.from_python(value, tp, "arg")
    assert info.value.field == field
    assert problem in info.value.problem
    assert "x" * 100 not in str(info.value)


@pytest.mark.parametrize(
    ("patch", "field", "problem"),
    [
        ({"id": 1}, "request.id", "expected str, got int 1"),
        ({"parts": [{"kind": "text", "content": 5}]}, "request.parts[0].content", "expected str"),
        ({"parts": [{"kind": "video"}]}, "request.parts[0].kind", "unknown 'kind' value 'video'"),
        ({"parts": ["text"]}, "request.parts[0]", "expected one of TextPart | ToolPart or a dict"),
        ({"agentId": "a", "agent_id": "b"}, "request.agent_id", "as 'agentId' and 'agent_id'"),
        ({"agent_di": "a"}, "request.agent_di", "did you mean 'agent_id'?"),
        ({"pet": {"name": "x"}}, "request.pet", "does not fit Cat | Dog"),
        ({"pet": {"name": "x", "barks": "loud"}}, "request.pet", "at 'request.pet.barks'"),
        (
            {"tree": {"name": "r", "children": [{"name": 2, "children": []}]}},
            "request.tree.children[0].name",
            "expected str",
        ),
        (
            {"parts_by_id": {"k": {"kind": "text"}}},
            "request.parts_by_id['k']",
            "missing required field(s) of TextPart: 'content'",
        ),
        ({"metadata": "{}"}, "request.metadata", "expected a dict, got str"),
        ({"owner": 5}, "request.owner", "expected Owner or a dict, got int 5"),
    ],
)
def test_input_model_errors(
    ser: Serializer, patch: dict[str, Any], field: str, problem: str
) -> None:
    value = {
        "id": "s",
        "title": None,
        "created_at": "2024-01-01T00:00:00",
        "kind": "session",
        "parts": [],
    }
    value.update(patch)
    with pytest.raises(InvalidInputError) as info:
        ser.from_python(value, Session, "request")
    assert info.value.field == field
    assert problem in info.value.problem


def test_input_missing_required_fields_are_named(ser: Serializer) -> None:
    with pytest.raises(InvalidInputError) as info:
        ser.from_python({"id": "s"}, Session, "request")
    assert info.value.field == "request"
    assert info.value.problem == (
        "missing required field(s) of Session: 'title', 'created_at', 'kind', 'parts'"
    )


def test_input_tagged_union_without_tag_falls_back_to_first_fit(ser: Serializer) -> None:
    assert ser.from_python(
        {"kind": "tool", "tool_name": "t", "arguments": {}}, TextPart | ToolPart, "p"
    ) == ToolPart(kind="tool", tool_name="t", arguments={})
    with pytest.raises(InvalidInputError, match=r"does not fit TextPart \| ToolPart"):
        ser.from_python({"content": "c"}, TextPart | ToolPart, "p")


# ---------------------------------------------------------------------------
# JSON helpers and laziness


def test_dumps_is_compact_json_and_loads_accepts_bytes_and_str(ser: Serializer) -> None:
    part = ToolPart(kind="tool", tool_name="t", arguments={"é": [1, None]})
    encoded = ser.dumps(part)
    assert isinstance(encoded, bytes)
    assert encoded == '{"kind":"tool","toolName":"t","arguments":{"é":[1,null]}}'.encode()
    assert ser.loads(encoded) == ser.loads(encoded.decode()) == ser.unstructure(part)


def test_hooks_are_built_lazily_per_class() -> None:
    # Broken's annotation cannot be resolved: only structuring Broken itself may fail.
    fresh = make_serializer([PART_UNION])
    assert fresh.structure({"userName": "u"}, Owner) == Owner(user_name="u")
    with pytest.raises(NameError):
        fresh.structure({"missing": 1}, Broken)


# ---------------------------------------------------------------------------
# Property test: random instances survive unstructure -> structure


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_TIMEZONES = (
    st.none()
    | st.just(datetime.timezone.utc)
    | st.builds(
        lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes)),
        st.integers(-12 * 60, 14 * 60),
    )
)
_SCALAR_STRATEGIES: dict[Any, st.SearchStrategy[Any]] = {
    str: st.text(),
    int: st.integers(),
    float: st.floats(allow_nan=False, allow_infinity=False),
    bool: st.booleans(),
    type(None): st.none(),
    Unset: st.just(UNSET),
    Any: _JSON,
    datetime.datetime: st.datetimes(timezones=_TIMEZONES),
    datetime.date: st.dates(),
    Color: st.sampled_from(list(Color)) | st.text().map(Color),
}
_MODEL_STRATEGIES: dict[type, st.SearchStrategy[Any]] = {}


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    """Hypothesis strategy for values of a type used by the test models."""
    if tp in _SCALAR_STRATEGIES:
        return _SCALAR_STRATEGIES[tp]
    if attrs.has(tp):
        return model_strategy(tp)
    args = getattr(tp, "__args__", ())
    origin = getattr(tp, "__origin__", None)
    if origin is list:
        return st.lists(strategy_for(args[0]), max_size=2)
    if origin is dict:
        return st.dictionaries(st.text(), strategy_for(args[1]), max_size=2)
    if origin is Literal:
        return st.sampled_from(args)
    return st.one_of([strategy_for(arg) for arg in args])


def model_strategy(cls: type) -> st.SearchStrategy[Any]:
    if cls not in _MODEL_STRATEGIES:
        attrs.resolve_types(cls)

        def build() -> st.SearchStrategy[Any]:
            fields = {}
            for field in attrs.fields(cls):
                values = strategy_for(field.type)
                if field.default is UNSET:
                    values = st.just(UNSET) | values
                fields[field.name] = values
            return st.builds(cls, **fields)

        _MODEL_STRATEGIES[cls] = st.deferred(build)
    return _MODEL_STRATEGIES[cls]


@settings(max_examples=150, deadline=None)
@given(model_strategy(Session))
def test_property_structure_inverts_unstructure(session: Session) -> None:
    ser = PROPERTY_SERIALIZER
    wire = ser.unstructure(session)
    assert ser.structure(wire, Session) == session
    assert ser.structure(ser.loads(ser.dumps(session)), Session) == session
    assert ser.from_python(session, Session, "request") == session


PROPERTY_SERIALIZER = make_serializer([PART_UNION])


def test_generated_models_keep_attrs_behaviour() -> None:
    """Models with generator-written ``__init__`` still act like attrs classes."""
    import copy
    import pickle

    from flux0_async import converter
    from flux0_async import models as flux0_models

    agent = flux0_models.AgentCreationParamsDTO(name="x", type="echo")
    assert repr(agent) == "AgentCreationParamsDTO(description=UNSET, name='x', type='echo')"
    assert agent == flux0_models.AgentCreationParamsDTO(name="x", type="echo")
    assert agent != attrs.evolve(agent, name="y")
    assert pickle.loads(pickle.dumps(agent)) == agent == copy.deepcopy(agent)
    assert converter.unstructure(agent) == {"name": "x", "type": "echo"}
    with pytest.raises(TypeError):
        hash(agent)
    with pytest.raises(TypeError, match="name"):
        flux0_models.AgentCreationParamsDTO(type="echo")  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        agent.unknown = 1  # type: ignore[attr-defined]  # slots


# ---------------------------------------------------------------------------
# Wire: the generated structure functions keep cattrs' behaviour


class Shade(OpenEnum):
    NONE = ""
    DARK = "dark"


@attrs.define(slots=True, kw_only=True)
class Branch:
    name: str = attrs.field(metadata={"json": "name"})
    leaves: list[Leaf] | Unset = attrs.field(default=UNSET, metadata={"json": "leaves"})


@attrs.define(slots=True, kw_only=True)
class Leaf:
    shade: Shade | Unset = attrs.field(default=UNSET, metadata={"json": "shade"})
    branch: Branch | None | Unset = attrs.field(default=UNSET, metadata={"json": "branch"})  # noqa: RUF036


@attrs.define(slots=True, kw_only=True)
class Unusual:
    """Fields the generator never writes: defaults other than ``UNSET``."""

    tags: list[str] = attrs.field(factory=list, metadata={"json": "tags"})
    size: int = attrs.field(default=3, metadata={"json": "size"})
    extra: Any = attrs.field(default=UNSET, metadata={"json": "extra"})


@attrs.define(slots=True, kw_only=True)
class Converted:
    count: int = attrs.field(converter=int, metadata={"json": "count"})
    label: str = attrs.field(alias="name", metadata={"json": "label"})
    seen: bool = attrs.field(init=False, default=False, metadata={"json": "seen"})


class Text(str):
    """A ``str`` subclass: the wire converter takes it for ``str`` like cattrs did."""


LEAF_WIRE = {"shade": "dark", "branch": {"name": "b", "leaves": [{"shade": ""}, {}]}}


@pytest.mark.parametrize("first", [Branch, Leaf])
def test_mutually_recursive_models_from_either_side(first: type) -> None:
    fresh = make_serializer()
    fresh.structure({"name": "x"} if first is Branch else {}, first)
    leaf = fresh.structure(LEAF_WIRE, Leaf)
    assert leaf.shade is Shade.DARK
    assert isinstance(leaf.branch, Branch)
    assert leaf.branch.leaves == [Leaf(shade=Shade.NONE), Leaf()]
    assert fresh.unstructure(leaf) == LEAF_WIRE
    with pytest.raises(StructureError) as info:
        fresh.structure({"branch": {"name": "b", "leaves": [{"shade": 1}]}}, Leaf)
    assert info.value.errors == ["expected Shade (a string), got int 1 @ $.branch.leaves[0].shade"]


def test_lazy_building_is_thread_safe() -> None:
    from concurrent.futures import ThreadPoolExecutor

    fresh = make_serializer([PART_UNION])
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: fresh.structure(FULL_WIRE, Session), range(32)))
    assert all(fresh.unstructure(result) == FULL_WIRE for result in results)
    with ThreadPoolExecutor(8) as pool:
        leaves = list(pool.map(lambda _: make_serializer().structure(LEAF_WIRE, Leaf), range(8)))
    assert all(leaf.branch.leaves[0].shade is Shade.NONE for leaf in leaves)


def test_open_enum_values_known_unknown_and_wrong(ser: Serializer) -> None:
    assert ser.structure(session_wire(color="green"), Session).color is Color.GREEN
    mauve = ser.structure(session_wire(color="mauve"), Session).color
    assert isinstance(mauve, Color) and mauve.value == "mauve" and not mauve.is_known
    assert ser.structure({"shade": ""}, Leaf).shade is Shade.NONE
    with pytest.raises(
        StructureError, match=r"expected Color \(a string\), got list \['red'\] @ \$\.color"
    ):
        ser.structure(session_wire(color=["red"]), Session)


def test_values_that_are_not_plain_json_types(ser: Serializer) -> None:
    import types

    wire = types.MappingProxyType(session_wire(id=Text("s"), tags=(Text("a"),)))
    model = ser.structure(wire, Session)
    assert model.id == "s" and type(model.id) is Text
    assert model.tags == ["a"]
    assert ser.structure(session_wire(agentId=UNSET), Session).agent_id is UNSET
    with pytest.raises(StructureError, match=r"expected int, got bool False @ \$\.count"):
        ser.structure(session_wire(count=False), Session)


def test_models_with_other_defaults_converters_and_aliases(ser: Serializer) -> None:
    assert ser.structure({}, Unusual) == Unusual(tags=[], size=3, extra=UNSET)
    given_ = ser.structure({"tags": ["a"], "size": 5, "extra": None}, Unusual)
    assert given_ == Unusual(tags=["a"], size=5, extra=None)
    with pytest.raises(StructureError, match=r"expected int, got str '5' @ \$\.size"):
        ser.structure({"size": "5"}, Unusual)
    converted = ser.structure({"count": 2, "label": "x", "seen": True}, Converted)
    assert converted == Converted(count=2, name="x")  # cattrs skips init=False fields
    with pytest.raises(StructureError, match=r"required field missing @ \$\.label"):
        ser.structure({"count": 2}, Converted)


def test_hooks_registered_on_the_converter_are_honoured() -> None:
    fresh = make_serializer([PART_UNION])
    conv = fresh.converter
    conv.register_structure_hook(Owner, lambda value, _: Owner(user_name=value.upper()))
    conv.register_structure_hook(Color, lambda value, _: Color.GREEN)
    model = fresh.structure(session_wire(owner="ann", color="red"), Session)
    assert model.owner == Owner(user_name="ANN")
    assert model.color is Color.GREEN


# ---------------------------------------------------------------------------
# Either spelling in, nothing lost: models generated from an inline spec


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# Field names that shadow builtins and the names the compiled structure functions use.
SHADOWING = ("list", "dict", "len", "isinstance", "Mapping", "UNSET", "o", "res", "extra", "k", "v")
INLINE_SCHEMAS: dict[str, Any] = {
    "Doc": {
        "type": "object",
        "required": ["objectType"],
        "properties": {
            "objectType": {"type": "string"},
            "viewURL": {"type": "string"},
            "body": ref("Body"),
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "children": {"type": "array", "items": ref("Doc")},
            "type": {"type": "string"},
            "id": {"type": "integer"},
            **{name: {"type": "string"} for name in SHADOWING},
        },
    },
    "Body": {
        "type": "object",
        "properties": {"mimeType": {"type": "string"}, "textContent": {"type": "string"}},
    },
    "Counts": {
        "type": "object",
        "required": ["total"],
        "properties": {"total": {"type": "integer"}},
        "additionalProperties": {"type": "integer"},
    },
    "Bodies": {
        "type": "object",
        "properties": {"main": ref("Body")},
        "additionalProperties": ref("Body"),
    },
    "Closed": {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": False,
    },
    "Clash": {
        "type": "object",
        "properties": {
            "additional_properties": {"type": "string"},
            "additionalProperties": {"type": "integer"},
        },
    },
}


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The models module generated from ``INLINE_SCHEMAS`` (a package on ``sys.path``)."""
    import importlib
    import sys

    from shared.codegen.build import build
    from shared.codegen.emit_models import emit_models

    spec = {
        "openapi": "3.0.3",
        "info": {"title": "Inline", "version": "1"},
        "paths": {},
        "components": {"schemas": INLINE_SCHEMAS},
    }
    root = tmp_path_factory.mktemp("inline")
    package = root / "inline_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, text in emit_models(build(spec), "# generated for a test").items():
        (package / name).write_text(text)
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("inline_models.models")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("inline_models")]:
            del sys.modules[name]


@pytest.fixture
def iser() -> Serializer:
    return make_serializer()


def test_the_attribute_is_named_after_openapi_and_escaped_on_collision(gen: Any) -> None:
    from shared.codegen import ir
    from shared.codegen.build import build

    names = {f.name: f for f in attrs.fields(gen.Clash)}
    assert set(names) == {
        "additional_properties",
        "additional_properties_2",
        "additional_properties_",
    }
    assert names["additional_properties_"].metadata == {"additional_properties": True}
    assert serialization.additional_field(gen.Clash) is names["additional_properties_"]
    assert serialization.additional_field(gen.Doc).name == "additional_properties"
    spec = {"openapi": "3.0.3", "info": {}, "paths": {}, "components": {"schemas": INLINE_SCHEMAS}}
    decls = build(spec).decls
    models = {name: decl for name, decl in decls.items() if isinstance(decl, ir.Model)}
    assert models["Doc"].additional_name == "additional_properties"
    assert models["Clash"].additional_name == "additional_properties_"
    assert models["Counts"].additional == ir.Prim("int")
    assert models["Bodies"].additional == ir.Named("Body")
    assert models["Closed"].additional is None  # `false`: kept anyway, as any


def test_wire_spelling_is_accepted_recursively(gen: Any, iser: Serializer) -> None:
    wire = {
        "objectType": "doc",
        "viewURL": "https://x",
        "body": {"mimeType": "text/plain", "textContent": "hi"},
        "children": [{"objectType": "child", "body": {"mime_type": "text/html"}}],
        "labels": {"someKey": "a", "other_key": "b"},
    }
    python = {
        "object_type": "doc",
        "view_url": "https://x",
        "body": gen.Body(mime_type="text/plain", text_content="hi"),
        "children": [{"object_type": "child", "body": {"mimeType": "text/html"}}],
        "labels": {"someKey": "a", "other_key": "b"},
    }
    from_wire = iser.from_python(wire, gen.Doc, "document")
    assert from_wire == iser.from_python(python, gen.Doc, "document")
    assert from_wire.children[0].body.mime_type == "text/html"
    assert from_wire.labels == {"someKey": "a", "other_key": "b"}  # map keys as given
    assert iser.unstructure(from_wire) == {
        **wire,
        "children": [{"objectType": "child", "body": {"mimeType": "text/html"}}],
    }


@pytest.mark.parametrize(
    ("value", "field", "problem"),
    [
        (
            {"objectType": "a", "object_type": "b"},
            "d.object_type",
            "as 'objectType' and 'object_type'",
        ),
        (
            {"objectType": "a", "body": {"mimeType": "x", "mime_type": "y"}},
            "d.body.mime_type",
            "given twice",
        ),
        (
            {"objectType": "a", "children": [{"objectType": "b", "viewURL": "u", "view_url": "u"}]},
            "d.children[0].view_url",
            "given twice",
        ),
        ({"objecType": "a"}, "d.objecType", "did you mean 'objectType'?"),
        ({"objectType": "a", "view_ur": "u"}, "d.view_ur", "did you mean 'view_url'?"),
        ({"objectType": "a", "zzz": 1}, "d.zzz", "undeclared fields go in 'additional_properties'"),
        (
            {"objectType": "a", "additional_properties": {"viewURL": "u"}},
            "d.additional_properties['viewURL']",
            "'viewURL' is a declared field of Doc; pass it as 'view_url'",
        ),
        ({"objectType": "a", "additional_properties": [1]}, "d.additional_properties", "a dict"),
        (
            {"objectType": "a", "additional_properties": {1: 2}},
            "d.additional_properties[1]",
            "str key",
        ),
        ({"view_url": "u"}, "d", "missing required field(s) of Doc: 'object_type'"),
    ],
)
def test_spelling_errors_name_the_field(
    gen: Any, iser: Serializer, value: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        iser.from_python(value, gen.Doc, "d")
    assert info.value.field == field
    assert problem in info.value.problem


def test_request_models_take_extra_keys_only_through_the_attribute(
    gen: Any, iser: Serializer
) -> None:
    doc = gen.Doc(object_type="a", additional_properties={"brandNew": {"x": [1]}})
    checked = iser.from_python(doc, gen.Doc, "d")
    assert checked is doc
    assert iser.unstructure(checked) == {"objectType": "a", "brandNew": {"x": [1]}}
    as_dict = {"objectType": "a", "additional_properties": {"brandNew": {"x": [1]}}}
    assert iser.from_python(as_dict, gen.Doc, "d") == doc
    clash = gen.Doc(object_type="a", additional_properties={"objectType": "b"})
    with pytest.raises(InvalidInputError, match="declared field of Doc") as info:
        iser.from_python(clash, gen.Doc, "d")
    assert info.value.field == "d.additional_properties['objectType']"
    counts = iser.from_python({"total": 1, "additional_properties": {"x": 2}}, gen.Counts, "c")
    assert counts.additional_properties == {"x": 2}
    with pytest.raises(InvalidInputError, match="expected int") as info:
        iser.from_python({"total": 1, "additional_properties": {"x": "2"}}, gen.Counts, "c")
    assert info.value.field == "c.additional_properties['x']"


def test_undeclared_fields_are_kept_typed_and_written_back(gen: Any, iser: Serializer) -> None:
    wire = {"total": 3, "extraCount": 4, "more": 5}
    counts = iser.structure(wire, gen.Counts)
    assert counts.additional_properties == {"extraCount": 4, "more": 5}
    assert iser.unstructure(counts) == wire
    with pytest.raises(StructureError) as info:
        iser.structure({"total": 3, "bad": "x"}, gen.Counts)
    assert info.value.errors == ["expected int, got str 'x' @ $.bad"]
    bodies = iser.structure(
        {"main": {"mimeType": "a"}, "alt": {"textContent": "b", "z": 1}}, gen.Bodies
    )
    assert bodies.additional_properties["alt"] == gen.Body(
        text_content="b", additional_properties={"z": 1}
    )
    assert iser.unstructure(bodies) == {
        "main": {"mimeType": "a"},
        "alt": {"textContent": "b", "z": 1},
    }
    closed = iser.structure({"a": "x", "b": [1]}, gen.Closed)
    assert closed.additional_properties == {"b": [1]}  # `false`: the server is the truth
    clash = iser.structure(
        {"additional_properties": "s", "additionalProperties": 1, "n": 2}, gen.Clash
    )
    assert (clash.additional_properties, clash.additional_properties_2) == ("s", 1)
    assert clash.additional_properties_ == {"n": 2}


def test_compiled_functions_survive_fields_named_like_builtins_and_locals(
    gen: Any, iser: Serializer
) -> None:
    python_names = {str(f.metadata.get("json", f.name)): f.name for f in attrs.fields(gen.Doc)}
    assert python_names["list"] == "list" and python_names["o"] == "o"
    wire: dict[str, Any] = {name: f"value of {name}" for name in SHADOWING}
    wire.update({"objectType": "t", "type": "kind", "id": 7, "zExtra": {"n": None}})
    doc = iser.structure(wire, gen.Doc)
    got = [getattr(doc, python_names[name]) for name in SHADOWING]
    assert got == [f"value of {name}" for name in SHADOWING]
    assert (doc.type, doc.id, doc.additional_properties) == ("kind", 7, {"zExtra": {"n": None}})
    assert iser.unstructure(doc) == wire
    declared = {key: value for key, value in wire.items() if key != "zExtra"}
    given = iser.from_python(
        declared | {"additional_properties": {"zExtra": {"n": None}}}, gen.Doc, "d"
    )
    assert given == doc


def test_repr_eq_pickle_and_the_shared_empty_default(gen: Any, iser: Serializer) -> None:
    import copy
    import pickle

    from shared.models import NO_ADDITIONAL

    plain = gen.Body(mime_type="a")
    assert repr(plain) == "Body(mime_type='a', text_content=UNSET)"
    assert plain.additional_properties is NO_ADDITIONAL and plain.additional_properties == {}
    with pytest.raises(TypeError, match="assign a dict"):
        plain.additional_properties["x"] = 1
    extra = gen.Body(mime_type="a", additional_properties={"x": 1})
    assert repr(extra) == "Body(mime_type='a', text_content=UNSET, additional_properties={'x': 1})"
    assert extra != plain and gen.Body(mime_type="a", additional_properties={}) == plain
    for model in (plain, extra):
        assert pickle.loads(pickle.dumps(model)) == model == copy.deepcopy(model)
    assert pickle.loads(pickle.dumps(plain)).additional_properties is NO_ADDITIONAL
    plain.additional_properties = {"now": True}
    assert iser.unstructure(plain) == {"mimeType": "a", "now": True}


@attrs.define(slots=True, kw_only=True)
class Fallback:
    """A model cattrs' own functions structure (a converter), with undeclared fields."""

    count: int = attrs.field(converter=int, metadata={"json": "count"})
    extras: dict[str, int] = attrs.field(factory=dict, metadata={"additional_properties": True})


def test_models_left_to_cattrs_keep_undeclared_fields_too(iser: Serializer) -> None:
    model = iser.structure({"count": 2, "a": 1}, Fallback)
    assert model == Fallback(count=2, extras={"a": 1})
    assert iser.unstructure(model) == {"count": 2, "a": 1}
    assert iser.structure({"count": 2}, Fallback).extras == {}
    with pytest.raises(StructureError) as info:
        iser.structure({"count": 2, "a": "x"}, Fallback)
    assert info.value.errors == ["expected int, got str 'x' @ $.a"]


_NAMES = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=6)
_BODY_FIELDS = {"mime_type": "mimeType", "text_content": "textContent"}


@settings(max_examples=100, deadline=None)
@given(
    values=st.dictionaries(st.sampled_from(sorted(_BODY_FIELDS)), st.text(), min_size=1),
    wire_spelled=st.sets(st.sampled_from(sorted(_BODY_FIELDS))),
    extra=st.dictionaries(_NAMES.map(lambda n: f"x_{n}"), _JSON, max_size=3),
    nested=st.booleans(),
)
def test_property_any_mix_of_spellings_gives_the_same_model(
    gen: Any,
    values: dict[str, str],
    wire_spelled: set[str],
    extra: dict[str, Any],
    nested: bool,
) -> None:
    ser = PROPERTY_SERIALIZER
    expected = gen.Body(**values, additional_properties=extra)
    mixed = {(_BODY_FIELDS[k] if k in wire_spelled else k): v for k, v in values.items()}
    if extra:
        mixed["additional_properties"] = extra
    if nested:
        doc = ser.from_python({"objectType": "t", "body": mixed}, gen.Doc, "d")
        assert doc.body == expected
    else:
        assert ser.from_python(mixed, gen.Body, "b") == expected
    wire = ser.unstructure(expected)
    assert wire == {_BODY_FIELDS[k]: v for k, v in values.items()} | extra
    assert ser.structure(wire, gen.Body) == expected
    both = {**mixed, **{_BODY_FIELDS[k]: "w" for k in values}, **dict.fromkeys(values, "p")}
    with pytest.raises(InvalidInputError, match="given twice"):
        ser.from_python(both, gen.Body, "b")
