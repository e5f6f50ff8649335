"""Conversion between the generated attrs models, wire JSON and user input, on cattrs.

:class:`Serializer` holds two converters that share the model conventions of
``ARCHITECTURE.md``:

* ``converter``, a :class:`cattrs.Converter` for the wire format: JSON names from
  ``field.metadata["json"]``, unset fields omitted, strict primitives, ISO 8601
  dates, open enums and unions (discriminated or "first branch that fits"); keys a
  model does not declare go to its ``additional_properties`` attribute (see
  :func:`additional_field`) and are written back after the declared ones;
* :meth:`Serializer.from_python`, a strict validator for request arguments given as
  model instances or dicts keyed by the Python attribute names or the wire names
  (not both for one field); undeclared keys only inside ``additional_properties``.

Hooks are built lazily, per type, on first use; nothing is built at import time. Each
model is structured by a function generated for it (:class:`_StructureCompiler`); when
that fails, cattrs' detailed validation re-runs to explain the error.
"""

from __future__ import annotations

import datetime as dt
import difflib
import dis
import enum
import importlib
import json
import keyword
import os
import re
import sys
import threading
import types
import typing
from collections.abc import (
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    MutableSequence,
    Sequence,
)
from typing import Any, Literal, TypeAlias, Union

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn_from_attrs, override

from shared import gcpause, jsontext
from shared.enums import OpenEnum
from shared.errors import InvalidInputError
from shared.models import ADDITIONAL
from shared.pysource import Source
from shared.shapes import ShapeField, by_key_order, shape_table
from shared.unset import UNSET, Unset
from shared.wirefast import WireField, write_mapping


def _optional_module(name: str) -> Any:
    """Import ``name`` if it is installed (optional speedups), else ``None``."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_orjson: Any = _optional_module("orjson")

__all__ = [
    "ADDITIONAL",
    "ModelValidationError",
    "SequenceValidationError",
    "Serializer",
    "StructureError",
    "UnionInfo",
    "UnionValidationError",
    "additional_field",
    "describe_error",
    "format_datetime",
    "make_serializer",
    "parse_date",
    "parse_datetime",
    "wire_names",
]

StructureHook = Callable[[Any, Any], Any]
UnstructureHook = Callable[[Any], Any]
InputHook = Callable[[Any, str], Any]

_NONE_TYPE = type(None)
_SCALARS = (str, int, float, bool)
_LIST_ORIGINS = (list, Sequence, MutableSequence)
_DICT_ORIGINS = (dict, Mapping, MutableMapping)
_PLAIN: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), float: (float, int), bool: (bool,)}
_SHORT_REPR = 40
_MAX_LISTED_ERRORS = 10


@attrs.frozen
class UnionInfo:
    """A discriminated union: ``mapping`` sends each ``discriminator`` value to a model."""

    type: Any
    discriminator: str
    mapping: Mapping[str, Any]


# ---------------------------------------------------------------------------
# Errors


class StructureError(ValueError):
    """Wire data does not fit the expected type; ``errors`` lists ``problem @ $.path``."""

    def __init__(self, type_name: str, errors: list[str]) -> None:
        super().__init__(f"invalid data for {type_name}: {_join_errors(errors)}")
        self.errors = errors


class ModelValidationError(ClassValidationError):
    """Wire data does not fit a model; ``str()`` lists every problem with its JSON path."""

    def __str__(self) -> str:
        return f"invalid {_type_name(self.cl)}: {_join_errors(describe_error(self))}"


class SequenceValidationError(IterableValidationError):
    """Wire data does not fit a list or map; ``str()`` lists the bad items."""

    def __str__(self) -> str:
        return f"invalid {_type_name(self.cl)}: {_join_errors(describe_error(self))}"


class UnionValidationError(BaseValidationError):
    """No branch of an undiscriminated union fits; ``exceptions`` holds one per branch."""

    branches: tuple[Any, ...]

    def __str__(self) -> str:
        return _join_errors(describe_error(self))


def describe_error(exc: BaseException, path: str = "$") -> list[str]:
    """List the problems in ``exc`` as ``problem @ $.json.path`` lines (wire names)."""
    if isinstance(exc, UnionValidationError):
        return [_describe_union(exc, path)]
    if isinstance(exc, ClassValidationError):
        return _describe_group(exc, path, _attribute_path(exc.cl))
    if isinstance(exc, IterableValidationError):
        return _describe_group(exc, path, _index_path)
    return [f"{_leaf_problem(exc)} @ {path}"]


def _describe_group(
    exc: BaseValidationError, path: str, step: Callable[[str, Any], str]
) -> list[str]:
    lines: list[str] = []
    for sub in exc.exceptions:
        note = _validation_note(sub)
        sub_path = path if note is None else step(path, note)
        lines.extend(describe_error(sub, sub_path))
    return lines


def _validation_note(exc: BaseException) -> Any:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, (AttributeValidationNote, IterableValidationNote)):
            return note
    return None


def _attribute_path(cl: Any) -> Callable[[str, Any], str]:
    def step(path: str, note: Any) -> str:
        name = getattr(note, "name", None)
        if name is None:
            return path
        return f"{path}.{_wire_name_of(cl, name)}"

    return step


def _index_path(path: str, note: Any) -> str:
    index = getattr(note, "index", None)
    return path if index is None else f"{path}[{index!r}]"


def _wire_name_of(cl: Any, name: str) -> str:
    if attrs.has(cl):
        field = attrs.fields_dict(cl).get(name)
        if field is not None:
            return str(field.metadata.get("json", name))
    return name


def _describe_union(exc: UnionValidationError, path: str) -> str:
    suffix = f" @ {path}"
    parts = []
    for branch, sub in zip(getattr(exc, "branches", ()), exc.exceptions, strict=False):
        lines = [line.removesuffix(suffix) for line in describe_error(sub, path)]
        parts.append(f"{_type_name(branch)}: {', '.join(lines)}")
    return f"no variant of {_type_name(exc.cl)} fits ({'; '.join(parts)}){suffix}"


def _leaf_problem(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (TypeError, ValueError)) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _join_errors(errors: list[str]) -> str:
    shown = errors[:_MAX_LISTED_ERRORS]
    more = len(errors) - len(shown)
    text = "; ".join(shown)
    return f"{text}; ... and {more} more" if more > 0 else text


def _type_name(tp: Any) -> str:
    if tp is None or tp is _NONE_TYPE:
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    if _is_union(tp):
        return " | ".join(_type_name(arg) for arg in typing.get_args(tp))
    return repr(tp).replace("typing.", "")


def _describe_value(value: Any) -> str:
    """Name the type of ``value``, with its repr only when that is short."""
    if value is None:
        return "None"
    text = repr(value)
    name = type(value).__name__
    return f"{name} {text}" if len(text) <= _SHORT_REPR else name


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHORT_REPR else f"{text[:_SHORT_REPR]}..."


def _mismatch(expected: str, value: Any) -> str:
    return f"expected {expected}, got {_describe_value(value)}"


# ---------------------------------------------------------------------------
# Type inspection


def _is_union(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin is Union or origin is types.UnionType


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is Literal


def _is_list(tp: Any) -> bool:
    return tp is list or typing.get_origin(tp) in _LIST_ORIGINS


def _is_dict(tp: Any) -> bool:
    return tp is dict or typing.get_origin(tp) in _DICT_ORIGINS


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and attrs.has(tp)


def _is_open_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, OpenEnum)


def _is_any(tp: Any) -> bool:
    return tp is Any or tp is None or tp is object


def _item_type(tp: Any) -> Any:
    args = typing.get_args(tp)
    return args[0] if args else Any


def _map_types(tp: Any) -> tuple[Any, Any]:
    args = typing.get_args(tp)
    return (args[0], args[1]) if len(args) == 2 else (str, Any)


def _plain_classes(types_: Iterable[Any]) -> frozenset[type]:
    """Classes of wire values that scalar types among ``types_`` take unchanged."""
    plain: set[type] = set()
    for tp in types_:
        plain.update(_PLAIN.get(tp, ()))
    return frozenset(plain)


def _split_union(tp: Any) -> tuple[tuple[Any, ...], bool, bool]:
    """Return the branches of ``tp`` other than None/Unset, and whether each was there."""
    args = typing.get_args(tp)
    rest = tuple(arg for arg in args if arg is not _NONE_TYPE and arg is not Unset)
    return rest, _NONE_TYPE in args, Unset in args


def _wire_name(field: attrs.Attribute[Any]) -> str:
    return str(field.metadata.get("json", field.name))


class _LazyNamespace(Mapping[str, Any]):
    """Names of a models package whose modules load on first use (annotation lookups)."""

    def __init__(self, module_name: str) -> None:
        self._module_name = module_name

    def __getitem__(self, name: str) -> Any:
        module = importlib.import_module(self._module_name)
        try:
            return getattr(module, name)
        except AttributeError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(getattr(importlib.import_module(self._module_name), "__all__", ()))

    def __len__(self) -> int:
        return len(getattr(importlib.import_module(self._module_name), "__all__", ()))


def _models_namespace(cls: type) -> Mapping[str, Any] | None:
    """Where a model's string annotations name models of other modules, if anywhere.

    Generated models split across modules set ``__models_namespace__`` to the module
    that reaches all of them (lazily), so annotations can name any model.
    """
    module = sys.modules.get(cls.__module__)
    name = getattr(module, "__models_namespace__", None)
    return _LazyNamespace(name) if isinstance(name, str) else None


def wire_names(cls: type) -> frozenset[str]:
    """The JSON keys a model declares."""
    return frozenset(_wire_name(field) for field in _declared_fields(cls))


def additional_field(cls: type) -> attrs.Attribute[Any] | None:
    """The attribute of model ``cls`` that keeps undeclared fields, if it has one.

    It is marked ``metadata={"additional_properties": True}`` and typed ``dict[str, T]``.
    """
    for field in _resolved_fields(cls):
        if field.metadata.get(ADDITIONAL):
            return field
    return None


def _declared_fields(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    """The fields of model ``cls`` that the schema declares (each has a wire name)."""
    return tuple(field for field in _resolved_fields(cls) if not field.metadata.get(ADDITIONAL))


def _additional_type(field: attrs.Attribute[Any]) -> Any:
    """The value type of the mapping of undeclared fields (``Any`` when untyped)."""
    return _map_types(field.type)[1] if _is_dict(field.type) else Any


def _resolved_fields(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    attrs.resolve_types(cls, localns=_models_namespace(cls))  # type: ignore[arg-type]
    return tuple(attrs.fields(cls))


# ---------------------------------------------------------------------------
# Dates


_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?"
)


def parse_datetime(text: str) -> dt.datetime:
    """Parse an ISO 8601 date-time; accepts ``Z`` and naive values on every Python."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return _parse_datetime_fallback(text)


