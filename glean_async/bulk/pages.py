"""Items serialized once, and pages cut from them by count and by body size.

:class:`ItemEncoder` validates each input item straight into its wire data (either
spelling, the upload's datasource filled in) and encodes it to JSON bytes once; a page body is
then the request envelope around those bytes joined with commas (:class:`Envelope`,
:meth:`Page.body`), never serialized again, and its size is known before it is built.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared import jsontext
from shared.unset import UNSET

from .positions import bytes_key
from .report import ItemFailure

if TYPE_CHECKING:
    from shared.serialization import Serializer

    from .kinds import Kind

__all__ = ["Cutter", "Encoded", "Encoder", "Envelope", "IdEncoder", "ItemEncoder", "Page"]

_COMMA = b","


class Encoded:
    """One valid item: its input position, id, digest key and JSON bytes."""

    __slots__ = ("data", "id", "key", "position")

    def __init__(self, position: int, id: str | None, data: bytes) -> None:
        self.position = position
        self.id = id
        self.key = id if id is not None else bytes_key(data)
        self.data = data

    def __repr__(self) -> str:
        return f"<Encoded {self.position} id={self.id!r} {len(self.data)} bytes>"


class Page:
    """Items sent in one request; ``number`` counts pages from 0 in input order."""

    __slots__ = ("items", "number", "size")

    def __init__(self, number: int, items: list[Encoded], size: int) -> None:
        self.number = number
        self.items = items
        self.size = size  # body size with the largest envelope

    def body(self, prefix: bytes, suffix: bytes) -> bytes:
        return b"".join((prefix, _COMMA.join([item.data for item in self.items]), suffix))

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"<Page {self.number}: {len(self.items)} items, {self.size} bytes>"


def _json(value: Any) -> bytes:
    return jsontext.dumps(value)


def _fields(fields: Mapping[str, Any]) -> bytes:
    """``"name":value,`` for each field."""
    return b"".join(b"%s:%s," % (_json(name), _json(value)) for name, value in fields.items())


class Envelope:
    """The request body around a page's items: upload-wide fields, page flags, the array.

    ``fields`` are the upload-wide wire fields (``uploadId``, ``datasource``, ...);
    ``first_only`` go on the first page only (``forceRestartUpload``), ``last_only`` on
    the last page only (the stale-deletion flag); ``flags``:
    send ``isFirstPage`` / ``isLastPage``; ``single``: ``items_field`` holds one item.
    """

    def __init__(
        self,
        items_field: str,
        fields: Mapping[str, Any],
        first_only: Mapping[str, Any] | None = None,
        last_only: Mapping[str, Any] | None = None,
        *,
        flags: bool = True,
        single: bool = False,
    ) -> None:
        self._head = _fields(fields)
        self._first = _fields(first_only or {})
        self._last = _fields(last_only or {})
        # single: the field holds one item (a request per item), not an array
        self._array = b"%s:" % _json(items_field) if single else b"%s:[" % _json(items_field)
        self._flags = flags
        self.suffix = b"}" if single else b"]}"
        self._prefixes = {
            (first, last): self._prefix(first, last)
            for first in (False, True)
            for last in (False, True)
        }
        self.overhead = max(len(prefix) for prefix in self._prefixes.values()) + len(self.suffix)

    def _prefix(self, first: bool, last: bool) -> bytes:
        parts = [b"{", self._head]
        if first:
            parts.append(self._first)
        if last:
            parts.append(self._last)
        if self._flags and first:
            parts.append(b'"isFirstPage":true,')
        if self._flags and last:
            parts.append(b'"isLastPage":true,')
        parts.append(self._array)
        return b"".join(parts)

    def prefix(self, *, first: bool = False, last: bool = False) -> bytes:
        return self._prefixes[first, last]

    def body(self, page: Page, *, first: bool = False, last: bool = False) -> bytes:
        return page.body(self._prefixes[first, last], self.suffix)


class Encoder:
    """Turns input items into :class:`Encoded` items or failures (``limit``: the largest
    item, in bytes, a page can hold)."""

    limit: int

    def encode(self, position: int, item: Any) -> Encoded | ItemFailure:
        """The item as :class:`Encoded`, or why it cannot be sent (never raises for it)."""
        raise NotImplementedError

    def raw_key(self, item: Any) -> str | None:
        """The digest key of an item as given, without encoding it (``None``: unknown)."""
        raise NotImplementedError

    def encode_many(self, start: int, items: list[Any]) -> tuple[list[Encoded], list[ItemFailure]]:
        """:meth:`encode` of each item, the first at position ``start``: the valid ones
        and the failures, each in input order."""
        good: list[Encoded] = []
        bad: list[ItemFailure] = []
        for position, item in enumerate(items, start):
            encoded = self.encode(position, item)
            if isinstance(encoded, ItemFailure):
                bad.append(encoded)
            else:
                good.append(encoded)
        return good, bad


class ItemEncoder(Encoder):
    """Validates and encodes input items for one kind."""

    def __init__(
        self, kind: Kind, serializer: Serializer, datasource: str | None, limit: int
    ) -> None:
        self._kind = kind
        self._model = kind.model_type
        self._serializer = serializer
        self._to_wire = serializer.to_wire_hook(kind.model_type)
        self._dumps = serializer.encode_json
        self._id_keys = tuple(wire_name for _, wire_name in kind.raw_id_keys)
        self._fill = datasource if kind.fills_datasource else None
        self._field = kind.items_field
        self._writer = serializer.dict_writer(kind.model_type)
        self._dumps_all = serializer.encode_json_all
        self.limit = limit

    def encode_many(self, start: int, items: list[Any]) -> tuple[list[Encoded], list[ItemFailure]]:
        """Plain dicts that carry the datasource (when it is filled in) go straight to
        the model's dict writer and are encoded together; any other item, and any item
        the quick way finds fault with, goes through :meth:`encode`, which gives the
        exact failure."""
        writer, fill, field = self._writer, self._fill, self._field
        if writer is None:
            return super().encode_many(start, items)
        positions: list[int] = []
        wires: list[Any] = []
        slow: list[int] = []  # positions for encode()
        for position, item in enumerate(items, start):
            if item.__class__ is dict and (fill is None or "datasource" in item):
                try:
                    wires.append(writer(item, field))  # the path is only for errors
                    positions.append(position)
                    continue
                except (TypeError, ValueError):
                    pass
            slow.append(position)
        good = self._encoded_all(positions, wires, slow)
        if not slow:
            return good, []
        rest = [self.encode(position, items[position - start]) for position in slow]
        return self._merged(good, rest)

    def _encoded_all(
        self, positions: list[int], wires: list[Any], slow: list[int]
    ) -> list[Encoded]:
        """The checked wire data as :class:`Encoded` items; the position of one that
        needs a closer look (no datasource, an id that is not a ``str``, too large, not
        encodable) is added to ``slow`` instead."""
        try:
            datas = self._dumps_all(wires)
        except (TypeError, ValueError):
            slow.extend(positions)  # told apart one by one
            return []
        good: list[Encoded] = []
        id_keys, fill, limit = self._id_keys, self._fill, self.limit
        for position, wire, data in zip(positions, wires, datas, strict=True):
            item_id = None
            for key in id_keys:
                item_id = wire.get(key)
                if item_id is not None:
                    break
            if (
                (item_id is not None and item_id.__class__ is not str)
                or (fill is not None and "datasource" not in wire)
                or len(data) > limit
            ):
                slow.append(position)
            else:
                good.append(Encoded(position, item_id, data))
        return good

    @staticmethod
    def _merged(
        good: list[Encoded], rest: list[Encoded | ItemFailure]
    ) -> tuple[list[Encoded], list[ItemFailure]]:
        """``good`` and the outcomes of the items looked at one by one, in input order."""
        bad = [item for item in rest if isinstance(item, ItemFailure)]
        good = good + [item for item in rest if isinstance(item, Encoded)]
        good.sort(key=lambda item: item.position)
        bad.sort(key=lambda item: item.position)
        return good, bad

    def encode(self, position: int, item: Any) -> Encoded | ItemFailure:
        try:
            item_id, data = self._encoded(position, item)
        except (TypeError, ValueError) as exc:  # InvalidInputError is both
            return ItemFailure(position, self._kind.raw_id_of(item), f"invalid: {exc}")
        if len(data) > self.limit:
            reason = (
                f"too large: {len(data)} bytes serialized, more than the {self.limit} a page "
                "body under max_batch_bytes leaves for one item; not sent"
            )
            return ItemFailure(position, item_id, reason)
        return Encoded(position, item_id, data)

    def _encoded(self, position: int, item: Any) -> tuple[str | None, bytes]:
        """The id and JSON bytes of a valid item: checked straight into wire data."""
        name = f"{self._field}[{position}]"
        wire = self._to_wire(self._filled(item), name)
        if self._fill is not None and "datasource" not in wire:
            return self._encoded_model(item, name)  # a model (or dict) leaving it UNSET
        item_id = None
        for key in self._id_keys:  # Kind.id_of, read from the wire data
            item_id = wire.get(key)
            if item_id is not None:
                if item_id.__class__ is not str:
                    return self._encoded_model(item, name)  # only the model can tell
                break
        return item_id, self._dumps(wire)

    def _encoded_model(self, item: Any, name: str) -> tuple[str | None, bytes]:
        """The id and JSON bytes of an item through its model (datasource filled in)."""
        model = self._serializer.from_python(self._filled(item), self._model, name)
        if self._fill is not None and getattr(model, "datasource", None) is UNSET:
            model = copy.copy(model)
            object.__setattr__(model, "datasource", self._fill)
        return self._kind.id_of(model), self._serializer.dumps(model)

    def raw_key(self, item: Any) -> str | None:
        return self._kind.raw_id_of(item)

    def _filled(self, item: Any) -> Any:
        if self._fill is None:
            return item
        if item.__class__ is not dict and not isinstance(item, Mapping):
            return item  # a model: filled in after validation, see _encoded_model
        if "datasource" in item:
            return item
        return {**item, "datasource": self._fill}


class Cutter:
    """Collects encoded items into pages of at most ``batch_size`` items whose body,
    with the largest envelope (``overhead`` bytes), stays within ``max_bytes``."""

    def __init__(self, batch_size: int, max_bytes: int, overhead: int) -> None:
        self._batch_size = batch_size
        self._max_bytes = max_bytes
        self._overhead = overhead
        self._items: list[Encoded] = []
        self._size = overhead
        self._number = 0

    def add(self, item: Encoded) -> Page | None:
        """Add ``item``; returns the page it did not fit in, when one is complete."""
        items = self._items
        done = None
        if items and (
            len(items) >= self._batch_size or self._size + 1 + len(item.data) > self._max_bytes
        ):
            done = self._take()
            items = self._items
        self._size += len(item.data) + (1 if items else 0)
        items.append(item)
        return done

    def add_many(self, items: list[Encoded]) -> list[Page]:
        """:meth:`add` of each item; the pages completed on the way."""
        done: list[Page] = []
        batch_size, max_bytes = self._batch_size, self._max_bytes
        for item in items:
            size = len(item.data)
            page = self._items
            if page and (len(page) >= batch_size or self._size + 1 + size > max_bytes):
                done.append(self._take())
                page = self._items
            self._size += size + 1 if page else size
            page.append(item)
        return done

    def flush(self) -> Page | None:
        """The page being filled, if it has items."""
        return self._take() if self._items else None

    def empty_page(self) -> Page:
        """A page without items (an empty upload, or a last page with nothing left)."""
        page = Page(self._number, [], self._overhead)
        self._number += 1
        return page

    def _take(self) -> Page:
        page = Page(self._number, self._items, self._size)
        self._number += 1
        self._items = []
        self._size = self._overhead
        return page


class IdEncoder(Encoder):
    """Document ids (non-empty strings) for one delete request each."""

    def __init__(self, field: str, limit: int) -> None:
        self._field = field
        self.limit = limit

    def encode(self, position: int, item: Any) -> Encoded | ItemFailure:
        if not isinstance(item, str) or not item:
            problem = f"expected a non-empty str, got {type(item).__name__} {item!r:.80}"
            return ItemFailure(position, None, f"invalid: '{self._field}[{position}]': {problem}")
        data = _json(item)
        if len(data) > self.limit:
            return ItemFailure(position, item, f"too large: {len(data)} bytes; not sent")
        return Encoded(position, item, data)

    def raw_key(self, item: Any) -> str | None:
        return item if isinstance(item, str) else None
