"""What differs between the bulk endpoints: one :class:`Kind` per kind of item.

Each kind says which operation sends a page, under which body field the items go, which
model validates an item, how an item's id is read, and which upload-wide fields the
body carries (datasource, group, the stale-deletion flag).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any, Literal, cast

import attrs

from shared.models import Model
from shared.operation import Operation
from shared.unset import UNSET

__all__ = ["KINDS", "Kind", "kind"]

Scope = Literal["none", "datasource", "group"]


@attrs.frozen(slots=False)  # slots=False: room for the cached properties
class Kind:
    """One bulk endpoint.

    ``id_fields``: Python attribute names tried in order for an item's id (the first
    set one). ``stale_flag``: wire name of the body field that turns off the server's
    stale-deletion safety check, if the endpoint has one. ``ordered``: an upload (first,
    middle, last pages); otherwise independent batches (``/indexdocuments``).
    """

    name: str
    operation: str
    items_field: str
    model: str
    id_fields: tuple[str, ...]
    scope: Scope = "datasource"
    stale_flag: str | None = None
    fills_datasource: bool = False
    ordered: bool = True

    @functools.cached_property
    def op(self) -> Operation:
        module = importlib.import_module("glean_async._generated.operations_indexing")
        op: Operation = getattr(module, self.operation)
        return op

    @functools.cached_property
    def model_type(self) -> type[Model]:
        from glean_async._generated import models

        cls: type[Model] = getattr(models, self.model)
        return cls

    @functools.cached_property
    def raw_id_keys(self) -> tuple[tuple[str, str], ...]:
        """``(python name, wire name)`` of each id field, for reading ids from dicts."""
        fields = {field.name: field for field in attrs.fields(cast(Any, self.model_type))}
        return tuple(
            (name, fields[name].metadata.get("json", name) or name) for name in self.id_fields
        )

    def id_of(self, model: Any) -> str | None:
        """The id of a validated item (``None`` when it has none)."""
        for name in self.id_fields:
            value = getattr(model, name, UNSET)
            if value is not UNSET and value is not None:
                return str(value)
        return None

    def raw_id_of(self, item: Any) -> str | None:
        """The id of an item as given (a model or a dict in either spelling), unchecked."""
        if isinstance(item, Mapping):
            for py_name, wire_name in self.raw_id_keys:
                value = item.get(py_name, item.get(wire_name))
                if isinstance(value, str):
                    return value
            return None
        if isinstance(item, self.model_type):
            return self.id_of(item)
        return None


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "documents",
            "INDEXING_DOCUMENTS_BULK_INDEX",
            "documents",
            "DocumentDefinition",
            ("id", "view_url"),
            stale_flag="disableStaleDocumentDeletionCheck",
            fills_datasource=True,
        ),
        Kind(
            "employees",
            "INDEXING_PEOPLE_BULK_INDEX",
            "employees",
            "EmployeeInfoDefinition",
            ("id", "email"),
            scope="none",
            stale_flag="disableStaleDataDeletionCheck",
        ),
        Kind(
            "teams",
            "INDEXING_PEOPLE_BULK_INDEX_TEAMS",
            "teams",
            "TeamInfoDefinition",
            ("id",),
            scope="none",
        ),
        Kind(
            "users",
            "INDEXING_PERMISSIONS_BULK_INDEX_USERS",
            "users",
            "DatasourceUserDefinition",
            ("email", "user_id"),
            stale_flag="disableStaleDataDeletionCheck",
        ),
        Kind(
            "groups",
            "INDEXING_PERMISSIONS_BULK_INDEX_GROUPS",
            "groups",
            "DatasourceGroupDefinition",
            ("name",),
            stale_flag="disableStaleDataDeletionCheck",
        ),
        Kind(
            "memberships",
            "INDEXING_PERMISSIONS_BULK_INDEX_MEMBERSHIPS",
            "memberships",
            "DatasourceBulkMembershipDefinition",
            ("member_user_id", "member_group_name"),
            scope="group",
        ),
        Kind(
            "shortcuts",
            "INDEXING_SHORTCUTS_BULK_INDEX",
            "shortcuts",
            "ExternalShortcut",
            ("input_alias",),
            scope="none",
        ),
        Kind(
            "index_documents",
            "INDEXING_DOCUMENTS_INDEX",
            "documents",
            "DocumentDefinition",
            ("id", "view_url"),
            fills_datasource=True,
            ordered=False,
        ),
    )
}


def kind(name: str) -> Kind:
    """The :class:`Kind` called ``name``; :class:`ValueError` naming the known ones."""
    found = KINDS.get(name)
    if found is None or not found.ordered:
        known = ", ".join(sorted(k for k, v in KINDS.items() if v.ordered))
        raise ValueError(f"unknown bulk kind {name!r} (one of: {known})")
    return found