def _parse_datetime_fallback(text: str) -> dt.datetime:
    """Parse the ISO 8601 forms ``fromisoformat`` rejects on Python 3.10 (``Z``, odd fractions)."""
    match = _DATETIME_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time: {_describe_value(text)}")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    tz: dt.tzinfo | None = None
    if zulu:
        tz = dt.timezone.utc
    elif sign:
        offset = dt.timedelta(hours=int(off_h), minutes=int(off_m or 0))
        tz = dt.timezone(-offset if sign == "-" else offset)
    try:
        return dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micros, tz
        )
    except ValueError as exc:
        raise ValueError(f"not a valid date-time: {_describe_value(text)} ({exc})") from None


def parse_date(text: str) -> dt.date:
    """Parse an ISO 8601 calendar date (``YYYY-MM-DD``)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date: {_describe_value(text)}") from None


def format_datetime(value: dt.datetime) -> str:
    """``value.isoformat()``, with a UTC offset written as ``Z``."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# ---------------------------------------------------------------------------
# Wire hooks for scalars


def _pass_through(value: Any, _: Any) -> Any:
    return value


def _structure_str(value: Any, _: Any) -> str:
    if value.__class__ is str or isinstance(value, str):
        return value
    raise TypeError(_mismatch("str", value))


def _structure_int(value: Any, _: Any) -> Any:
    if value.__class__ is int or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(_mismatch("int", value))


def _structure_float(value: Any, _: Any) -> Any:
    cls = value.__class__
    if cls is float or cls is int:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise TypeError(_mismatch("float", value))


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    raise TypeError(_mismatch("bool", value))


def _structure_none(value: Any, _: Any) -> None:
    if value is not None:
        raise TypeError(_mismatch("null", value))


def _structure_unset(value: Any, _: Any) -> Unset:
    if value is not UNSET:
        raise TypeError(_mismatch("UNSET", value))
    return Unset.UNSET


def _structure_datetime(value: Any, _: Any) -> dt.datetime:
    if isinstance(value, str):
        return parse_datetime(value)
    raise TypeError(_mismatch("an ISO 8601 date-time string", value))


def _structure_date(value: Any, _: Any) -> dt.date:
    if isinstance(value, str):
        return parse_date(value)
    raise TypeError(_mismatch("an ISO 8601 date string", value))


def _structure_open_enum(value: Any, cls: Any) -> Any:
    if isinstance(value, str):
        return cls(value)
    raise TypeError(_mismatch(f"{cls.__name__} (a string)", value))


def _structure_enum(value: Any, cls: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in cls)
        raise ValueError(f"{_describe_value(value)} is not one of {choices}") from None


def _enum_value(value: Any) -> Any:
    return value._value_


def _unstructure_date(value: dt.date) -> str:
    return value.isoformat()


def _literal_hook(tp: Any) -> StructureHook:
    allowed = typing.get_args(tp)

    def structure_literal(value: Any, _: Any) -> Any:
        for option in allowed:
            if value == option and type(value) is type(option):
                return value
        expected = " or ".join(repr(option) for option in allowed)
        raise ValueError(_mismatch(expected, value))

    return structure_literal


# ---------------------------------------------------------------------------
# The serializer


UnionSource: TypeAlias = Iterable[UnionInfo] | Callable[[], Iterable[UnionInfo]]


