"""Request bodies: the caller's value checked against the spec and laid out for the wire.

:func:`prepare_body` turns the ``body`` argument of a call into a :class:`PreparedBody`
once, before the first attempt; :meth:`PreparedBody.open` gives aiohttp's ``data``
argument for each attempt, so a retry sends the same bytes again:

- ``json``: the value validated against the body model and encoded;
- ``form``: the wire value as ``application/x-www-form-urlencoded``;
- ``text`` / ``bytes``: the value as given (``bytes`` also takes a file, as below);
- ``multipart``: one text part per field, one file part per file (see
  :data:`shared.files.FileContent`); paths are opened per attempt and file objects
  rewound to where they started, so files are streamed, never read whole first.

A body holding a file object that cannot be rewound is not :attr:`PreparedBody.replayable`:
the caller sends it once, without retries.
"""

from __future__ import annotations

import copy
import functools
import io
import mimetypes
import os
import typing
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

import aiohttp
import attrs

from shared import params as wire_params
from shared.errors import InvalidInputError
from shared.models import ADDITIONAL
from shared.operation import Body, Param
from shared.unset import UNSET

if TYPE_CHECKING:
    from shared.files import FileContent
    from shared.serialization import Serializer

__all__ = ["PreparedBody", "prepare_body"]

_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


# --- parts ------------------------------------------------------------------------------


@attrs.frozen
class _FilePart:
    """One file to send; path contents are opened per attempt, file objects rewound."""

    name: str
    filename: str
    content_type: str
    content: bytes | IO[bytes] | os.PathLike[str]
    start: int | None = None  # where a file object's content starts (None: cannot rewind)

    @property
    def replayable(self) -> bool:
        return not _is_file_object(self.content) or self.start is not None

    def open(self, opened: list[IO[bytes]]) -> bytes | IO[bytes] | io.RawIOBase:
        """The content for one attempt; a file this opens goes into ``opened``."""
        content = self.content
        if isinstance(content, os.PathLike):
            handle = open(content, "rb")  # noqa: SIM115 - closed by the attempt
            opened.append(handle)
            return handle
        if isinstance(content, bytes):
            return content
        if self.start is not None:
            content.seek(self.start)
        return _Borrowed(content)


class _Borrowed(io.RawIOBase):
    """A caller's file seen through a view aiohttp may close: the file itself stays open."""

    def __init__(self, handle: IO[bytes]) -> None:
        super().__init__()
        self._handle = handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)

    def seekable(self) -> bool:
        return self._handle.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()


@attrs.frozen
class _TextPart:
    name: str
    text: str
    content_type: str | None = None


# --- the prepared body ------------------------------------------------------------------


@attrs.frozen
class PreparedBody:
    """A request body that can be laid out again for each attempt.

    ``content_type`` is the ``Content-Type`` header to send; it is ``None`` for multipart
    bodies, whose header (with its boundary) aiohttp writes.
    """

    content_type: str | None
    data: bytes | None = None
    stream: _FilePart | None = None
    parts: tuple[_TextPart | _FilePart, ...] | None = None

    @property
    def replayable(self) -> bool:
        """Whether every attempt can send the same bytes (file objects can be rewound)."""
        parts = (self.stream,) if self.stream is not None else self.parts or ()
        return all(part.replayable for part in parts if isinstance(part, _FilePart))

    def describe(self) -> str:
        """A short description for debug logs (never the content)."""
        if self.parts is not None:
            files = sum(1 for part in self.parts if isinstance(part, _FilePart))
            return f"multipart ({len(self.parts)} parts, {files} files)"
        if self.data is not None:
            return f"{self.content_type} {len(self.data)} bytes"
        return f"{self.content_type} stream"

    def open(self, opened: list[IO[bytes]]) -> Any:
        """The ``data`` argument for one attempt; files it opens go into ``opened``.

        The caller closes everything in ``opened`` once the attempt is over.
        """
        if self.stream is not None:
            return self.stream.open(opened)
        if self.parts is None:
            return self.data
        form = aiohttp.FormData(quote_fields=True)
        for part in self.parts:
            if isinstance(part, _TextPart):
                form.add_field(part.name, part.text, content_type=part.content_type)
            else:
                content = part.open(opened)
                form.add_field(
                    part.name, content, filename=part.filename, content_type=part.content_type
                )
        return form


