"""SSE and NDJSON decoding: the WHATWG event-stream rules, chunking, recorded streams."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.sse import (
    Decoder,
    LineSplitter,
    NDJSONDecoder,
    ServerSentEvent,
    SSEDecoder,
)
from tests.data import FLUX0_FIXTURES

FIXTURES = FLUX0_FIXTURES


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    """Feed ``chunks`` to a fresh SSE decoder, then end the stream."""
    decoder = SSEDecoder()
    return feed_all(decoder, chunks)


def feed_all(decoder: Decoder[Any], chunks: Any) -> list[Any]:
    items: list[Any] = []
    for chunk in chunks:
        items.extend(decoder.feed(chunk))
    items.extend(decoder.flush())
    return items


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def datas(events: list[ServerSentEvent]) -> list[str]:
    return [event.data for event in events]


# --- WHATWG rules, one test each ---------------------------------------------------


def test_leading_bom_is_stripped_once() -> None:
    # WPT format-bom: a second BOM is part of the field name, so that field is unknown
    stream = "\ufeffdata:1\n\n\ufeffdata:2\n\ndata:3\n\n".encode()
    assert datas(decode(stream)) == ["1", "3"]


def test_only_one_leading_bom_is_stripped() -> None:
    # WPT format-bom-2
    stream = "\ufeff\ufeffdata:1\n\ndata:2\n\ndata:3\n\n".encode()
    assert datas(decode(stream)) == ["2", "3"]


def test_bom_split_across_chunks_is_stripped() -> None:
    assert datas(decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n")) == ["x"]


def test_lf_line_ends() -> None:
    assert datas(decode(b"data: a\ndata: b\n\n")) == ["a\nb"]


def test_cr_line_ends() -> None:
    assert datas(decode(b"data: a\rdata: b\r\rdata: c\r\r")) == ["a\nb", "c"]


def test_crlf_line_ends() -> None:
    # WPT format-newlines
    assert datas(decode(b"data:test\r\ndata\ndata:test\r\n\r\n")) == ["test\n\ntest"]


def test_crlf_split_across_chunks_ends_one_line() -> None:
    # were the LF counted again, "data: a" would be dispatched before "data: b"
    events = decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")
    assert datas(events) == ["a\nb"]


def test_cr_then_lf_in_next_chunk_after_a_blank_line() -> None:
    events = decode(b"data: a\r\r", b"\ndata: b\r\n\r\n")
    assert datas(events) == ["a", "b"]


def test_multiline_data_joined_with_newline() -> None:
    assert datas(decode(b"data: one\ndata: two\ndata: three\n\n")) == ["one\ntwo\nthree"]


def test_empty_data_lines_are_kept() -> None:
    # WPT format-field-data
    events = decode(b"data:\n\ndata\ndata\n\ndata:test\n\n")
    assert datas(events) == ["", "\n", "test"]


def test_comment_lines_are_ignored() -> None:
    # WPT format-comments
    long_comment = "x" * 2049
    stream = (
        "data:1\r:\0\n:\r\ndata:2\n:" + long_comment + "\rdata:3\n:data:fail\r:"
        "" + long_comment + "\ndata:4\n\n"
    )
    assert datas(decode(stream.encode())) == ["1\n2\n3\n4"]


def test_comment_only_block_dispatches_nothing() -> None:
    assert decode(b": keep-alive\n\n:\n\n") == []


def test_field_without_colon_has_empty_value() -> None:
    events = decode(b"data\n\nevent\ndata: x\n\n")
    assert events == [ServerSentEvent(data=""), ServerSentEvent(event="message", data="x")]


def test_exactly_one_space_is_stripped_after_colon() -> None:
    events = decode(b"data:   two spaces left\n\ndata:no space\n\ndata:\ttab kept\n\n")
    assert datas(events) == ["  two spaces left", "no space", "\ttab kept"]


def test_colon_in_value_is_kept() -> None:
    assert datas(decode(b"data: a: b:c\n\n")) == ["a: b:c"]


def test_event_name_sets_type_and_resets_after_dispatch() -> None:
    # WPT format-field-event
    events = decode(b"event:test\ndata:x\n\ndata:x\n\n")
    assert [event.event for event in events] == ["test", "message"]


def test_empty_event_name_means_message() -> None:
    # WPT format-field-event-empty
    assert decode(b"event: \ndata:data\n\n")[0].event == "message"


def test_id_persists_across_events() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n")
    assert [event.id for event in events] == ["1", "1", "2", ""]
    assert decoder.last_event_id == ""


def test_no_id_means_none() -> None:
    assert decode(b"data: a\n\n")[0].id is None


def test_id_containing_nul_is_ignored() -> None:
    # WPT format-field-id-null
    events = decode(b"id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n")
    assert [event.id for event in events] == ["1", "1"]


def test_retry_only_when_all_ascii_digits() -> None:
    # WPT format-field-retry-bogus / -empty
    decoder = SSEDecoder()
    stream = (
        "retry: 3000\ndata: a\n\n"
        "retry: 1000x\ndata: b\n\n"
        "retry\ndata: c\n\n"
        "retry: \u0661\u0662\ndata: d\n\n"  # Arabic-Indic digits
        "retry: -5\ndata: e\n\n"
    )
    events = decoder.feed(stream.encode())
    assert [event.retry for event in events] == [3000, None, None, None, None]
    assert decoder.retry == 3000


def test_blank_line_without_data_dispatches_nothing_but_updates_id() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 7\n\n") == []
    assert decoder.last_event_id == "7"
    assert decoder.feed(b"event: ping\nretry: 10\n\ndata: x\n\n") == [
        ServerSentEvent(event="message", data="x", id="7", retry=None)
    ]


def test_incomplete_event_at_eof_is_discarded() -> None:
    # WPT format-data-before-final-empty-line
    decoder = SSEDecoder()
    events = decoder.feed(b"retry:1000\ndata:test1\n\nid:test\ndata:test2")
    assert datas(events) == ["test1"]
    assert decoder.flush() == []
    assert decoder.last_event_id is None


def test_event_ended_by_single_newline_at_eof_is_discarded() -> None:
    assert decode(b"data: a\n\ndata: b\n") == [ServerSentEvent(data="a")]


def test_unknown_fields_are_ignored() -> None:
    # WPT format-field-unknown
    stream = b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n"
    assert datas(decode(stream)) == ["test\n\ntest"]


def test_field_names_are_case_sensitive() -> None:
    assert decode(b"Data: x\nDATA: y\n\n") == []


def test_unicode_line_separators_are_not_line_ends() -> None:
    stream = "data: a\u2028b\u0085c\u000bd\u000ce\n\n".encode()
    assert datas(decode(stream)) == ["a\u2028b\u0085c\u000bd\u000ce"]


def test_nul_in_data_is_kept() -> None:
    # WPT format-null-character
    assert datas(decode(b"data:\0\n\n")) == ["\0"]


def test_invalid_utf8_is_replaced() -> None:
    assert datas(decode(b"data: a\xffb\xe2\x82\n\n")) == ["a\ufffdb\ufffd"]


def test_multibyte_character_split_across_chunks() -> None:
    stream = "data: h\u00e9\u20ac\U0001f600\n\n".encode()
    assert datas(feed_all(SSEDecoder(), one_byte_at_a_time(stream))) == ["h\u00e9\u20ac\U0001f600"]


def test_json_helper() -> None:
    assert ServerSentEvent(data='{"a": [1, 2]}').json() == {"a": [1, 2]}


# --- the property: chunking never changes the result -------------------------------

FIELD_TEXT = st.text(alphabet=st.characters(exclude_characters="\r\n", codec="utf-8"))
LINE_ENDS = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def event_streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    """A serialized event stream and the events it must decode to."""
    text = "\ufeff" if draw(st.booleans()) else ""
    expected = []
    last_id: str | None = None
    for _ in range(draw(st.integers(0, 6))):
        comment = draw(st.none() | FIELD_TEXT)
        event = draw(st.none() | FIELD_TEXT)
        id_ = draw(st.none() | FIELD_TEXT.filter(lambda s: "\0" not in s))
        retry = draw(st.none() | st.integers(0, 10**6))
        data = draw(st.lists(FIELD_TEXT, max_size=3))
        lines = [] if comment is None else [":" + comment]
        if event is not None:
            lines.append("event: " + event)
        if id_ is not None:
            lines.append("id: " + id_)
            last_id = id_
        if retry is not None:
            lines.append(f"retry: {retry}")
        lines.extend("data: " + value for value in data)
        lines.append("")
        for line in lines:
            end = draw(LINE_ENDS)
            if not line and text.endswith("\r") and end == "\n":
                end = "\r"  # a lone LF here would pair with the CR before it
            text += line + end
        if data:
            expected.append(
                ServerSentEvent(
                    event=event or "message", data="\n".join(data), id=last_id, retry=retry
                )
            )
    return text.encode(), expected


@settings(max_examples=300, deadline=None)
@given(stream=event_streams(), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_random_chunking_gives_the_same_events(
    stream: tuple[bytes, list[ServerSentEvent]], cuts: list[int]
) -> None:
    data, expected = stream
    assert decode(data) == expected
    assert feed_all(SSEDecoder(), split_at(data, cuts)) == expected


# --- recorded flux0 streams --------------------------------------------------------

RECORDED = {
    "echo.sse": ["status", "status"] + ["chunk"] * 6,
    "echo_crash.sse": ["status", "status", "chunk", "chunk"],
    "echo_fail.sse": ["status", "status", "chunk", "chunk", "status"],
    "echo_think.sse": ["status"] + ["chunk"] * 9 + ["status"] + ["chunk"] * 6,
    "echo_tool.sse": ["status"] + ["chunk"] * 4 + ["status"] + ["chunk"] * 7,
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_stream_whole_and_byte_by_byte(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    whole = decode(data)
    assert whole == feed_all(SSEDecoder(), one_byte_at_a_time(data))
    assert [event.event for event in whole] == RECORDED[name]
    for event in whole:
        payload = event.json()
        assert isinstance(payload, dict)
        if event.event == "status":
            assert event.id == payload["id"]
        else:
            assert "patches" in payload


def test_recorded_chunk_events_carry_the_persisted_status_id() -> None:
    events = decode((FIXTURES / "echo.sse").read_bytes())
    status_id = events[0].id
    assert status_id is not None
    assert {event.id for event in events} == {status_id}


# --- LineSplitter ------------------------------------------------------------------


def test_line_splitter_line_ends_and_flush() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\nb\r\nc\rd") == [b"a", b"b", b"c"]
    assert splitter.feed(b"e\r") == [b"de"]
    assert splitter.feed(b"\nf") == []
    assert splitter.flush() == [b"f"]
    assert splitter.flush() == []


def test_line_splitter_cr_then_cr_is_two_lines() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\r") == [b"a"]
    assert splitter.feed(b"\r\n") == [b""]
    assert splitter.feed(b"\n") == [b""]


def test_line_splitter_empty_chunk_keeps_pending_cr() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\r") == [b"a"]
    assert splitter.feed(b"") == []
    assert splitter.feed(b"\nb\n") == [b"b"]


def test_line_splitter_rejects_a_line_over_the_limit_across_chunks() -> None:
    splitter = LineSplitter(max_line_bytes=10)
    assert splitter.feed(b"0123456789\n01234") == [b"0123456789"]
    with pytest.raises(ValueError, match="longer than 10 bytes"):
        splitter.feed(b"567890")


def test_line_splitter_rejects_a_long_line_in_one_chunk() -> None:
    with pytest.raises(ValueError, match="longer than 10 bytes"):
        LineSplitter(max_line_bytes=10).feed(b"short\n" + b"x" * 11 + b"\n")


def test_line_splitter_one_mib_line_in_many_chunks() -> None:
    splitter = LineSplitter(max_line_bytes=2 * 1024 * 1024)
    line = bytes(range(32, 127)) * (1024 * 1024 // 95 + 1)
    lines = []
    for start in range(0, len(line), 1000):
        lines.extend(splitter.feed(line[start : start + 1000]))
    assert lines == []
    assert splitter.feed(b"\r\ntail\n") == [line, b"tail"]


def test_sse_decoder_applies_the_line_limit() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(max_line_bytes=100).feed(b"data: " + b"x" * 200)


# --- NDJSON ------------------------------------------------------------------------


def test_ndjson_values_split_across_chunks() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a": 1}\n{"b"') == [{"a": 1}]
    assert decoder.feed(b': [1, 2]}\n"\xe2\x82') == [{"b": [1, 2]}]
    assert decoder.feed(b'\xac"\n') == ["\u20ac"]
    assert decoder.flush() == []


def test_ndjson_last_line_without_newline_is_a_value() -> None:
    assert feed_all(NDJSONDecoder(), [b"1\n2\r\n3"]) == [1, 2, 3]


def test_ndjson_blank_lines_are_skipped() -> None:
    assert feed_all(NDJSONDecoder(), [b"\n  \n1\n\t\n\r\n2\n \n"]) == [1, 2]


def test_ndjson_leading_bom_is_stripped() -> None:
    assert feed_all(NDJSONDecoder(), [b"\xef\xbb", b'\xbf{"x": null}\n']) == [{"x": None}]


def test_ndjson_bad_line_raises_with_the_line() -> None:
    decoder = NDJSONDecoder()
    with pytest.raises(ValueError, match="not json at all"):
        decoder.feed(b'{"ok": true}\nnot json at all\n')


def test_ndjson_bad_line_in_message_is_truncated() -> None:
    with pytest.raises(ValueError) as info:
        feed_all(NDJSONDecoder(), [b"{" + b"y" * 5000])
    message = str(info.value)
    assert "{yyy" in message
    assert len(message) < 700


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=8,
    ),
    line_end=st.sampled_from([b"\n", b"\r\n"]),
    final_newline=st.booleans(),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_ndjson_random_chunking(
    values: list[Any], line_end: bytes, final_newline: bool, cuts: list[int]
) -> None:
    lines = [json.dumps(value, ensure_ascii=False).encode() for value in values]
    data = line_end.join(lines) + (line_end if final_newline and lines else b"")
    assert feed_all(NDJSONDecoder(), [data]) == values
    assert feed_all(NDJSONDecoder(), split_at(data, cuts)) == values


# --- the decoders against a line-by-line reference -----------------------------------
# The decoders work on blocks of whole lines (decoded at once, fields kept in locals);
# these references apply the same rules one line at a time to the whole body.


def reference_lines(body: bytes) -> tuple[list[bytes], bytes]:
    """The body's complete lines (CR, LF or CRLF ended) and what follows the last one."""
    lines: list[bytes] = []
    start = index = 0
    while index < len(body):
        byte = body[index : index + 1]
        if byte in (b"\r", b"\n"):
            lines.append(body[start:index])
            index += 2 if body[index : index + 2] == b"\r\n" else 1
            start = index
        else:
            index += 1
    return lines, body[start:]