class Serializer:
    """Wire converter (``converter``) plus the strict converter for user input."""

    def __init__(self, unions: UnionSource = ()) -> None:
        self.converter = cattrs.Converter(detailed_validation=True)
        self._unions = _UnionIndex(unions)
        self._lock = threading.RLock()
        self._structure_hooks: dict[Any, StructureHook] = {}
        self._unstructure_hooks: dict[Any, UnstructureHook] = {}
        self._quick_hooks: dict[Any, StructureHook] = {}  # models: generated fn, no re-run
        self._late_hooks: dict[Any, StructureHook] = {}
        self._building: set[Any] = set()
        self._building_unstructure: set[Any] = set()
        self._input = _InputConverter(self._unions)
        self._wire_input = _WireInputConverter(self._unions, self._input, self)
        self._register_hooks()
        self._compiler = _StructureCompiler(self)

    # -- public API ---------------------------------------------------------

    def structure(self, data: Any, tp: Any) -> Any:
        """Turn wire JSON data into ``tp``; raises :class:`StructureError` on bad data."""
        hook = self.converter.get_structure_hook(tp)  # a bad model definition raises here
        try:
            return hook(data, tp)
        except Exception as exc:
            raise StructureError(_type_name(tp), describe_error(exc)) from exc

    def decode(self, body: bytes | str, tp: Any) -> Any:
        """A JSON body as ``tp`` (plain data when ``tp`` is ``None``): :meth:`loads`, then
        :meth:`structure`, with the cyclic GC paused for a large body (see
        :mod:`shared.gcpause`)."""
        if len(body) >= gcpause.PAUSE_FROM_BYTES and gcpause.enabled:
            with gcpause.paused:  # a burst of allocations with no garbage in it
                return self._decode(body, tp)
        return self._decode(body, tp)

    def _decode(self, body: bytes | str, tp: Any) -> Any:
        data = self.loads(body)
        return data if tp is None else self.structure(data, tp)

    def union_info(self, tp: Any) -> UnionInfo | None:
        """The discriminated union :meth:`structure` dispatches ``tp`` by, if any.

        ``tp`` is a union of two or more models (``None`` and ``Unset`` branches aside)
        registered with :func:`make_serializer`; any other type gives ``None``.
        """
        if not _is_union(tp):
            return None
        branches, _, _ = _split_union(tp)
        return self._unions.get(frozenset(branches)) if len(branches) > 1 else None

    def unstructure(self, obj: Any) -> Any:
        """Turn models (and lists/dicts of them) into wire JSON data."""
        return self.converter.unstructure(obj)

    def from_python(self, value: Any, tp: Any, name: str) -> Any:
        """Validate user input ``value`` against ``tp``; raises :class:`InvalidInputError`.

        ``name`` is the argument name, the start of the field path in errors.
        """
        return self._input.convert(value, tp, name)

    def to_wire(self, value: Any, tp: Any, name: str) -> Any:
        """Validate user input like :meth:`from_python`, returning its wire data.

        The same as ``unstructure(from_python(value, tp, name))`` (same data, same
        errors), without building the models in between when ``tp`` is a model.
        """
        if _is_model(tp):
            return self._wire_input.convert(value, tp, name)
        return self.converter.unstructure(self._input.convert(value, tp, name))

    def to_wire_hook(self, tp: Any) -> Callable[[Any, str], Any]:
        """:meth:`to_wire` for ``tp``, looked up once: ``hook(value, name)``."""
        if _is_model(tp):
            return self._wire_input.hook(tp)
        check = self._input.hook(tp)
        unstructure = self.converter.unstructure

        def to_wire(value: Any, name: str) -> Any:
            return unstructure(check(value, name))

        return to_wire

    def dict_writer(self, tp: Any) -> Callable[[dict[str, Any], str], Any] | None:
        """The generated writer :meth:`to_wire` uses for a plain ``dict`` of model ``tp``
        (``None`` when it has none): called straight, it saves the checks for other
        input. On bad input it raises what :meth:`to_wire` raises."""
        if not _is_model(tp):
            return None
        self._wire_input.hook(tp)
        return self._wire_input._fast.get(tp)

    def dumps(self, obj: Any) -> bytes:
        """Unstructure ``obj`` and encode it as compact JSON."""
        return self.encode_json(self.converter.unstructure(obj))

    def encode_json(self, data: Any) -> bytes:
        """Encode wire data (plain JSON values) as compact JSON."""
        if _orjson is not None:
            return bytes(_orjson.dumps(data))
        return jsontext.dumps(data)

    def encode_json_all(self, items: list[Any]) -> list[bytes]:
        """:meth:`encode_json` of each item (raises the first item's error)."""
        if _orjson is not None:
            dumps = _orjson.dumps
            return [bytes(dumps(item)) for item in items]
        return jsontext.dumps_all(items)

    def loads(self, data: bytes | str) -> Any:
        """Decode JSON text into plain Python data (not structured)."""
        if _orjson is not None:
            return _orjson.loads(data)
        if data.__class__ is str:
            return jsontext.loads_text(data)
        return json.loads(data)

    # -- hook registration --------------------------------------------------

    def _register_hooks(self) -> None:
        conv = self.converter
        for cls, hook in (
            (str, _structure_str),
            (int, _structure_int),
            (float, _structure_float),
            (bool, _structure_bool),
            (_NONE_TYPE, _structure_none),
            (Unset, _structure_unset),
            (dt.datetime, _structure_datetime),
            (dt.date, _structure_date),
            (OpenEnum, _structure_open_enum),
            (enum.Enum, _structure_enum),
        ):
            conv.register_structure_hook(cls, hook)
        conv.register_unstructure_hook(dt.datetime, format_datetime)
        conv.register_unstructure_hook(dt.date, _unstructure_date)
        conv.register_unstructure_hook(OpenEnum, _enum_value)
        conv.register_unstructure_hook(enum.Enum, _enum_value)
        conv.register_unstructure_hook(Unset, identity)
        conv.register_structure_hook_factory(_is_literal, _literal_hook)
        conv.register_structure_hook_factory(_is_file_handle, _file_handle_hook)
        conv.register_structure_hook_factory(_is_list, self._cached(self._list_hook))
        conv.register_structure_hook_factory(_is_dict, self._cached(self._dict_hook))
        conv.register_structure_hook_factory(_is_union, self._cached(self._union_hook))
        conv.register_structure_hook_factory(_is_model, self._model_structure_factory)
        conv.register_unstructure_hook_factory(_is_union, self._union_unstructure_hook)
        conv.register_unstructure_hook_factory(_is_model, self._model_unstructure_factory)

    def _cached(self, build: Callable[[Any], StructureHook]) -> Callable[[Any], StructureHook]:
        """Wrap a hook factory so each type's hook is built once (cattrs asks repeatedly)."""

        def factory(tp: Any) -> StructureHook:
            hook = self._structure_hooks.get(tp)
            if hook is None:
                with self._lock:
                    hook = self._structure_hooks.get(tp) or build(tp)
                    self._structure_hooks[tp] = hook
            return hook

        return factory

    def _hook(self, tp: Any) -> StructureHook:
        # Uncached lookup: the factories keep their own caches, and a cached lookup
        # could pin the late-binding hook of a recursive model in cattrs' dispatch cache.
        return self.converter.get_structure_hook(tp, cache_result=False)

    # -- containers ---------------------------------------------------------

    def _list_hook(self, tp: Any) -> StructureHook:
        item_type = _item_type(tp)
        name = _type_name(tp)
        if _is_any(item_type):

            def structure_any_list(value: Any, _: Any) -> list[Any]:
                if isinstance(value, (list, tuple)):
                    return list(value)
                raise TypeError(_mismatch("a list", value))

            return structure_any_list
        item_hook = self._hook(item_type)
        plain = _plain_classes((item_type,))

        def structure_list(value: Any, _: Any) -> list[Any]:
            if not isinstance(value, (list, tuple)):
                raise TypeError(_mismatch("a list", value))
            if plain and all(item.__class__ in plain for item in value):
                return list(value)
            try:
                return [item_hook(item, item_type) for item in value]
            except Exception:
                raise _list_error(value, item_hook, item_type, tp, name) from None

        return structure_list

    def _dict_hook(self, tp: Any) -> StructureHook:
        key_type, value_type = _map_types(tp)
        name = _type_name(tp)
        check_keys = not (key_type is str or _is_any(key_type))
        key_hook = self._hook(key_type) if check_keys else _pass_through
        value_hook = _pass_through if _is_any(value_type) else self._hook(value_type)
        copy_only = value_hook is _pass_through and not check_keys

        def structure_dict(value: Any, _: Any) -> dict[Any, Any]:
            if value.__class__ is not dict and not isinstance(value, Mapping):
                raise TypeError(_mismatch("an object", value))
            if copy_only:
                return dict(value)
            try:
                if check_keys:
                    return {
                        key_hook(key, key_type): value_hook(item, value_type)
                        for key, item in value.items()
                    }
                return {key: value_hook(item, value_type) for key, item in value.items()}
            except Exception:
                raise _dict_error(value, key_hook, value_hook, tp, name) from None

        return structure_dict

    # -- unions -------------------------------------------------------------

    def _union_hook(self, tp: Any) -> StructureHook:
        branches, has_none, has_unset = _split_union(tp)
        if not branches:
            inner: StructureHook = _structure_none
            inner_type: Any = _NONE_TYPE
        elif len(branches) == 1:
            inner_type = branches[0]
            inner = self._hook(inner_type)
        else:
            inner_type = Union[branches]  # noqa: UP007 - branches is a runtime tuple
            info = self._unions.get(frozenset(branches))
            inner = (
                self._tagged_hook(info, inner_type)
                if info is not None
                else self._first_fit_hook(branches, inner_type)
            )

        plain = _plain_classes(branches)

        def structure_union(value: Any, _: Any) -> Any:
            if value.__class__ in plain:
                return value
            if value is None and has_none:
                return None
            if value is UNSET and has_unset:
                return UNSET
            if value is None and has_unset:  # servers send null for "absent": read as unset
                return UNSET
            return inner(value, inner_type)

        return structure_union

    def _tagged_hook(self, info: UnionInfo, tp: Any) -> StructureHook:
        key = info.discriminator
        hooks = {tag: (self._hook(cls), cls) for tag, cls in info.mapping.items()}
        name = _type_name(tp)
        tags = ", ".join(repr(tag) for tag in info.mapping)

        def structure_tagged(value: Any, _: Any) -> Any:
            if value.__class__ is not dict and not isinstance(value, Mapping):
                raise TypeError(_mismatch(f"an object ({name})", value))
            tag = value.get(key)
            found = hooks.get(tag) if isinstance(tag, str) else None
            if found is None:
                problem = (
                    f"missing discriminator {key!r}"
                    if key not in value
                    else f"unknown {key!r} value {_short_repr(tag)}"
                )
                raise ValueError(f"{problem} for {name}; expected one of {tags}")
            return found[0](value, found[1])

        return structure_tagged

    def _first_fit_hook(self, branches: tuple[Any, ...], tp: Any) -> StructureHook:
        # Exact scalar matches never get here: the union hook returns them first.
        hooks = [(self._hook(branch), branch) for branch in branches]
        # Models are tried with their plain generated function first: a branch that
        # does not fit then fails cheaply, without the detailed re-run that explains it.
        quick = [(self._quick_hooks.get(branch, hook), branch) for hook, branch in hooks]
        # Unknown keys are ignored, so a model with optional fields "fits" any object:
        # a branch that declares every key of the value is preferred, in branch order.
        declared = [
            (hook, branch, wire_names(branch)) for hook, branch in quick if _is_model(branch)
        ]

        def structure_first_fit(value: Any, _: Any) -> Any:
            if isinstance(value, Mapping):
                for branch_hook, branch, names in declared:
                    if names.issuperset(value.keys()):
                        try:
                            return branch_hook(value, branch)
                        except Exception:  # the lenient pass below decides
                            break
            for branch_hook, branch in quick:
                try:
                    return branch_hook(value, branch)
                except Exception:  # next branch; explained below if none fits
                    continue
            errors: list[Exception] = []
            for branch_hook, branch in hooks:
                try:
                    return branch_hook(value, branch)
                except Exception as exc:
                    errors.append(exc)
            error = UnionValidationError(f"no variant of {_type_name(tp)} fits", errors, tp)
            error.branches = branches
            raise error

        return structure_first_fit

    def _union_unstructure_hook(self, tp: Any) -> UnstructureHook:
        branches, _, _ = _split_union(tp)
        if all(branch in _SCALARS or _is_literal(branch) for branch in branches):
            return identity
        if len(branches) == 1:
            hook = self.converter.get_unstructure_hook(branches[0])

            def unstructure_optional(value: Any) -> Any:
                return value if value is None or value is UNSET else hook(value)

            return unstructure_optional
        return self.converter.unstructure

    # -- models -------------------------------------------------------------

    def _model_structure_factory(self, cls: type) -> StructureHook:
        hook = self._structure_hooks.get(cls)
        if hook is not None:
            return hook
        with self._lock:
            hook = self._structure_hooks.get(cls)
            if hook is None:
                if cls in self._building:
                    return self._late_structure(cls)
                self._building.add(cls)
                try:
                    hook = self._model_structure_hook(cls)
                finally:
                    self._building.discard(cls)
                self._structure_hooks[cls] = hook
        return hook

    def _late_structure(self, cls: type) -> StructureHook:
        """A hook for a model whose own hook is being built (recursive models)."""
        late = self._late_hooks.get(cls)
        if late is None:
            hooks = self._structure_hooks

            def structure_late(value: Any, tp: Any) -> Any:
                return hooks[cls](value, tp)

            late = self._late_hooks[cls] = structure_late
        return late

    def _is_model_hook(self, cls: type, hook: StructureHook) -> bool:
        """``True`` when ``hook`` is this serializer's own hook for model ``cls``."""
        return hook is self._structure_hooks.get(cls) or hook is self._late_hooks.get(cls)

    def _quick_hook(self, cls: type) -> StructureHook:
        """The generated function of model ``cls`` (no detailed re-run), built if need be."""
        hook = self._quick_hooks.get(cls)
        if hook is None:
            with self._lock:
                self._hook(cls)
                hook = self._quick_hooks[cls]
        return hook

    def _model_structure_hook(self, cls: type) -> StructureHook:
        renames = _structure_overrides(cls)
        make: Callable[..., StructureHook] = make_dict_structure_fn
        fast = self._compiler.compile(cls) or self._cattrs_quick_hook(cls, renames)
        self._quick_hooks[cls] = fast
        detailed: list[StructureHook] = []
        check_additional = self._additional_check(cls)

        def explain(value: Any) -> Exception | None:
            """Re-run a failed structure in detailed mode to collect every error."""
            if not isinstance(value, Mapping):
                return TypeError(_mismatch(f"an object ({cls.__name__})", value))
            if not detailed:
                detailed.append(
                    make(cls, self.converter, _cattrs_detailed_validation=True, **renames)
                )
            try:
                detailed[0](value, cls)
            except ClassValidationError as exc:
                return ModelValidationError(exc.message, exc.exceptions, cls)
            except Exception as exc:
                return exc
            return check_additional(value)

        def structure_model(value: Any, _: Any) -> Any:
            try:
                return fast(value, cls)
            except Exception:
                error = explain(value)
                if error is None:
                    raise
                raise error from None

        return structure_model

    def _cattrs_quick_hook(self, cls: type, renames: dict[str, Any]) -> StructureHook:
        """cattrs' generated function, for models the compiler leaves to cattrs."""
        make: Callable[..., StructureHook] = make_dict_structure_fn
        generated = make(cls, self.converter, _cattrs_detailed_validation=False, **renames)
        expected = f"an object ({cls.__name__})"
        field = additional_field(cls)
        known = wire_names(cls)

        def fast(value: Any, tp: Any = None) -> Any:
            # cattrs' function only tests `name in value`: a string or list would pass
            if value.__class__ is not dict and not isinstance(value, Mapping):
                raise TypeError(_mismatch(expected, value))
            result = generated(value, tp)
            if field is not None and not known.issuperset(value):
                extra = {key: item for key, item in value.items() if key not in known}
                setattr(result, field.name, self._hook(field.type)(extra, field.type))
            return result

        return fast

    def _additional_check(self, cls: type) -> Callable[[Mapping[Any, Any]], Exception | None]:
        """Explains why an undeclared field does not fit the model's additionalProperties."""
        field = additional_field(cls)
        value_type = Any if field is None else _additional_type(field)
        known = wire_names(cls)

        def check(value: Mapping[Any, Any]) -> Exception | None:
            if _is_any(value_type):
                return None
            hook = self._hook(value_type)
            errors: list[Exception] = []
            for key, item in value.items():
                if key in known:
                    continue
                try:
                    hook(item, value_type)
                except Exception as exc:
                    note = f"Structuring additional property {key!r}"
                    _add_note(exc, AttributeValidationNote(note, key, value_type))
                    errors.append(exc)
            if not errors:
                return None
            return ModelValidationError(f"While structuring {cls.__name__}", errors, cls)

        return check

    def _model_unstructure_factory(self, cls: type) -> UnstructureHook:
        hook = self._unstructure_hooks.get(cls)
        if hook is not None:
            return hook
        with self._lock:
            hook = self._unstructure_hooks.get(cls)
            if hook is None:
                if cls in self._building_unstructure:
                    hooks = self._unstructure_hooks
                    return lambda value: hooks[cls](value)
                self._building_unstructure.add(cls)
                try:
                    hook = self._model_unstructure_hook(cls)
                finally:
                    self._building_unstructure.discard(cls)
                self._unstructure_hooks[cls] = hook
        return hook

    def _model_unstructure_hook(self, cls: type) -> UnstructureHook:
        # The wire names go in as aliases and "omit when unset" as the default rule, not
        # as per-field keyword overrides: a field named like one of the generator's own
        # parameters (``converter``, ``attrs``, ``cl``) would collide with them.
        fields = [f.evolve(alias=_wire_name(f)) for f in _declared_fields(cls)]
        for field in fields:
            if field.default is not UNSET and field.default is not attrs.NOTHING:
                # "omit when equal to the default" is only right for UNSET defaults
                raise TypeError(
                    f"{cls.__name__}.{field.name}: a model field's default must be UNSET"
                )
        make: Callable[..., UnstructureHook] = make_dict_unstructure_fn_from_attrs
        declared = make(
            fields, cls, self.converter, _cattrs_omit_if_default=True, _cattrs_use_alias=True
        )
        extra = additional_field(cls)
        return declared if extra is None else self._with_additional(declared, extra)

    def _with_additional(self, declared: UnstructureHook, field: Any) -> UnstructureHook:
        """Write the undeclared fields after the declared ones (which win a clash)."""
        name = field.name
        value_type = _additional_type(field)
        conv = self.converter
        hook = conv.unstructure if _is_any(value_type) else conv.get_unstructure_hook(value_type)

        def unstructure_model(value: Any) -> Any:
            data = declared(value)
            more = getattr(value, name)
            if more:
                for key, item in more.items():
                    if key not in data:
                        data[key] = hook(item)
            return data

        return unstructure_model