def prepare_body(spec: Body | None, value: Any, serializer: Serializer) -> PreparedBody | None:
    """Check ``value`` against the operation's body ``spec`` and lay it out.

    ``None`` when the operation has no body or ``value`` is ``UNSET``; raises
    :class:`~shared.errors.InvalidInputError` when a required body is missing or the
    value does not fit.
    """
    if spec is None or value is UNSET:
        if spec is not None and spec.required:
            raise InvalidInputError("request", "a request body is required")
        return None
    if spec.kind == "multipart":
        return _multipart_body(spec, value, serializer)
    if spec.kind in ("text", "bytes"):
        return _raw_body(spec, value)
    if spec.type and not spec.defaults and spec.kind != "form":
        wire = serializer.to_wire(value, spec.type, "request")  # no model built in between
        content_type = spec.content_type if "json" in spec.content_type else "application/json"
        return PreparedBody(content_type, data=serializer.encode_json(wire))
    checked = serializer.from_python(value, spec.type, "request") if spec.type else value
    if spec.defaults:
        checked = _with_defaults(checked, spec.defaults)
    if spec.kind == "form":
        return _form_body(serializer.unstructure(checked), spec.content_type)
    content_type = spec.content_type if "json" in spec.content_type else "application/json"
    return PreparedBody(content_type, data=serializer.dumps(checked))


def _with_defaults(model: Any, defaults: Mapping[str, Any]) -> Any:
    """``model`` with the default of each field it leaves unset (a copy: never mutated)."""
    missing = {name: v for name, v in defaults.items() if getattr(model, name, None) is UNSET}
    if not missing:
        return model
    model = copy.copy(model)
    for name, value in missing.items():
        object.__setattr__(model, name, value)
    return model


# --- text, bytes and form bodies --------------------------------------------------------


