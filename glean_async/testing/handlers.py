"""The stateful answers of the embedded Glean server, per operation (indexing API).

Each handler reads a validated request body, applies it to :class:`GleanState` and
answers what the spec declares for the operation, shaped from the state. A request the
state refuses raises :class:`StateError`, answered as JSON problem details
(``{"type": "urn:glean-fake:<reason>", "title", "status", "detail"}``).

- Bulk (``BULK``): one page of the kind's upload state machine.
- Incremental (``INCREMENTAL``, ``DELETES``): upsert or delete by the natural id; the
  documents of a request must name its datasource.
- Reads: ``/getdocumentcount``, ``/getdocumentstatus``, ``debug/{datasource}/document(s)``
  and ``debug/{datasource}/user`` from the store; ``/getusercount`` counts the
  datasource's (permission) users, as Glean's does; ``debug/{datasource}/status`` has the
  counts, and the upload history where the spec's schema can hold it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from shared.testing.openapi import Answer, Call, OpenAPISpec

from .state import (
    GLOBAL_KINDS,
    STALE_FLAG,
    STALE_FLAGS,
    Arrival,
    GleanState,
    Page,
    StateError,
    UploadRecord,
    item_id,
    membership_key,
    require_id,
)

JSON = Any
Handler = Callable[[Call], Answer]

# bulk operation -> (kind, the body field holding the page's items)
BULK: dict[str, tuple[str, str]] = {
    "indexing.documents.bulk_index": ("documents", "documents"),
    "indexing.people.bulk_index": ("employees", "employees"),
    "indexing.people.bulk_index_teams": ("teams", "teams"),
    "indexing.permissions.bulk_index_users": ("users", "users"),
    "indexing.permissions.bulk_index_groups": ("groups", "groups"),
    "indexing.permissions.bulk_index_memberships": ("memberships", "memberships"),
    "indexing.shortcuts.bulk_index": ("shortcuts", "shortcuts"),
    "indexing.shortcuts.upload": ("shortcuts", "shortcuts"),
}
# incremental operation -> (kind, the body field of its item(s), whether a list)
INCREMENTAL: dict[str, tuple[str, str, bool]] = {
    "indexing.documents.index": ("documents", "documents", True),
    "indexing.documents.add_or_update": ("documents", "document", False),
    "indexing.people.index": ("employees", "employee", False),
    "indexing.people.index_team": ("teams", "team", False),
    "indexing.permissions.index_user": ("users", "user", False),
    "indexing.permissions.index_group": ("groups", "group", False),
    "indexing.permissions.index_membership": ("memberships", "membership", False),
}
# delete operation -> (kind, the body field naming the id)
DELETES: dict[str, tuple[str, str]] = {
    "indexing.documents.delete": ("documents", "id"),
    "indexing.people.delete": ("employees", "employeeEmail"),
    "indexing.people.delete_team": ("teams", "id"),
    "indexing.permissions.delete_user": ("users", "email"),
    "indexing.permissions.delete_group": ("groups", "groupName"),
}


def problem(status: int, reason: str, detail: str) -> Answer:
    """A JSON problem-details answer (RFC 9457) naming the reason."""
    body = {
        "type": f"urn:glean-fake:{reason}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    return Answer(status, body, content_type="application/problem+json")


def body_of(call: Call) -> dict[str, Any]:
    return call.body if isinstance(call.body, dict) else {}


# -- reading requests --------------------------------------------------------------------


def bulk_page(name: str, body: JSON) -> Page | None:
    """The bulk page a request of ``name`` carries, or None (not a bulk operation)."""
    if name not in BULK or not isinstance(body, dict):
        return None
    kind, field = BULK[name]
    items = body.get(field)
    return Page(
        kind=kind,
        key=_key(kind, body),
        upload_id=str(body.get("uploadId", "")),
        items=items if isinstance(items, list) else [],
        first=body.get("isFirstPage") is True,
        last=body.get("isLastPage") is True,
        force_restart=body.get("forceRestartUpload") is True,
        skip_stale_check=body.get(STALE_FLAGS.get(kind, STALE_FLAG)) is True,
    )


def request_ids(name: str, body: JSON) -> list[str]:
    """The item ids a request carries or names (for ``Faults.reject_ids``)."""
    if not isinstance(body, dict):
        return []
    page = bulk_page(name, body)
    if page is not None:
        return [i for i in (item_id(page.kind, item) for item in page.items) if i]
    if name in INCREMENTAL:
        kind, field, many = INCREMENTAL[name]
        items = body.get(field) if many else [body.get(field)]
        return [i for i in (item_id(kind, item) for item in items or []) if i]
    if name in DELETES:
        ident = body.get(DELETES[name][1])
        return [ident] if isinstance(ident, str) else []
    if name == "indexing.permissions.delete_membership":
        return [i for i in [item_id("memberships", body.get("membership"))] if i]
    return []


def _key(kind: str, body: dict[str, Any]) -> str:
    """The store key of a request's items: datasource, datasource/group, or ""."""
    if kind in GLOBAL_KINDS:
        return ""
    datasource = str(body.get("datasource", ""))
    if kind == "memberships":
        membership = body.get("membership")
        group = membership.get("groupName") if isinstance(membership, dict) else None
        return membership_key(datasource, body.get("group", group))
    return datasource