# ---------------------------------------------------------------------------
# Generated structure functions (the quick path of every model)


_INLINE_SCALARS: dict[Any, tuple[StructureHook, str]] = {  # (hook, test of a plain value)
    str: (_structure_str, "{v}.__class__ is str"),
    int: (_structure_int, "{v}.__class__ is int"),
    float: (_structure_float, "{v}.__class__ is float or {v}.__class__ is int"),
    bool: (_structure_bool, "{v} is True or {v} is False"),
}
_INLINE_DATES: dict[Any, tuple[StructureHook, Callable[[str], Any]]] = {
    dt.datetime: (_structure_datetime, parse_datetime),
    dt.date: (_structure_date, parse_date),
}


_COMPILED_NAMES = {"Mapping": Mapping, "UNSET": UNSET, "_mismatch": _mismatch}


def _structure_overrides(cls: type) -> dict[str, Any]:
    """cattrs overrides of a model: wire names; the undeclared-fields attribute left out."""
    renames = {
        field.name: override(rename=_wire_name(field))
        for field in _declared_fields(cls)
        if _wire_name(field) != field.name
    }
    extra = additional_field(cls)
    if extra is not None:
        renames[extra.name] = override(omit=True)
    return renames


def _compilable(field: attrs.Attribute[Any]) -> bool:
    """Whether the compiler handles ``field`` the way cattrs' generated code would."""
    tp: Any = field.type
    return (
        field.init
        and field.converter is None
        and field.alias is not None
        and field.alias.isidentifier()
        and not isinstance(tp, typing.TypeVar)
        and tp is not typing.Final
        and typing.get_origin(tp) is not typing.Final
    )


def _branch(test: str, common: list[str], other: list[str]) -> list[str]:
    """``common`` when ``test`` holds (nothing to do if empty), else ``other``."""
    if not common:
        return [f"if not ({test}):", *_indent(other)]
    return [f"if {test}:", *_indent(common), "else:", *_indent(other)]


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