def _raw_body(spec: Body, value: Any) -> PreparedBody:
    content_type = spec.content_type
    if isinstance(value, str):
        return PreparedBody(content_type, data=value.encode("utf-8"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return PreparedBody(content_type, data=bytes(value))
    if spec.kind == "bytes":
        stream = _file_content("request", value, "request", filename="request")
        return PreparedBody(content_type, stream=stream)
    raise InvalidInputError("request", f"expected str or bytes, got {type(value).__name__}")


def _form_body(wire: Any, content_type: str) -> PreparedBody:
    if not isinstance(wire, Mapping):
        raise InvalidInputError("request", "a form body must be an object")
    pairs = [
        pair
        for name, value in wire.items()
        for pair in wire_params.query_pairs(Param(name, name, "query", Any), value)
    ]
    data = wire_params.query_string(pairs).encode("ascii")
    return PreparedBody(content_type or _FORM_CONTENT_TYPE, data=data)


# --- multipart bodies -------------------------------------------------------------------


def _multipart_body(spec: Body, value: Any, serializer: Serializer) -> PreparedBody:
    """One part per field of ``value`` (a request model or a mapping of its fields).

    Undeclared fields (the model's ``additional_properties``) are one part each, named
    by their key.
    """
    fields = _field_types(spec.type) if attrs.has(spec.type) else {}
    value, extra = _field_mapping(value, spec.type)
    _check_required(fields, value)
    parts: list[_TextPart | _FilePart] = []
    for name, item in value.items():
        if fields and name not in fields:
            raise InvalidInputError(f"request.{name}", "is not a field of the request")
        if wire_params.is_omitted(item):
            continue
        field = f"request.{name}"
        if name in spec.file_fields:
            parts.extend(_file_parts(spec.file_fields[name], item, field))
        else:
            tp, wire_name, _ = fields.get(name, (Any, name, False))
            parts.extend(_text_parts(wire_name, item, tp, field, serializer))
    for key, item in extra.items():
        parts.extend(_text_parts(key, item, Any, f"request[{key!r}]", serializer))
    return PreparedBody(None, parts=tuple(parts))


def _field_mapping(value: Any, model: Any) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """``value`` as ``{py_name: value}`` and its undeclared fields.

    An attrs instance is read attribute by attribute; a mapping may use the Python or
    the wire name of each field (not both).
    """
    if attrs.has(type(value)):
        model = type(value)
        mapping = {field.name: getattr(value, field.name) for field in attrs.fields(model)}
    elif isinstance(value, Mapping):
        mapping = _by_python_name(value, _python_names(model) if attrs.has(model) else {})
    else:
        raise InvalidInputError("request", f"expected a mapping, got {type(value).__name__}")
    extra = _extra_name(model) if attrs.has(model) else None
    given = mapping.pop(extra, None) if extra else None
    if given is not None and not isinstance(given, Mapping):
        raise InvalidInputError(f"request.{extra}", f"expected a dict, got {type(given).__name__}")
    for key in given or ():
        if key in _python_names(model):
            problem = f"{key!r} is a declared field; pass it as {_python_names(model)[key]!r}"
            raise InvalidInputError(f"request.{extra}[{key!r}]", problem)
    return mapping, given or {}


def _by_python_name(value: Mapping[str, Any], python_names: Mapping[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in python_names.values() else python_names.get(key, key)
        if name in result:
            raise InvalidInputError(f"request.{name}", f"given twice (as {name!r} and {key!r})")
        result[name] = item
    return result


@functools.lru_cache(maxsize=256)
def _python_names(model: type) -> dict[str, str]:
    """wire name -> py_name of the declared fields of an attrs request model."""
    return {
        field.metadata.get("json", field.name): field.name
        for field in attrs.fields(model)
        if not field.metadata.get(ADDITIONAL)
    }


def _extra_name(model: type) -> str | None:
    found = [field.name for field in attrs.fields(model) if field.metadata.get(ADDITIONAL)]
    return found[0] if found else None


def _check_required(fields: Mapping[str, tuple[Any, str, bool]], value: Mapping[str, Any]) -> None:
    for name, (_, _, required) in fields.items():
        if required and wire_params.is_omitted(value.get(name)):
            raise InvalidInputError(f"request.{name}", "this field is required")


def _text_parts(
    wire_name: str, value: Any, tp: Any, field: str, serializer: Serializer
) -> list[_TextPart]:
    """A list of scalars is one part per item; an object or nested list is one JSON part."""
    wire = serializer.to_wire(value, tp, field)
    if isinstance(wire, (list, tuple)) and not any(
        isinstance(item, (Mapping, list, tuple)) for item in wire
    ):
        return [_TextPart(wire_name, wire_params.to_text(item)) for item in wire]
    if isinstance(wire, (Mapping, list, tuple)):
        return [_TextPart(wire_name, wire_params.to_text(wire), "application/json")]
    return [_TextPart(wire_name, wire_params.to_text(wire))]


@functools.lru_cache(maxsize=256)
def _field_types(model: type) -> dict[str, tuple[Any, str, bool]]:
    """py_name -> (type, wire name, required) of an attrs request model."""
    try:
        hints = typing.get_type_hints(model)
    except (NameError, TypeError):
        hints = {}
    return {
        field.name: (
            hints.get(field.name, Any),
            field.metadata.get("json", field.name),
            field.default is attrs.NOTHING,
        )
        for field in attrs.fields(model)
        if not field.metadata.get(ADDITIONAL)
    }


# --- file arguments ---------------------------------------------------------------------


def _file_parts(wire_name: str, value: Any, field: str) -> list[_FilePart]:
    """One part per file: a list (or a tuple not starting with a filename) holds several."""
    if isinstance(value, list) or (
        isinstance(value, tuple) and not (value and isinstance(value[0], str))
    ):
        return [
            _file_part(wire_name, item, f"{field}[{index}]") for index, item in enumerate(value)
        ]
    return [_file_part(wire_name, value, field)]


def _file_part(name: str, value: FileContent, field: str) -> _FilePart:
    """Normalise one file argument (see :data:`shared.files.FileContent`)."""
    if isinstance(value, tuple) and len(value) in (2, 3) and isinstance(value[0], str):
        content_type = value[2] if len(value) == 3 else None
        return _file_content(name, value[1], field, filename=value[0], content_type=content_type)
    return _file_content(name, value, field)


def _file_content(
    name: str,
    content: Any,
    field: str,
    *,
    filename: str | None = None,
    content_type: str | None = None,
) -> _FilePart:
    """The part for one file's content: bytes, text (with a filename), a path or a file."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        guessed = filename or name
        return _FilePart(name, guessed, content_type or _guess_type(guessed), bytes(content))
    if isinstance(content, str) and filename is not None:
        data = content.encode("utf-8")
        return _FilePart(name, filename, content_type or _guess_type(filename), data)
    if isinstance(content, os.PathLike):
        return _path_part(name, content, field, filename, content_type)
    if _is_file_object(content):
        return _file_object_part(name, content, field, filename, content_type)
    raise InvalidInputError(
        field,
        "expected bytes, a binary file object, an os.PathLike path or a "
        f"(filename, content[, content_type]) tuple, got {type(content).__name__}",
    )


def _path_part(
    name: str,
    path: os.PathLike[str],
    field: str,
    filename: str | None,
    content_type: str | None,
) -> _FilePart:
    text = os.fspath(path)
    if not isinstance(text, str) or not os.path.exists(text) or os.path.isdir(text):
        raise InvalidInputError(field, f"no such file: {text!r}")
    guessed = filename or os.path.basename(text)
    return _FilePart(name, guessed, content_type or _guess_type(guessed), path)


def _file_object_part(
    name: str, handle: Any, field: str, filename: str | None, content_type: str | None
) -> _FilePart:
    if isinstance(handle, io.TextIOBase):
        raise InvalidInputError(field, "file objects must be opened in binary mode ('rb')")
    guessed = filename or _file_object_name(handle) or name
    start = _start_position(handle)
    return _FilePart(name, guessed, content_type or _guess_type(guessed), handle, start)


def _is_file_object(value: Any) -> bool:
    return hasattr(value, "read") and not isinstance(value, (bytes, str))


def _file_object_name(handle: Any) -> str | None:
    name = getattr(handle, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else None


def _start_position(handle: Any) -> int | None:
    try:
        if handle.seekable():
            return int(handle.tell())
    except (AttributeError, OSError, ValueError):
        pass
    return None


def _guess_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
