"""People, permissions and shortcuts in the embedded Glean server; and every stateful
operation's answer fits the spec's response schema."""

from __future__ import annotations

from typing import Any

import pytest

from glean_async import Glean, errors
from glean_async.testing import FakeGleanServer
from glean_async.utils import RetryConfig

pytestmark = pytest.mark.anyio
NO_RETRIES = RetryConfig("none")
ANN = {"email": "ann@example.com", "department": "Eng", "firstName": "Ann"}
BOB = {"email": "bob@example.com", "department": "Ops"}


def team(ident: str, *emails: str) -> dict[str, Any]:
    return {"id": ident, "name": f"Team {ident}", "members": [{"email": e} for e in emails]}


def user(email: str) -> dict[str, Any]:
    return {"email": email, "name": email.split("@")[0], "isActive": True}


def shortcut(alias: str, external: bool = True) -> dict[str, Any]:
    """A shortcut for bulk_index (an ExternalShortcut) or for upload (an IndexingShortcut)."""
    made = {"inputAlias": alias, "destinationUrl": f"https://x.io/{alias}", "createdBy": "ann"}
    return {**made, "intermediateUrl": f"https://go.x.io/{alias}"} if external else made


async def test_employees_and_teams(glean_server: FakeGleanServer, glean_client: Glean) -> None:
    people = glean_client.indexing.people
    await people.index(employee=ANN)
    await people.index(employee=BOB)
    await people.index(employee={**BOB, "department": "Sales"})
    assert glean_server.employees() == {
        "ann@example.com": ANN,
        "bob@example.com": {**BOB, "department": "Sales"},
    }
    await people.delete(employee_email="ann@example.com")
    assert list(glean_server.employees()) == ["bob@example.com"]
    await people.index_team(team=team("t1", "bob@example.com"))
    five = [f"t{n}" for n in range(1, 6)]
    for upload_id, ids in (("all", five), ("less", five[1:])):  # then t1 is 1 of 5 stale
        await people.bulk_index_teams(
            upload_id=upload_id,
            teams=[team(i) for i in ids],
            is_first_page=True,
            is_last_page=True,
        )
    assert sorted(glean_server.teams()) == five[1:]
    await people.delete_team(id="t3")
    assert sorted(glean_server.teams()) == ["t2", "t4", "t5"]
    assert glean_server.teams()["t2"] == team("t2")