class _StructureCompiler:
    """Writes one function per model that structures it in a single Python frame.

    The function reads each wire key, checks scalars and open enums inline, calls the
    functions of nested models directly and calls the class once. On bad data it
    raises whatever went wrong first; the model's registered hook then re-runs cattrs'
    detailed validation to explain it, so error messages and paths are cattrs' own.
    Only hooks this serializer built are inlined: a hook registered by the caller on
    the converter is called like cattrs' generated code would call it.
    """

    def __init__(self, owner: Serializer) -> None:
        self._owner = owner
        self._any_hook = owner.converter.get_structure_hook(Any)
        # models being compiled -> (namespace, name) slots waiting for their function
        self._waiting: dict[type, list[tuple[dict[str, Any], str]]] = {}

    def compile(self, cls: type) -> StructureHook | None:
        """The function for ``cls``, or ``None`` when cattrs must handle one of its fields."""
        fields = _declared_fields(cls)
        extra = additional_field(cls)
        if not all(_compilable(field) for field in (*fields, *([extra] if extra else []))):
            return None
        self._waiting[cls] = []
        try:
            function: StructureHook = self._write(cls, fields, extra)
        finally:
            waiting = self._waiting.pop(cls)
        for namespace, name in waiting:
            namespace[name] = function
        return function

    def _write(
        self,
        cls: type,
        fields: tuple[attrs.Attribute[Any], ...],
        extra: attrs.Attribute[Any] | None,
    ) -> Any:
        src = Source(_COMPILED_NAMES)
        name = f"structure_{cls.__name__}" if cls.__name__.isidentifier() else "structure"
        src.add(0, [f"def {name}(o, _=None):"])
        src.add(1, ["if o.__class__ is not dict and not isinstance(o, Mapping):"])
        src.add(2, [f"raise TypeError(_mismatch({f'an object ({cls.__name__})'!r}, o))"])
        defaults = _slot_defaults(cls, fields, extra)
        if defaults is not None:
            return self._write_slots(src, name, cls, fields, extra, defaults)
        # Required fields go by keyword; the others only when their key is there (in
        # `res`): binding a keyword argument per declared field costs more than the dict.
        arguments = []
        optional = [field for field in fields if field.default is not attrs.NOTHING]
        if optional:
            src.add(1, ["res = {}"])
        for index, field in enumerate(fields):
            var = f"f{index}"
            key = _wire_name(field)
            body = self._convert(src, field.type, var)
            if field.default is attrs.NOTHING:
                src.add(1, [f"{var} = o[{key!r}]", *body])
                arguments.append(f"{field.alias}={var}")
            else:
                src.add(1, [f"if {key!r} in o:"])
                src.add(2, [f"{var} = o[{key!r}]", *body, f"res[{field.alias!r}] = {var}"])
        if optional:
            arguments.append("**res")
        model = src.ref(cls)
        if extra is not None:
            src.add(1, self._collect(src, fields, extra, len(fields) - len(optional), optional))
            src.add(2, [f"return {model}({', '.join([*arguments, f'{extra.alias}=extra'])})"])
        src.add(1, [f"return {model}({', '.join(arguments)})"])
        return src.build(name, f"<generated structure {cls.__module__}.{cls.__qualname__}>")

    def _write_slots(
        self,
        src: Source,
        name: str,
        cls: type,
        fields: tuple[attrs.Attribute[Any], ...],
        extra: attrs.Attribute[Any] | None,
        defaults: Mapping[str, Any],
    ) -> Any:
        """The body that sets each attribute of a new instance, without ``__init__``.

        Only for models whose ``__init__`` just assigns its arguments
        (:func:`_slot_defaults`); a field left out gets the ``__init__`` default.
        """
        optional = [field for field in fields if field.default is not attrs.NOTHING]
        src.add(1, [f"r = {src.ref(object.__new__)}({src.ref(cls)})"])
        if optional:
            src.add(1, ["n = 0"])
        for index, field in enumerate(fields):
            var = f"f{index}"
            key = _wire_name(field)
            body = self._convert(src, field.type, var)
            if field.default is attrs.NOTHING:
                src.add(1, [f"{var} = o[{key!r}]", *body, f"r.{field.name} = {var}"])
            else:
                src.add(1, [f"if {key!r} in o:"])
                src.add(2, [f"{var} = o[{key!r}]", *body, f"r.{field.name} = {var}", "n += 1"])
                src.add(1, ["else:", f"    r.{field.name} = {src.ref(defaults[field.name])}"])
        if extra is not None:
            required = len(fields) - len(optional)
            src.add(1, self._collect(src, fields, extra, required, optional, found="n"))
            src.add(2, [f"r.{extra.name} = extra"])
            src.add(1, ["else:", f"    r.{extra.name} = {src.ref(defaults[extra.name])}"])
        src.add(1, ["return r"])
        general = src.build(name, f"<generated structure {cls.__module__}.{cls.__qualname__}>")
        shaped = [
            ShapeField(
                f.name, _wire_name(f), f.type, f.default is attrs.NOTHING, defaults.get(f.name)
            )
            for f in fields
        ]
        kept = None if extra is None else (extra.name, defaults[extra.name])
        return by_key_order(cls, shaped, kept, general, self._convert, _COMPILED_NAMES)

    def _convert(self, src: Source, tp: Any, v: str) -> list[str]:
        """Lines that turn the wire value in variable ``v`` into ``tp``, in place."""
        if tp is None:
            return []  # an unannotated field: cattrs passes the value through
        owner = self._owner
        hook = owner._hook(tp)
        if hook is self._any_hook and _is_any(tp):
            return []
        call = [f"{v} = {src.ref(hook)}({v}, {src.ref(tp)})"]  # what cattrs' code would do
        common = self._common(src, tp, hook, v)
        if common is not None:
            return _branch(*common, call)
        if hook is owner._structure_hooks.get(tp) and _is_union(tp):
            return self._convert_optional(src, tp, v) or call
        return call

    def _common(self, src: Source, tp: Any, hook: Any, v: str) -> tuple[str, list[str]] | None:
        """The test for the usual wire value of ``tp`` and the lines that convert it.

        ``None`` when there is no such shortcut: the hook is called for every value.
        """
        owner = self._owner
        scalar = _INLINE_SCALARS.get(tp)
        if scalar is not None and hook is scalar[0]:
            return scalar[1].format(v=v), []
        date = _INLINE_DATES.get(tp)
        if date is not None and hook is date[0]:
            return f"{v}.__class__ is str", [f"{v} = {src.ref(date[1])}({v})"]
        if _is_open_enum(tp) and hook is _structure_open_enum:
            members = src.ref({member._value_: member for member in tp.__members__.values()})
            call = f"{src.ref(hook)}({v}, {src.ref(tp)})"
            return f"{v}.__class__ is str", [f"{v} = {members}.get({v}) or {call}"]
        if _is_model(tp) and owner._is_model_hook(tp, hook):
            function, table = self._model_ref(src, tp), self._shape_table(src, tp)
            if table is None:
                return f"{v}.__class__ is dict", [f"{v} = {function}({v})"]
            lookup = [f"w = {table}(tuple({v}))"]
            return f"{v}.__class__ is dict", [
                *lookup,
                f"{v} = w({v}) if w is not None else {function}({v})",
            ]
        item = _item_type(tp) if _is_list(tp) else None
        if item is None or hook is not owner._structure_hooks.get(tp):
            return None
        if not (_is_model(item) and owner._is_model_hook(item, owner._hook(item))):
            return None
        function, table = self._model_ref(src, item), self._shape_table(src, item)
        if table is None:
            return f"{v}.__class__ is list", [f"{v} = list(map({function}, {v}))"]
        each = (
            f"w(x) if x.__class__ is dict and (w := {table}(tuple(x))) is not None"
            f" else {function}(x)"
        )
        return f"{v}.__class__ is list", [f"{v} = [{each} for x in {v}]"]

    def _shape_table(self, src: Source, cls: type) -> str | None:
        """A name for the ``get`` of the key-order table of ``cls``'s function, if it has one."""
        table = shape_table(self._owner._quick_hooks.get(cls))
        return None if table is None else src.ref(table.get)

    def _collect(
        self,
        src: Source,
        fields: tuple[attrs.Attribute[Any], ...],
        extra: attrs.Attribute[Any],
        required: int,
        optional: list[attrs.Attribute[Any]],
        found: str = "len(res)",
    ) -> list[str]:
        """Lines that put the undeclared keys of ``o`` (if any) in ``extra``.

        Every required key was read and every optional one found is in ``res``: the
        keys are all declared exactly when ``len(o)`` is their count, so a body
        without undeclared keys costs one comparison.
        """
        known = src.ref(frozenset(_wire_name(field) for field in fields))
        inner = self._convert(src, _additional_type(extra), "v")
        count = " + ".join([str(required)] * bool(required) + [found] * bool(optional))
        lines = [f"if len(o) != {count or '0'}:"]
        if not inner:
            lines.append(f"    extra = {{k: v for k, v in o.items() if k not in {known}}}")
        else:
            lines += ["    extra = {}", "    for k, v in o.items():"]
            lines += [f"        if k not in {known}:", *_indent(_indent(_indent(inner)))]
            lines.append("            extra[k] = v")
        return lines

    def _convert_optional(self, src: Source, tp: Any, v: str) -> list[str]:
        """Inline ``X | None | Unset`` (one branch), as the union hook reads it."""
        branches, has_none, has_unset = _split_union(tp)
        if len(branches) != 1:
            return []
        branch = branches[0]
        hook = self._owner._hook(branch)
        common = self._common(src, branch, hook, v)
        if common is None:
            inner = self._convert(src, branch, v)
        else:  # past the usual-class test below, only the hook is left to call
            inner = [f"{v} = {src.ref(hook)}({v}, {src.ref(branch)})"]
        if has_unset and not has_none:
            lines = [f"if {v} is None:", f"    {v} = UNSET"]
            if inner:
                lines += [f"elif {v} is not UNSET:", *_indent(inner)]
        elif not inner:
            return ["pass"]
        else:
            test = f"{v} is not None and {v} is not UNSET" if has_unset else f"{v} is not None"
            lines = [f"if {test}:", *_indent(inner)]
        return lines if common is None else _branch(*common, lines)

    def _model_ref(self, src: Source, cls: type) -> str:
        """A name for the quick function of ``cls``; filled in later if it is being compiled."""
        function = self._owner._quick_hooks.get(cls)
        if function is not None:
            return src.ref(function)
        name = src.ref(_pending_model(self._owner, cls))
        waiting = self._waiting.get(cls)
        if waiting is not None:
            waiting.append((src.names, name))
        return name


def _slot_defaults(
    cls: type,
    fields: tuple[attrs.Attribute[Any], ...],
    extra: attrs.Attribute[Any] | None,
) -> dict[str, Any] | None:
    """The ``__init__`` default of each optional field, when setting attributes directly
    is the same as calling ``__init__`` (it only assigns them); else ``None``."""
    every = (*fields, *([extra] if extra is not None else []))
    if len(every) != len(attrs.fields(cls)) or getattr(cls, "__setattr__", None) is not (
        object.__setattr__
    ):
        return None
    if hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        return None
    init = vars(cls).get("__init__")  # the class's own: a base's would not set its fields
    code = getattr(init, "__code__", None)
    given = getattr(init, "__kwdefaults__", None) or {}
    if code is None or code.co_argcount != 1 or code.co_kwonlyargcount != len(every):
        return None
    if code.co_flags & 0x0C or not _only_assigns(code, {str(f.alias): f.name for f in every}):
        return None  # *args / **kwargs, or a body that does more than assign
    defaults: dict[str, Any] = {}
    for field in every:
        if field.validator is not None or field.converter is not None:
            return None
        if not field.name.isidentifier() or keyword.iskeyword(field.name):
            return None
        optional = field.default is not attrs.NOTHING
        if optional != (field.alias in given):
            return None
        if optional:
            default = given[field.alias]
            if default is attrs.NOTHING or isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                return None
            defaults[field.name] = default
    if extra is not None and extra.name not in defaults:
        return None
    return defaults


