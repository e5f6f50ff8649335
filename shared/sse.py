"""Incremental decoders for streamed response bodies: Server-Sent Events and NDJSON.

Both decoders take the body as it arrives, in chunks cut anywhere (even inside a UTF-8
sequence or between the CR and LF of a CRLF), and return the items completed so far.
:class:`SSEDecoder` follows the WHATWG HTML "event stream interpretation" rules;
:class:`NDJSONDecoder` reads one JSON value per line. Lines are cut by
:class:`LineSplitter`, which bounds how long a line may grow.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

import attrs

from shared import jsontext

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "Decoder",
    "LineDecoder",
    "LineSplitter",
    "NDJSONDecoder",
    "SSEDecoder",
    "ServerSentEvent",
    "parse_json_line",
]

DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_ERROR_LINE_CHARS = 500
_BLANK = " \t\n\r\x0b\x0c"  # what bytes.strip() strips: a blank line holds only these

T = TypeVar("T")


def _pick_json_loads() -> Callable[[str], Any]:
    """Return ``orjson.loads`` when orjson is installed, else the standard library's."""
    try:
        orjson = importlib.import_module("orjson")
    except ImportError:
        return jsontext.loads_text
    return cast("Callable[[str], Any]", orjson.loads)


json_loads = _pick_json_loads()


class Decoder(Protocol[T]):
    """Turns body chunks into items; :meth:`flush` returns what is left at end of body."""

    def feed(self, chunk: bytes) -> list[T]:
        """Take the next chunk of the body; return the items it completed."""
        ...

    def flush(self) -> list[T]:
        """Signal the end of the body; return the items still pending."""
        ...


@attrs.frozen
class ServerSentEvent:
    """One dispatched Server-Sent Event.

    ``id`` is the stream's last event id when the event was dispatched: it persists from
    earlier events until an ``id`` field changes it (``None`` while none was ever given).
    ``retry`` is the reconnection time in milliseconds when this event carried a valid
    ``retry`` field.
    """

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """Parse ``data`` as JSON."""
        return json_loads(self.data)


class LineSplitter:
    """Cuts a byte stream into lines ended by CR, LF or CRLF.

    A CRLF split across two chunks ends one line, not two. Returned lines do not include
    their line end. A line longer than ``max_line_bytes`` raises ``ValueError``, so a
    body without line ends cannot grow the buffer without bound.
    """

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if max_line_bytes <= 0:
            raise ValueError("max_line_bytes must be positive")
        self.max_line_bytes = max_line_bytes
        self._buffer = bytearray()
        self._skip_lf = False  # the previous chunk ended with CR: a leading LF is its pair

    def feed(self, chunk: bytes) -> list[bytes]:
        """Take the next chunk; return the lines it completed."""
        block = self.take(chunk)
        return [] if block is None else self._split(block)

    def take(self, chunk: bytes) -> bytes | None:
        """Take the next chunk; return the lines it completed as one block, each still
        ended by its CR, LF or CRLF (``None`` when it completed none).

        Every line of the block is within ``max_line_bytes``.
        """
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            self._buffer += chunk
            self._check_length(len(self._buffer))
            return None
        rest = chunk[end + 1 :]
        block = chunk[: end + 1] if rest else chunk
        if self._buffer:
            block = bytes(self._buffer) + block
        self._buffer = bytearray(rest)
        self._check_length(len(rest))
        self._skip_lf = not self._buffer and block.endswith(b"\r")
        if len(block) > self.max_line_bytes:
            self._split(block)  # a line may be too long: checked line by line
        return block

    def flush(self) -> list[bytes]:
        """Signal end of input; return the last line when it had no line end."""
        self._skip_lf = False
        if not self._buffer:
            return []
        line = bytes(self._buffer)
        self._buffer.clear()
        return [line]

    def _split(self, text: bytes) -> list[bytes]:
        """Split ``text``, which ends with a line end, into its lines."""
        if b"\r" in text:
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = text.split(b"\n")
        lines.pop()  # the empty piece after the final line end
        self._check_length(max(map(len, lines)))
        return lines

    def _check_length(self, length: int) -> None:
        if length > self.max_line_bytes:
            raise ValueError(f"line longer than {self.max_line_bytes} bytes")