async def test_users_groups_and_memberships(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    permissions = glean_client.indexing.permissions
    await permissions.index_user(datasource="wiki", user=user("ann@x.io"))
    await permissions.bulk_index_users(
        datasource="wiki",
        upload_id="u",
        users=[user("ann@x.io"), user("bob@x.io")],
        is_first_page=True,
        is_last_page=True,
    )
    await permissions.index_group(datasource="wiki", group={"name": "eng"})
    await permissions.bulk_index_groups(
        datasource="wiki",
        groups=[{"name": "eng"}, {"name": "ops"}],
        upload_id="g",
        is_first_page=True,
        is_last_page=True,
    )
    await permissions.index_membership(
        datasource="wiki", membership={"groupName": "eng", "memberUserId": "ann@x.io"}
    )
    await permissions.bulk_index_memberships(
        datasource="wiki",
        group="ops",
        memberships=[{"memberUserId": "bob@x.io"}, {"memberGroupName": "eng"}],
        upload_id="m",
        is_first_page=True,
        is_last_page=True,
    )
    assert sorted(glean_server.users("wiki")) == ["ann@x.io", "bob@x.io"]
    assert sorted(glean_server.groups("wiki")) == ["eng", "ops"]
    assert list(glean_server.memberships("wiki", "eng")) == ["ann@x.io"]
    assert sorted(glean_server.memberships("wiki", "ops")) == ["bob@x.io", "eng"]
    assert glean_server.items("memberships", "wiki/ops") == glean_server.memberships("wiki", "ops")
    assert len(glean_server.items("memberships")) == 3  # every key merged
    with pytest.warns(DeprecationWarning, match="indexing.people.count is deprecated"):
        count = await glean_client.indexing.people.count(datasource="wiki")
    assert count.user_count == 2
    debug = await glean_client.indexing.people.debug(datasource="wiki", email="ann@x.io")
    assert debug.status.upload_status == "UPLOADED" and debug.status.is_active_user is True
    assert [g.name for g in debug.uploaded_groups] == ["eng"]
    await permissions.delete_membership(
        datasource="wiki", membership={"groupName": "eng", "memberUserId": "ann@x.io"}
    )
    await permissions.delete_group(datasource="wiki", group_name="ops")
    await permissions.delete_user(datasource="wiki", email="bob@x.io")
    assert glean_server.memberships("wiki", "eng") == {}
    assert list(glean_server.groups("wiki")) == ["eng"]
    assert list(glean_server.users("wiki")) == ["ann@x.io"]
    assert glean_server.users("drive") == {}


async def test_users_need_their_id_field(glean_client: Glean) -> None:
    with pytest.raises(errors.GleanError) as caught:
        await glean_client.indexing.permissions.index_membership(
            datasource="wiki", membership={"groupName": "eng"}, retries=NO_RETRIES
        )
    assert caught.value.status_code == 400
    assert "memberships[0] has no 'memberUserId' or 'memberGroupName'" in caught.value.body


async def test_shortcuts_by_both_bulk_operations(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    shortcuts = glean_client.indexing.shortcuts
    await shortcuts.bulk_index(
        upload_id="s1",
        shortcuts=[shortcut(f"go/{n}") for n in range(5)],
        is_first_page=True,
        is_last_page=True,
    )
    await shortcuts.upload(
        upload_id="s2", shortcuts=[shortcut("go/0", external=False)], is_first_page=True
    )
    await shortcuts.upload(
        upload_id="s2",
        shortcuts=[shortcut(f"go/{n}", external=False) for n in range(1, 5)],
        is_last_page=True,
    )
    assert sorted(glean_server.shortcuts()) == [f"go/{n}" for n in range(5)]
    assert [(u.kind, u.key, u.finalized) for u in glean_server.uploads] == [
        ("shortcuts", "", True),
        ("shortcuts", "", True),
    ]


async def test_every_stateful_operation_answers_what_its_schema_allows(
    glean_server: FakeGleanServer, glean_client: Glean
) -> None:
    g = glean_client
    document = {"datasource": "wiki", "id": "d1", "title": "Vacation policy", "objectType": "Page"}
    page = {"upload_id": "u", "is_first_page": True, "is_last_page": True}
    await g.indexing.documents.index(datasource="wiki", documents=[document])
    await g.indexing.documents.add_or_update(document={**document, "id": "d2"})
    await g.indexing.documents.bulk_index(datasource="wiki", documents=[document], **page)
    with pytest.warns(DeprecationWarning):
        await g.indexing.documents.count(datasource="wiki")
        await g.indexing.documents.status(datasource="wiki", object_type="Page", doc_id="d1")
    await g.indexing.documents.debug(datasource="wiki", object_type="Page", doc_id="d1")
    await g.indexing.documents.debug_many(
        datasource="wiki", debug_documents=[{"object_type": "Page", "doc_id": "d1"}]
    )
    await g.indexing.datasource.status(datasource="wiki")
    await g.indexing.documents.delete(datasource="wiki", object_type="Page", id="d1")
    await g.indexing.people.index(employee=ANN)
    await g.indexing.people.bulk_index(employees=[ANN], **page)
    await g.indexing.people.delete(employee_email=ANN["email"])
    await g.indexing.people.index_team(team=team("t"))
    await g.indexing.people.bulk_index_teams(teams=[team("t")], **page)
    await g.indexing.people.delete_team(id="t")
    await g.indexing.permissions.index_user(datasource="wiki", user=user("a@x.io"))
    await g.indexing.permissions.bulk_index_users(datasource="wiki", users=[user("a@x.io")], **page)
    with pytest.warns(DeprecationWarning):
        await g.indexing.people.count(datasource="wiki")
    await g.indexing.people.debug(datasource="wiki", email="a@x.io")
    await g.indexing.people.debug(datasource="wiki", email="nobody@x.io")
    await g.indexing.permissions.delete_user(datasource="wiki", email="a@x.io")
    await g.indexing.permissions.index_group(datasource="wiki", group={"name": "eng"})
    await g.indexing.permissions.bulk_index_groups(
        datasource="wiki", groups=[{"name": "eng"}], **page
    )
    await g.indexing.permissions.delete_group(datasource="wiki", group_name="eng")
    membership = {"groupName": "eng", "memberUserId": "a@x.io"}
    await g.indexing.permissions.index_membership(datasource="wiki", membership=membership)
    await g.indexing.permissions.bulk_index_memberships(
        datasource="wiki", group="eng", memberships=[{"memberUserId": "a@x.io"}], **page
    )
    await g.indexing.permissions.delete_membership(datasource="wiki", membership=membership)
    await g.indexing.shortcuts.bulk_index(shortcuts=[shortcut("go/a")], **page)
    await g.indexing.shortcuts.upload(
        shortcuts=[shortcut("go/a", external=False)], **{**page, "upload_id": "v"}
    )
    await g.client.search.query(query="vacation")
    ask = [{"fragments": [{"text": "vacation?"}]}]
    await g.client.chat.create(messages=ask)
    async with await g.client.chat.create_stream(messages=ask) as lines:
        assert [line async for line in lines]

    answered = {r.name for r in glean_server.requests if r.status == 200}
    assert answered >= set(glean_server.handlers)  # every stateful operation was called
    for record in glean_server.requests:
        assert record.valid, record.errors
        assert glean_server.answer_errors(record) == [], record.name
    assert glean_server.violations == []