_IGNORED_OPS = frozenset({"RESUME", "NOP", "CACHE", "EXTENDED_ARG"})


def _only_assigns(code: types.CodeType, names: Mapping[str, str]) -> bool:
    """Whether ``code`` is ``self.<names[arg]> = arg`` once per argument, then ``return``."""
    loads: list[Any] = []
    assigned: dict[str, str] = {}
    ops = [op for op in dis.get_instructions(code) if op.opname not in _IGNORED_OPS]
    while ops and ops[-1].opname in ("RETURN_VALUE", "RETURN_CONST", "LOAD_CONST"):
        if ops[-1].opname != "RETURN_VALUE" and ops[-1].argval is not None:
            return False
        ops.pop()
    self_name = code.co_varnames[0]
    for op in ops:
        if op.opname.startswith("LOAD_FAST"):
            loads.extend(op.argval if isinstance(op.argval, tuple) else [op.argval])
        elif op.opname == "STORE_ATTR" and loads[-2:-1] and loads[-1] == self_name:
            arg = loads[-2]
            if len(loads) != 2 or names.get(arg) != op.argval or arg in assigned:
                return False
            assigned[arg] = op.argval
            loads = []
        else:
            return False
    return not loads and assigned.keys() == names.keys()


def _pending_model(owner: Serializer, cls: type) -> StructureHook:
    """Stand-in for the function of a model still being compiled (recursive models)."""

    def structure_pending(value: Any, _: Any = None) -> Any:
        return owner._quick_hook(cls)(value, cls)

    return structure_pending


def _is_file_handle(tp: Any) -> bool:
    """File objects and paths: only ever given by callers (multipart), never on the wire."""
    return typing.get_origin(tp) in (typing.IO, os.PathLike) or tp in (typing.IO, os.PathLike)


def _file_handle_hook(tp: Any) -> StructureHook:
    def keep(value: Any, _: Any) -> Any:
        return value

    return keep


def make_serializer(unions: UnionSource = ()) -> Serializer:
    """Build the :class:`Serializer` of one SDK from its discriminated unions.

    ``unions`` may be a function returning them, called on first use, so an SDK can
    build its serializer without importing its models.
    """
    return Serializer(unions)


class _UnionIndex(Mapping[frozenset[Any], UnionInfo]):
    """The discriminated unions keyed by branch set, built on first lookup."""

    def __init__(self, source: UnionSource) -> None:
        self._source = source
        self._index: dict[frozenset[Any], UnionInfo] | None = None

    def _built(self) -> dict[frozenset[Any], UnionInfo]:
        if self._index is None:
            source = self._source
            self._index = _index_unions(source() if callable(source) else source)
        return self._index

    def __getitem__(self, key: frozenset[Any]) -> UnionInfo:
        return self._built()[key]

    def __iter__(self) -> Iterator[frozenset[Any]]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


def _index_unions(unions: Iterable[UnionInfo]) -> dict[frozenset[Any], UnionInfo]:
    """Key each union by its set of branches (so ``A | B | None`` finds ``A | B``)."""
    index: dict[frozenset[Any], UnionInfo] = {}
    for info in unions:
        index[frozenset(info.mapping.values())] = info
        branches, _, _ = _split_union(info.type)
        if branches and all(isinstance(branch, type) for branch in branches):
            index[frozenset(branches)] = info
    return index


def _add_note(exc: BaseException, note: str) -> None:
    """``exc.add_note(note)``, also on Python 3.10 (notes live in the instance dict)."""
    vars(exc).setdefault("__notes__", []).append(note)


def _list_error(
    value: Any, item_hook: StructureHook, item_type: Any, tp: Any, name: str
) -> Exception:
    errors: list[Exception] = []
    for index, item in enumerate(value):
        try:
            item_hook(item, item_type)
        except Exception as exc:
            _add_note(exc, IterableValidationNote(f"{name} @ index {index}", index, item_type))
            errors.append(exc)
    return SequenceValidationError(f"While structuring {name}", errors, tp)


def _dict_error(
    value: Mapping[Any, Any],
    key_hook: StructureHook,
    value_hook: StructureHook,
    tp: Any,
    name: str,
) -> Exception:
    key_type, value_type = _map_types(tp)
    errors: list[Exception] = []
    for key, item in value.items():
        try:
            key_hook(key, key_type)
            value_hook(item, value_type)
        except Exception as exc:
            _add_note(exc, IterableValidationNote(f"{name} @ key {key!r}", key, value_type))
            errors.append(exc)
    return SequenceValidationError(f"While structuring {name}", errors, tp)


# ---------------------------------------------------------------------------
# Strict user input


class _InputConverter:
    """Validates request arguments: model instances or dicts keyed by Python names."""

    def __init__(self, unions: Mapping[frozenset[Any], UnionInfo]) -> None:
        self._unions = unions
        self._hooks: dict[Any, InputHook] = {}
        self._lock = threading.RLock()

    def convert(self, value: Any, tp: Any, name: str) -> Any:
        return self.hook(tp)(value, name)

    def hook(self, tp: Any) -> InputHook:
        hook = self._hooks.get(tp)
        if hook is None:
            with self._lock:
                hook = self._hooks.get(tp)
                if hook is None:
                    try:
                        hook = self._build(tp)
                    except BaseException:
                        self._hooks.pop(tp, None)  # drop a late-binding placeholder
                        raise
                    self._hooks[tp] = hook
        return hook

    def _build(self, tp: Any) -> InputHook:
        if _is_any(tp):
            return _input_any
        scalar = _INPUT_SCALARS.get(tp)
        if scalar is not None:
            return scalar
        if _is_model(tp):
            return self._model(tp)
        if _is_union(tp):
            return self._union(tp)
        if _is_list(tp):
            return self._list(tp)
        if _is_dict(tp):
            return self._dict(tp)
        if _is_literal(tp):
            return _input_literal(tp)
        if _is_open_enum(tp):
            return _input_open_enum(tp)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _input_enum(tp)
        if isinstance(tp, type) and tp.__module__ not in ("typing", "collections.abc"):
            return _input_instance(tp)
        return _input_any

    def _list(self, tp: Any) -> InputHook:
        item_type = _item_type(tp)
        item_hook = self.hook(item_type)

        def convert_list(value: Any, path: str) -> Any:
            if not isinstance(value, (list, tuple)):
                raise InvalidInputError(path, _mismatch("a list or tuple", value))
            items = [item_hook(item, f"{path}[{index}]") for index, item in enumerate(value)]
            return value if type(value) is list and _same_items(value, items) else items

        return convert_list

    def _dict(self, tp: Any) -> InputHook:
        key_type, value_type = _map_types(tp)
        key_hook = self.hook(key_type)
        value_hook = self.hook(value_type)

        def convert_dict(value: Any, path: str) -> Any:
            if not isinstance(value, Mapping):
                raise InvalidInputError(path, _mismatch("a dict", value))
            result = {}
            for key, item in value.items():
                item_path = f"{path}[{key!r}]"
                result[key_hook(key, item_path)] = value_hook(item, item_path)
            same = type(value) is dict and _same_items(value, result)
            return value if same and _same_items(value.values(), result.values()) else result

        return convert_dict

    def _union(self, tp: Any) -> InputHook:
        branches, has_none, has_unset = _split_union(tp)
        if len(branches) == 1:
            inner = self.hook(branches[0])
        elif not branches:
            inner = _input_none
        else:
            info = self._unions.get(frozenset(branches))
            first_fit = self._first_fit(branches)
            inner = first_fit if info is None else self._tagged(info, tp, first_fit)

        def convert_union(value: Any, path: str) -> Any:
            if value is None and has_none:
                return None
            if value is UNSET and has_unset:
                return UNSET
            return inner(value, path)

        return convert_union

    def _first_fit(self, branches: tuple[Any, ...]) -> InputHook:
        hooks = [(branch, self.hook(branch)) for branch in branches]
        exact = {branch: hook for branch, hook in hooks if branch in _SCALARS or _is_model(branch)}
        name = " | ".join(_type_name(branch) for branch in branches)

        def convert_first_fit(value: Any, path: str) -> Any:
            hook = exact.get(value.__class__)
            if hook is not None:
                return hook(value, path)
            problems = []
            for branch, branch_hook in hooks:
                try:
                    return branch_hook(value, path)
                except InvalidInputError as exc:
                    where = "" if exc.field == path else f" at '{exc.field}'"
                    problems.append(f"{_type_name(branch)}{where}: {exc.problem}")
            raise InvalidInputError(path, f"does not fit {name} ({'; '.join(problems)})")

        return convert_first_fit

    def _tagged(self, info: UnionInfo, tp: Any, first_fit: InputHook) -> InputHook:
        classes = list(dict.fromkeys(info.mapping.values()))
        by_class = {cls: self.hook(cls) for cls in classes}
        keys = {_python_name_of(cls, info.discriminator) for cls in classes} - {None}
        keys.add(info.discriminator)  # a dict may spell it either way
        tags = ", ".join(repr(tag) for tag in info.mapping)
        name = _type_name(tp)

        def convert_tagged(value: Any, path: str) -> Any:
            hook = by_class.get(value.__class__)
            if hook is not None:
                return hook(value, path)
            if not isinstance(value, Mapping):
                raise InvalidInputError(path, _mismatch(f"one of {name} or a dict", value))
            for key in keys:
                if key in value:
                    tag = value[key]
                    cls = info.mapping.get(tag) if isinstance(tag, str) else None
                    if cls is None:
                        problem = f"unknown {info.discriminator!r} value {_short_repr(tag)}"
                        raise InvalidInputError(f"{path}.{key}", f"{problem}; expected {tags}")
                    return by_class[cls](value, path)
            return first_fit(value, path)

        return convert_tagged

    def _model(self, cls: type) -> InputHook:
        fields = [field for field in _declared_fields(cls) if field.init]
        extra = additional_field(cls)
        self._hooks[cls] = self._late(cls)  # recursive models see the finished hook later
        specs = [(field.name, field.alias or field.name, self.hook(field.type)) for field in fields]
        if extra is not None and extra.init:
            specs.append((extra.name, extra.alias or extra.name, self._additional(cls, extra)))
        by_key = _spellings(fields, specs)
        required = [field.name for field in fields if field.default is attrs.NOTHING]
        hint = None if extra is None else extra.name

        def convert_instance(value: Any, path: str) -> Any:
            changed = False
            kwargs: dict[str, Any] = {}
            for name, alias, hook in specs:
                current = getattr(value, name)
                checked = hook(current, f"{path}.{name}")
                changed = changed or checked is not current
                kwargs[alias] = checked
            return cls(**kwargs) if changed else value

        def convert_mapping(value: Mapping[Any, Any], path: str) -> Any:
            _check_keys(cls, value, path, by_key, required, hint)
            kwargs: dict[str, Any] = {}
            for key, item in value.items():
                _, alias, hook = by_key[key]
                kwargs[alias] = hook(item, f"{path}.{key}")
            return cls(**kwargs)

        def convert_model(value: Any, path: str) -> Any:
            if isinstance(value, cls):
                return convert_instance(value, path)
            if isinstance(value, Mapping):
                return convert_mapping(value, path)
            raise InvalidInputError(path, _mismatch(f"{cls.__name__} or a dict", value))

        return convert_model

    def _additional(self, cls: type, field: attrs.Attribute[Any]) -> InputHook:
        """Checks the undeclared fields a caller gives: keys as given, no declared name."""
        value_hook = self.hook(_additional_type(field))
        declared = {_wire_name(f): f.name for f in _declared_fields(cls)}

        def convert_additional(value: Any, path: str) -> Any:
            if not isinstance(value, Mapping):
                raise InvalidInputError(path, _mismatch("a dict", value))
            if not value and isinstance(value, dict):
                return value  # the shared empty default stays as it is
            result = {}
            for key, item in value.items():
                item_path = f"{path}[{key!r}]"
                if not isinstance(key, str):
                    raise InvalidInputError(item_path, _mismatch("a str key", key))
                if key in declared:
                    problem = f"{key!r} is a declared field of {cls.__name__}"
                    raise InvalidInputError(item_path, f"{problem}; pass it as {declared[key]!r}")
                result[key] = value_hook(item, item_path)
            same = type(value) is dict and _same_items(value.values(), result.values())
            return value if same else result

        return convert_additional

    def _late(self, tp: Any) -> InputHook:
        hooks = self._hooks

        def convert_late(value: Any, path: str) -> Any:
            return hooks[tp](value, path)

        return convert_late