def _same_datasource(items: list[JSON], datasource: str) -> None:
    """Documents of a request must name the request's datasource."""
    for index, item in enumerate(items):
        named = item.get("datasource") if isinstance(item, dict) else None
        if named != datasource:
            raise StateError(
                400,
                "datasource-mismatch",
                f"documents[{index}].datasource is {named!r}, the request's is {datasource!r}",
            )


# -- the handlers ------------------------------------------------------------------------


class IndexingHandlers:
    """The indexing API's stateful operations over one :class:`GleanState`.

    ``spec`` checks answers whose schema may refuse a part (see ``datasource_status``).
    """

    def __init__(self, state: GleanState, spec: OpenAPISpec) -> None:
        self.state = state
        self.spec = spec

    def table(self) -> dict[str, Handler]:
        """Operation name -> handler."""
        table: dict[str, Handler] = {name: self.bulk for name in BULK}
        table.update({name: self.index for name in INCREMENTAL})
        table.update({name: self.delete for name in DELETES})
        table.update(
            {
                "indexing.permissions.delete_membership": self.delete_membership,
                "indexing.documents.count": self.document_count,
                "indexing.documents.status": self.document_status,
                "indexing.documents.debug": self.debug_document,
                "indexing.documents.debug_many": self.debug_documents,
                "indexing.datasource.status": self.datasource_status,
                "indexing.people.count": self.user_count,
                "indexing.people.debug": self.debug_user,
            }
        )
        return table

    # -- writes -----------------------------------------------------------------------

    def bulk(self, call: Call) -> Answer:
        page = bulk_page(call.op.name, call.body)
        assert page is not None
        if page.kind == "documents":
            _same_datasource(page.items, page.key)
        arrival = call.context.get("arrival") or Arrival()
        call.context["page"] = self.state.bulk_page(page, arrival)
        return Answer(200)

    def index(self, call: Call) -> Answer:
        kind, field, many = INCREMENTAL[call.op.name]
        body = body_of(call)
        items = body.get(field, []) if many else [body.get(field)]
        if call.op.name == "indexing.documents.add_or_update":
            key = str((body.get("document") or {}).get("datasource", ""))
        else:
            key = _key(kind, body)
        if kind == "documents":
            _same_datasource(items, key)
        for index, item in enumerate(items):
            require_id(kind, item, index)
        self.state.upsert(kind, key, items)
        return Answer(200)

    def delete(self, call: Call) -> Answer:
        kind, field = DELETES[call.op.name]
        body = body_of(call)
        self.state.delete(kind, _key(kind, body), str(body.get(field, "")))
        return Answer(200)

    def delete_membership(self, call: Call) -> Answer:
        body = body_of(call)
        ident = require_id("memberships", body.get("membership"), 0)
        self.state.delete("memberships", _key("memberships", body), ident)
        return Answer(200)

    # -- reads ------------------------------------------------------------------------

    def document_count(self, call: Call) -> Answer:
        datasource = str(body_of(call).get("datasource", ""))
        return Answer.json({"documentCount": len(self.state.items("documents", datasource))})

    def user_count(self, call: Call) -> Answer:
        datasource = str(body_of(call).get("datasource", ""))
        return Answer.json({"userCount": len(self.state.items("users", datasource))})

    def document_status(self, call: Call) -> Answer:
        body = body_of(call)
        where = ("documents", str(body.get("datasource", "")), str(body.get("docId", "")))
        stamp = self.state.stamp(*where)
        if stamp is None:
            return Answer.json({"uploadStatus": "NOT_UPLOADED", "indexingStatus": "NOT_INDEXED"})
        return Answer.json(
            {
                "uploadStatus": "UPLOADED",
                "indexingStatus": "INDEXED",
                "lastUploadedAt": int(stamp),
                "lastIndexedAt": int(stamp),
            }
        )

    def debug_document(self, call: Call) -> Answer:
        datasource = call.request.match_info.get("datasource", "")
        return Answer.json(self._debug_info(datasource, str(body_of(call).get("docId", ""))))

    def debug_documents(self, call: Call) -> Answer:
        datasource = call.request.match_info.get("datasource", "")
        statuses = []
        for wanted in body_of(call).get("debugDocuments") or []:
            doc_id = str(wanted.get("docId", ""))
            statuses.append(
                {
                    "docId": doc_id,
                    "objectType": str(wanted.get("objectType", "")),
                    "debugInfo": self._debug_info(datasource, doc_id),
                }
            )
        return Answer.json({"documentStatuses": statuses})

    def _debug_info(self, datasource: str, doc_id: str) -> dict[str, Any]:
        """DebugDocumentResponse of one document."""
        document = self.state.get("documents", datasource, doc_id)
        stamp = self.state.stamp("documents", datasource, doc_id)
        if document is None or stamp is None:
            return {"status": {"uploadStatus": "NOT_UPLOADED", "indexingStatus": "NOT_INDEXED"}}
        info: dict[str, Any] = {
            "status": {
                "uploadStatus": "UPLOADED",
                "indexingStatus": "INDEXED",
                "lastUploadedAt": _iso(stamp),
                "lastIndexedAt": _iso(stamp),
                "permissionIdentityStatus": "UPLOADED",
            }
        }
        if isinstance(document.get("permissions"), dict):
            info["uploadedPermissions"] = document["permissions"]
        return info

    def debug_user(self, call: Call) -> Answer:
        datasource = call.request.match_info.get("datasource", "")
        email = str(body_of(call).get("email", ""))
        user = self.state.get("users", datasource, email)
        stamp = self.state.stamp("users", datasource, email)
        if user is None or stamp is None:
            return Answer.json({"status": {"uploadStatus": "NOT_UPLOADED"}})
        groups = [
            {"name": key.split("/", 1)[1]}
            for key in self.state.keys("memberships")
            if key.startswith(f"{datasource}/") and email in self.state.items("memberships", key)
        ]
        status = {
            "uploadStatus": "UPLOADED",
            "isActiveUser": user.get("isActive", True) is not False,
            "lastUploadedAt": _iso(stamp),
        }
        return Answer.json({"status": status, "uploadedGroups": groups})

    def datasource_status(self, call: Call) -> Answer:
        datasource = call.request.match_info.get("datasource", "")
        uploads = [u for u in self.state.uploads if u.started]
        identity = {
            kind: {
                "bulkUploadHistory": _history(u for u in uploads if _of(u, kind, datasource)),
                "counts": {"uploaded": self._identity_count(kind, datasource)},
            }
            for kind in ("users", "groups", "memberships")
        }
        documents = self.state.items("documents", datasource)
        counts = _counts_by_type(documents.values())
        document_part: dict[str, Any] = {
            "bulkUploadHistory": _history(u for u in uploads if _of(u, "documents", datasource)),
            "counts": {"uploaded": counts, "indexed": counts},
        }
        answer = {
            "datasourceVisibility": "ENABLED_FOR_ALL",
            "documents": document_part,
            "identity": identity,
        }
        if not self._fits(call, answer):
            # some specs declare bulkUploadHistory both an array ($ref) and an object
            # (its sibling ``type``), which no value fits: then it is left out
            for part in (document_part, *identity.values()):
                part.pop("bulkUploadHistory")
        return Answer.json(answer)

    def _fits(self, call: Call, body: JSON) -> bool:
        """Whether a body fits the operation's declared success schema."""
        where = call.op.media_pointer(str(call.op.content_type)) + "/schema"
        return not self.spec.schema_errors(body, where)

    def _identity_count(self, kind: str, datasource: str) -> int:
        if kind != "memberships":
            return len(self.state.items(kind, datasource))
        keys = [k for k in self.state.keys(kind) if k.startswith(f"{datasource}/")]
        return sum(len(self.state.items(kind, key)) for key in keys)


def _of(upload: UploadRecord, kind: str, datasource: str) -> bool:
    if upload.kind != kind:
        return False
    key = upload.key.split("/", 1)[0] if kind == "memberships" else upload.key
    return key == datasource


def _history(uploads: Any) -> list[dict[str, Any]]:
    """BulkUploadHistoryEvent of each upload."""
    events = []
    for upload in uploads:
        event: dict[str, Any] = {
            "uploadId": upload.upload_id,
            "status": "SUCCESSFUL" if upload.finalized else "ACTIVE",
            "processingState": upload.processing_state,
        }
        if upload.started_at is not None:
            event["startTime"] = _iso(upload.started_at)
        if upload.ended_at is not None:
            event["endTime"] = _iso(upload.ended_at)
        events.append(event)
    return events


def _counts_by_type(documents: Any) -> list[dict[str, Any]]:
    counts: dict[str, int] = {}
    for document in documents:
        object_type = str(document.get("objectType") or "")
        counts[object_type] = counts.get(object_type, 0) + 1
    return [{"objectType": name, "count": count} for name, count in sorted(counts.items())]


def _iso(stamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(stamp, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