def reference_sse(body: bytes) -> list[ServerSentEvent]:
    lines, _rest = reference_lines(body)
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    events: list[ServerSentEvent] = []
    data: list[str] = []
    event, event_id, retry = "", None, None
    for raw in lines:
        line = raw.decode("utf-8", "replace")
        if not line:
            if data:
                events.append(ServerSentEvent(event or "message", "\n".join(data), event_id, retry))
            data, event, retry = [], "", None
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            retry = int(value)
    return events


def reference_text_lines(body: bytes) -> list[str]:
    lines, rest = reference_lines(body)
    if rest:
        lines.append(rest)
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    return [line.decode("utf-8", "replace") for line in lines if line.strip()]


WIRE_PIECES = st.sampled_from(
    [
        b"data",
        b"data:",
        b"data: ",
        b"event:",
        b"event: x",
        b"id:",
        b"id: 7",
        b"id\x00",
        b"retry:",
        b"retry: 15",
        b"retry: 1x",
        b":",
        b" ",
        b"\n",
        b"\r",
        b"\r\n",
        b"\n\n",
        b"\xef\xbb\xbf",
        b"\xe2\x82",  # a cut euro sign
        b"\xac",
        b"\xff",
        b"\xc3\xa9",
        b"\x0b\x0c\t",
        b"{}",
        "\u2028".encode(),
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(WIRE_PIECES | st.binary(max_size=4), max_size=40),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_decoders_match_the_line_by_line_reference(pieces: list[bytes], cuts: list[int]) -> None:
    from shared.sse import LineDecoder

    body = b"".join(pieces)
    expected = reference_sse(body)
    assert feed_all(SSEDecoder(), split_at(body, cuts)) == expected
    assert feed_all(SSEDecoder(), one_byte_at_a_time(body)) == expected
    lines = reference_text_lines(body)
    assert feed_all(LineDecoder(), split_at(body, cuts)) == lines
    assert feed_all(LineDecoder(), [body]) == lines


def test_a_long_line_inside_a_block_of_whole_lines_is_refused() -> None:
    decoder = SSEDecoder(max_line_bytes=8)
    assert decoder.feed(b"data:1\n\n") == [ServerSentEvent(data="1")]
    with pytest.raises(ValueError, match="longer than 8 bytes"):
        decoder.feed(b"data:123456789\n\n")