def _check_keys(
    cls: type,
    value: Mapping[Any, Any],
    path: str,
    by_key: Mapping[Any, tuple[Any, ...]],
    required: list[str],
    hint: str | None,
) -> None:
    """Refuse unknown keys, a field given in both spellings and missing required fields."""
    given: dict[str, Any] = {}  # Python name -> the key that gave it
    for key in value:
        spec = by_key.get(key)
        if spec is None:
            raise InvalidInputError(f"{path}.{key}", _unknown_key(cls, key, by_key, hint))
        if spec[0] in given:
            twice = f"given twice, as {given[spec[0]]!r} and {key!r}"
            raise InvalidInputError(f"{path}.{spec[0]}", twice)
        given[spec[0]] = key
    missing = [name for name in required if name not in given]
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise InvalidInputError(path, f"missing required field(s) of {cls.__name__}: {listed}")


def _same_items(given: Iterable[Any], checked: Iterable[Any]) -> bool:
    """``True`` when validation kept every item of ``given`` as it was (same objects)."""
    return all(a is b for a, b in zip(given, checked, strict=True))


def _python_name_of(cls: type, wire: str) -> str | None:
    for field in attrs.fields(cls):
        if _wire_name(field) == wire:
            return str(field.name)
    return None


def _spellings(
    fields: list[attrs.Attribute[Any]], specs: list[tuple[str, str, InputHook]]
) -> dict[str, tuple[str, str, InputHook]]:
    """Each field under its Python name and its wire name (Python names win a clash)."""
    keys = {spec[0]: spec for spec in specs}
    for field in fields:
        keys.setdefault(_wire_name(field), keys[field.name])
    return keys


def _unknown_key(cls: type, key: Any, known: Mapping[str, Any], extra: str | None) -> str:
    problem = f"unknown field {key!r} for {cls.__name__}"
    close = difflib.get_close_matches(str(key), list(known), n=1)
    if close:
        return f"{problem}; did you mean {close[0]!r}?"
    return f"{problem} (undeclared fields go in {extra!r})" if extra else problem


def _input_any(value: Any, path: str) -> Any:
    return value


def _input_none(value: Any, path: str) -> None:
    if value is not None:
        raise InvalidInputError(path, _mismatch("None", value))