class SSEDecoder:
    """Incremental ``text/event-stream`` decoder following the WHATWG rules.

    One leading UTF-8 BOM is dropped, text is decoded as UTF-8 with replacement, an
    event is dispatched at a blank line only when it has data, and an event still open
    at end of body is discarded.
    """

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._lines = LineSplitter(max_line_bytes)
        self._at_start = True
        self._data: list[str] = []
        self._event = ""
        self._retry: int | None = None
        self._id_buffer: str | None = None
        self._last_event_id: str | None = None
        self._reconnection_time: int | None = None

    @property
    def last_event_id(self) -> str | None:
        """The id to resume from: set at each blank line from the latest ``id`` field."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The latest valid ``retry`` value in milliseconds, ``None`` if none was seen."""
        return self._reconnection_time

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Take the next chunk of the body; return the events it completed."""
        block = self._lines.take(chunk)
        if block is None:
            return []
        return self._process_lines(_text_lines(self._strip_bom(block)))

    def flush(self) -> list[ServerSentEvent]:
        """End of body: an event without its closing blank line is discarded."""
        self._lines.flush()
        self._reset_event()
        return []

    def _strip_bom(self, block: bytes) -> bytes:
        if self._at_start:
            self._at_start = False
            if block.startswith(_UTF8_BOM):
                return block[len(_UTF8_BOM) :]
        return block

    def _process_lines(self, lines: list[str]) -> list[ServerSentEvent]:
        """Apply each line of a block to the event being built; return the dispatched ones.

        One loop over the lines with the event's fields in locals: the per-line cost is
        what a stream of small events pays most.
        """
        events: list[ServerSentEvent] = []
        data, event, retry, id_buffer = self._data, self._event, self._retry, self._id_buffer
        for line in lines:
            if not line:  # a blank line dispatches the event (when it has data)
                self._last_event_id = id_buffer
                if data:
                    text = data[0] if len(data) == 1 else "\n".join(data)
                    events.append(ServerSentEvent(event or "message", text, id_buffer, retry))
                    data = []
                event, retry = "", None
                continue
            name, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif not name:
                continue  # a comment
            elif name == "event":
                event = value
            elif name == "id":
                if "\0" not in value:
                    id_buffer = value
            elif name == "retry" and value.isascii() and value.isdigit():
                retry = self._reconnection_time = int(value)
        self._data, self._event, self._retry, self._id_buffer = data, event, retry, id_buffer
        return events

    def _reset_event(self) -> None:
        self._data = []
        self._event = ""
        self._retry = None


class LineDecoder:
    """Incremental text lines of a body: CR/LF/CRLF line ends, a leading BOM stripped,
    blank lines skipped; the last line counts even without a line end."""

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._lines = LineSplitter(max_line_bytes)
        self._at_start = True

    def feed(self, chunk: bytes) -> list[str]:
        """Take the next chunk of the body; return the lines it completed."""
        block = self._lines.take(chunk)
        if block is None:
            return []
        return [line for line in _text_lines(self._strip_bom(block)) if line.strip(_BLANK)]

    def flush(self) -> list[str]:
        """End of body: return a last line that had no line end."""
        texts = []
        for line in self._lines.flush():
            line = self._strip_bom(line)
            if line.strip():
                texts.append(line.decode("utf-8", "replace"))
        return texts

    def _strip_bom(self, block: bytes) -> bytes:
        if self._at_start:
            self._at_start = False
            if block.startswith(_UTF8_BOM):
                return block[len(_UTF8_BOM) :]
        return block


def _text_lines(block: bytes) -> list[str]:
    """The lines of a block of whole lines (each ended by CR, LF or CRLF), decoded.

    The block is decoded at once: a line end is ASCII, never inside a UTF-8 sequence, so
    this is each line decoded on its own, joined.
    """
    text = block.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    lines.pop()  # the empty piece after the final line end
    return lines


class NDJSONDecoder:
    """Incremental newline-delimited JSON decoder: one JSON value per line.

    Blank lines are skipped; the last line counts even without a trailing newline. A
    line that is not JSON raises ``ValueError`` quoting (the start of) the line. (The
    SDK's streams decode lines with :class:`LineDecoder` and parse each one as it is
    handed out, so values before a bad line are never lost.)
    """

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._lines = LineDecoder(max_line_bytes)

    def feed(self, chunk: bytes) -> list[Any]:
        """Take the next chunk of the body; return the values it completed."""
        return [parse_json_line(line) for line in self._lines.feed(chunk)]

    def flush(self) -> list[Any]:
        """End of body: return the value on a last line that had no newline."""
        return [parse_json_line(line) for line in self._lines.flush()]


def parse_json_line(text: str) -> Any:
    """One NDJSON line's value; ``ValueError`` quoting (the start of) a bad line."""
    try:
        return json_loads(text)
    except ValueError as exc:
        shown = text if len(text) <= _ERROR_LINE_CHARS else text[:_ERROR_LINE_CHARS] + "..."
        raise ValueError(f"invalid JSON line in NDJSON stream: {shown!r}") from exc