def _input_str(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    raise InvalidInputError(path, _mismatch("str", value))


def _input_int(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidInputError(path, _mismatch("int", value))


def _input_float(value: Any, path: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise InvalidInputError(path, _mismatch("float", value))


def _input_bool(value: Any, path: str) -> bool:
    if value is True or value is False:
        return value
    raise InvalidInputError(path, _mismatch("bool", value))


def _input_unset(value: Any, path: str) -> Unset:
    if value is UNSET:
        return Unset.UNSET
    raise InvalidInputError(path, _mismatch("UNSET", value))


def _input_datetime(value: Any, path: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError as exc:
            raise InvalidInputError(path, str(exc)) from None
    raise InvalidInputError(path, _mismatch("a datetime or an ISO 8601 string", value))


def _input_date(value: Any, path: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_date(value)
        except ValueError as exc:
            raise InvalidInputError(path, str(exc)) from None
    raise InvalidInputError(path, _mismatch("a date or an ISO 8601 date string", value))


_INPUT_SCALARS: dict[Any, InputHook] = {
    str: _input_str,
    int: _input_int,
    float: _input_float,
    bool: _input_bool,
    _NONE_TYPE: _input_none,
    Unset: _input_unset,
    dt.datetime: _input_datetime,
    dt.date: _input_date,
}


def _input_literal(tp: Any) -> InputHook:
    allowed = typing.get_args(tp)
    expected = " or ".join(repr(option) for option in allowed)

    def convert_literal(value: Any, path: str) -> Any:
        for option in allowed:
            if value == option and _same_kind(value, option):
                return option
        raise InvalidInputError(path, _mismatch(expected, value))

    return convert_literal


def _same_kind(value: Any, option: Any) -> bool:
    """``True`` when ``value`` may stand for the literal ``option`` (no ``True`` for ``1``)."""
    if isinstance(option, str):
        return isinstance(value, str)
    return type(value) is type(option)


def _input_open_enum(cls: type[OpenEnum]) -> InputHook:
    def convert_open_enum(value: Any, path: str) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(value)
        raise InvalidInputError(path, _mismatch(f"{cls.__name__} or its string value", value))

    return convert_open_enum


def _input_enum(cls: type[enum.Enum]) -> InputHook:
    def convert_enum(value: Any, path: str) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(repr(member.value) for member in cls)
            raise InvalidInputError(path, _mismatch(f"one of {choices}", value)) from None

    return convert_enum


def _input_instance(cls: type) -> InputHook:
    def convert_instance(value: Any, path: str) -> Any:
        if isinstance(value, cls):
            return value
        raise InvalidInputError(path, _mismatch(cls.__name__, value))

    return convert_instance


# ---------------------------------------------------------------------------
# Strict user input straight to wire data


_WIRE_PLAIN = frozenset({str, int, float, bool, _NONE_TYPE})
_WIRE_ITEMS: dict[Any, type] = {str: str, int: int, bool: bool}
_NO_CLASSES: frozenset[type] = frozenset()


class _WireInputConverter(_InputConverter):
    """Checks user input like :class:`_InputConverter` but returns its wire data.

    Each hook returns what ``unstructure(from_python(value))`` would, raising the same
    :class:`InvalidInputError` at the same point, without building model objects.
    Types it has no shortcut for are checked by the strict hook and then unstructured.
    """

    def __init__(
        self,
        unions: Mapping[frozenset[Any], UnionInfo],
        checks: _InputConverter,
        owner: Serializer,
    ) -> None:
        super().__init__(unions)
        self._checks = checks
        self._owner = owner
        self._fast: dict[Any, InputHook] = {}  # model -> its generated dict writer

    def _build(self, tp: Any) -> InputHook:
        if _is_any(tp):
            return self._any()
        if _is_model(tp):
            return self._model(tp)
        if _is_union(tp):
            return self._union(tp)
        if tp is list or typing.get_origin(tp) is list:
            return self._list(tp)
        if tp is dict or typing.get_origin(tp) is dict:
            return self._dict(tp)
        return self._composed(tp)

    def _composed(self, tp: Any) -> InputHook:
        """The strict check, then the wire converter's unstructure hook."""
        check = self._checks.hook(tp)
        unstructure = self._owner.converter.get_unstructure_hook(tp)
        if unstructure is identity:
            return check

        def wire_composed(value: Any, path: str) -> Any:
            return unstructure(check(value, path))

        return wire_composed

    def _any(self) -> InputHook:
        unstructure = self._owner.converter.unstructure

        def wire_any(value: Any, path: str) -> Any:
            return value if value.__class__ in _WIRE_PLAIN else unstructure(value)

        return wire_any

    def _list(self, tp: Any) -> InputHook:
        item_type = _item_type(tp)
        item_hook = self.hook(item_type)
        plain = _WIRE_ITEMS.get(item_type)
        if (
            plain is not None
            and self._owner.converter.get_unstructure_hook(item_type) is not identity
        ):
            plain = None

        def wire_list(value: Any, path: str) -> Any:
            if not isinstance(value, (list, tuple)):
                raise InvalidInputError(path, _mismatch("a list or tuple", value))
            if plain is not None and all(item.__class__ is plain for item in value):
                return list(value)
            return [item_hook(item, f"{path}[{index}]") for index, item in enumerate(value)]

        return wire_list

    def _dict(self, tp: Any) -> InputHook:
        key_type, value_type = _map_types(tp)
        key_hook = self.hook(key_type)
        value_hook = self.hook(value_type)

        def wire_dict(value: Any, path: str) -> Any:
            if not isinstance(value, Mapping):
                raise InvalidInputError(path, _mismatch("a dict", value))
            result = {}
            for key, item in value.items():
                item_path = f"{path}[{key!r}]"
                result[key_hook(key, item_path)] = value_hook(item, item_path)
            return result

        return wire_dict

    def _union(self, tp: Any) -> InputHook:
        branches, _, _ = _split_union(tp)
        if not branches or (
            len(branches) > 1 and not all(b in _SCALARS or _is_model(b) for b in branches)
        ):
            return self._composed(tp)
        return super()._union(tp)

    def _model(self, cls: type) -> InputHook:
        if not self._direct(cls):
            return self._composed(cls)
        fields = _declared_fields(cls)
        extra = additional_field(cls)
        self._hooks[cls] = self._late(cls)  # recursive models see the finished hook later
        # cattrs writes the required fields first, then the optional ones that are set
        ordered = sorted(fields, key=lambda field: field.default is not attrs.NOTHING)
        specs = [
            (f.name, _wire_name(f), f.default is not attrs.NOTHING, self.hook(f.type))
            for f in ordered
        ]
        keyed = [(*spec, self._plain(ordered[index].type)) for index, spec in enumerate(specs)]
        if extra is not None:
            keyed.append((extra.name, extra.name, True, self._additional(cls, extra), _NO_CLASSES))
        by_key = {spec[0]: spec for spec in keyed}
        for field in fields:
            by_key.setdefault(_wire_name(field), by_key[field.name])
        required = [field.name for field in fields if field.default is attrs.NOTHING]
        # key sets that need no closer look: one spelling throughout, required ones there
        python_keys = frozenset(spec[0] for spec in keyed)
        wire_keys = frozenset(spec[1] for spec in keyed if by_key.get(spec[1]) is spec)
        required_python = frozenset(required)
        required_wire = frozenset(_wire_name(f) for f in fields if f.default is attrs.NOTHING)
        hint = extra_name = None if extra is None else extra.name
        extra_hook = None if extra is None else keyed[-1][3]

        def wire_instance(value: Any, path: str) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, wire, optional, hook in specs:
                checked = hook(getattr(value, name), f"{path}.{name}")
                if checked is not UNSET or not optional:
                    out[wire] = checked
            if extra_hook is not None:
                more = extra_hook(getattr(value, str(extra_name)), f"{path}.{extra_name}")
                _add_undeclared(out, more)
            return out

        def wire_mapping(value: Mapping[Any, Any], path: str) -> dict[str, Any]:
            keys = value.keys()
            if not (
                (keys <= python_keys and required_python <= keys)
                or (keys <= wire_keys and required_wire <= keys)
            ):
                _check_keys(cls, value, path, by_key, required, hint)
            got: dict[str, Any] = {}
            for key, item in value.items():
                spec = by_key[key]
                if item.__class__ in spec[4]:
                    got[spec[0]] = item  # a plain scalar of the field's type: as it is
                else:
                    got[spec[0]] = spec[3](item, f"{path}.{key}")
            out: dict[str, Any] = {}
            for name, wire, optional, _ in specs:
                if name in got:
                    checked = got[name]
                    if checked is not UNSET or not optional:
                        out[wire] = checked
            if extra_name is not None and extra_name in got:
                _add_undeclared(out, got[extra_name])
            return out

        fast = self._writer(cls, keyed, by_key, extra is not None, wire_mapping)

        def wire_model(value: Any, path: str) -> Any:
            if value.__class__ is dict:
                return fast(value, path)
            if isinstance(value, cls):
                return wire_instance(value, path)
            if isinstance(value, Mapping):
                return wire_mapping(value, path)
            raise InvalidInputError(path, _mismatch(f"{cls.__name__} or a dict", value))

        return wire_model

    def _writer(
        self,
        cls: type,
        keyed: list[tuple[str, str, bool, InputHook, frozenset[type]]],
        by_key: Mapping[str, tuple[Any, ...]],
        has_extra: bool,
        slow: InputHook,
    ) -> InputHook:
        """The generated writer of ``cls`` for ``dict`` input (see :mod:`shared.wirefast`)."""
        types = {field.name: field.type for field in _declared_fields(cls)}
        fields = [
            WireField(
                python=name,
                wire=wire,
                wire_key=by_key.get(wire) is spec,
                required=not optional,
                hook=hook,
                plain=plain,
                nested=self._nested(types[name]),
            )
            for spec in (keyed[:-1] if has_extra else keyed)
            for name, wire, optional, hook, plain in [spec]
        ]
        extra = None
        if has_extra:
            name, _, _, hook, _ = keyed[-1]
            extra = WireField(python=name, wire=name, required=False, hook=hook)
        fast = write_mapping(cls.__name__, fields, extra, slow, _add_undeclared)
        self._fast[cls] = fast
        return fast

    def _nested(self, tp: Any) -> InputHook | None:
        """The writer of the one model ``tp`` holds (maybe optional), if it has one yet."""
        branches = _split_union(tp)[0] if _is_union(tp) else (tp,)
        if len(branches) != 1:
            return None
        return self._fast.get(branches[0])

    def _plain(self, tp: Any) -> frozenset[type]:
        """Classes of values that are their own wire data for ``tp`` (a scalar, maybe optional)."""
        branches, _, _ = _split_union(tp) if _is_union(tp) else ((tp,), False, False)
        if len(branches) != 1 or branches[0] not in _PLAIN:
            return _NO_CLASSES
        if self._owner.converter.get_unstructure_hook(branches[0]) is not identity:
            return _NO_CLASSES
        return frozenset(_PLAIN[branches[0]])

    def _direct(self, cls: type) -> bool:
        """Whether model ``cls`` is plain enough to be written without building it."""
        owner = self._owner
        if owner.converter.get_unstructure_hook(cls) is not owner._unstructure_hooks.get(cls):
            return False  # a hook registered by the caller
        if hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
            return False
        extra = additional_field(cls)
        if extra is not None and not extra.init:
            return False
        return all(
            field.init
            and field.validator is None
            and field.converter is None
            and (field.default is attrs.NOTHING or field.default is UNSET)
            for field in _declared_fields(cls)
        )

    def _additional(self, cls: type, field: attrs.Attribute[Any]) -> InputHook:
        """Checks undeclared fields like the strict hook; returns their wire values."""
        value_hook = self.hook(_additional_type(field))
        declared = {_wire_name(f): f.name for f in _declared_fields(cls)}

        def wire_additional(value: Any, path: str) -> Any:
            if not isinstance(value, Mapping):
                raise InvalidInputError(path, _mismatch("a dict", value))
            if not value:
                return value
            result = {}
            for key, item in value.items():
                item_path = f"{path}[{key!r}]"
                if not isinstance(key, str):
                    raise InvalidInputError(item_path, _mismatch("a str key", key))
                if key in declared:
                    problem = f"{key!r} is a declared field of {cls.__name__}"
                    raise InvalidInputError(item_path, f"{problem}; pass it as {declared[key]!r}")
                result[key] = value_hook(item, item_path)
            return result

        return wire_additional


def _add_undeclared(out: dict[str, Any], more: Mapping[str, Any]) -> None:
    """Append undeclared fields after the declared ones (which win a clash)."""
    for key, item in more.items():
        if key not in out:
            out[key] = item
