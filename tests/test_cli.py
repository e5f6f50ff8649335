"""The command line (glean_async.cli): bulk-index, delete, search against the embedded server.

Most tests call ``cli.main`` in process (stdout/stderr captured); a few run
``python -m glean_async`` as a subprocess (standard input, the entry point, exit codes).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glean_async import cli
from glean_async.bulk import BulkReport
from glean_async.jsonl import JSONLError, count_objects, read_objects
from glean_async.testing import FakeGleanServer, Faults
from shared.testing import LocalAppServer

TOKEN = "tok-SECRET-cli-4242"
ROOT = Path(__file__).resolve().parents[1]
BULK = "indexing.documents.bulk_index"
datasource_names = (f"ds{n}" for n in itertools.count())


def document(number: int, *, wire: bool = True, title: str | None = None) -> dict[str, Any]:
    """A document in the wire spelling or the Python one."""
    names = ("viewURL", "objectType") if wire else ("view_url", "object_type")
    return {
        "id": f"d{number}",
        "title": title if title is not None else f"Document {number}",
        names[0]: f"https://wiki.example.com/d{number}",
        names[1]: "Article",
        "body": {"mimeType" if wire else "mime_type": "text/plain", "textContent": "text"},
    }


def write_jsonl(path: Path, documents: list[dict[str, Any]], extra: str = "") -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents) + extra, encoding="utf-8")
    return path


@pytest.fixture
def env(glean_server: FakeGleanServer, monkeypatch: pytest.MonkeyPatch) -> FakeGleanServer:
    monkeypatch.setenv("GLEAN_API_TOKEN", TOKEN)
    monkeypatch.setenv("GLEAN_SERVER_URL", glean_server.url)
    monkeypatch.delenv("GLEAN_INSTANCE", raising=False)
    return glean_server


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    """The one ``glean-async: error:`` line of stderr (progress lines aside); no traceback."""
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    return errors[0]


# -- JSON Lines ---------------------------------------------------------------------------

scalars = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=4,
)
objects = st.dictionaries(st.text(max_size=8), values, max_size=4)
jsonl = settings(max_examples=40, deadline=None)


@jsonl
@given(st.lists(st.tuples(objects, st.sampled_from(["", "\n", "  \n", "\t\r\n"])), max_size=8))
def test_jsonl_objects_come_back_in_order_blank_lines_skipped(rows: list[tuple[Any, str]]) -> None:
    text = "".join(json.dumps(obj) + "\n" + blank for obj, blank in rows)
    for lines in (io.StringIO(text), io.BytesIO(text.encode())):
        assert list(read_objects(lines, "docs.jsonl")) == [obj for obj, _ in rows]
    assert count_objects(io.BytesIO(text.encode()), "docs.jsonl") == len(rows)


@jsonl
@given(
    st.lists(objects, max_size=6),
    st.sampled_from(["{", '{"a": 1,}', "[1, 2]", '"text"', "3", "null", "true", "{} {}"]),
    st.lists(objects, max_size=3),
)
def test_jsonl_bad_line_is_named_by_its_number(
    before: list[Any], bad: str, after: list[Any]
) -> None:
    lines = [json.dumps(obj) for obj in before] + [bad] + [json.dumps(obj) for obj in after]
    reader = read_objects(io.StringIO("\n".join(lines) + "\n"), "docs.jsonl")
    assert [next(reader) for _ in before] == before  # the good lines before it come through
    with pytest.raises(JSONLError) as caught:
        next(reader)
    assert caught.value.line == len(before) + 1
    assert str(caught.value).startswith(f"docs.jsonl, line {len(before) + 1}: ")


def test_jsonl_invalid_utf8_is_a_line_error() -> None:
    with pytest.raises(JSONLError, match=r"line 2: not UTF-8 text"):
        list(read_objects(io.BytesIO(b'{"a": 1}\n{"a": "\xff"}\n'), "x"))


def test_jsonl_is_read_lazily() -> None:
    """Nothing past the object asked for is read: a file of any size streams through."""
    pulled = []

    def lines() -> Iterator[str]:
        for number in itertools.count():
            pulled.append(number)
            yield json.dumps({"id": number}) + "\n"

    reader = read_objects(lines(), "endless")
    assert [next(reader)["id"] for _ in range(3)] == [0, 1, 2]
    assert pulled == [0, 1, 2]


# -- bulk-index ---------------------------------------------------------------------------


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.booleans(), min_size=1, max_size=40), st.integers(1, 7))
def test_bulk_index_uploads_every_line_in_either_spelling(
    env: FakeGleanServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spellings: list[bool],
    batch_size: int,
) -> None:
    datasource = next(datasource_names)
    documents = [document(n, wire=wire) for n, wire in enumerate(spellings)]
    path = write_jsonl(tmp_path / f"{datasource}.jsonl", documents)
    report_path = tmp_path / f"{datasource}.report.json"
    argv = ["bulk-index", str(path), "--datasource", datasource, "--report", str(report_path)]
    status, out, _ = run(capsys, *argv, "--batch-size", str(batch_size), "--concurrency", "3")
    assert status == 0
    stored = env.documents(datasource)
    assert sorted(stored) == sorted(d["id"] for d in documents)
    for number in range(len(documents)):
        assert stored[f"d{number}"]["viewURL"] == f"https://wiki.example.com/d{number}"
        assert stored[f"d{number}"]["datasource"] == datasource
    report = BulkReport.from_json(report_path.read_text())
    assert report.finalized and report.accepted == len(documents)
    assert report.pages == -(-len(documents) // batch_size)
    assert "finalized" in out


def test_bulk_index_progress_bar_counts_the_file_on_stderr(
    env: FakeGleanServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "docs.jsonl", [document(n) for n in range(30)])
    status, _, err = run(capsys, "bulk-index", str(path), "--datasource", "wiki")
    assert status == 0
    assert "30/30 accepted" in err  # the file was counted first: the bar knows the total
    status, _, err = run(capsys, "bulk-index", str(path), "--datasource", "wiki", "--no-progress")
    assert status == 0 and err == ""


def test_a_bad_line_in_a_file_stops_before_any_request(
    env: FakeGleanServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "docs.jsonl", [document(n) for n in range(5)], '{"id": x}\n')
    status, out, err = run(capsys, "bulk-index", str(path), "--datasource", "wiki")
    assert status == 2
    assert one_error_line(err) == (
        f"glean-async: error: {path}, line 6: invalid JSON: Expecting value (column 8)"
    )
    assert out == ""
    assert env.requests_for(BULK) == [] and env.uploads == []


def python_m(*argv: str, stdin: str = "", env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "glean_async", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_stdin_uploads_and_a_bad_line_there_leaves_the_upload_unfinished(
    env: FakeGleanServer, tmp_path: Path
) -> None:
    settings_env = {"GLEAN_API_TOKEN": TOKEN, "GLEAN_SERVER_URL": env.url}
    lines = "".join(json.dumps(document(n)) + "\n" for n in range(7))
    done = python_m("bulk-index", "-", "--datasource", "wiki", stdin=lines, env=settings_env)
    assert done.returncode == 0, done.stderr
    assert sorted(env.documents("wiki")) == [f"d{n}" for n in range(7)]

    report_path = tmp_path / "report.json"
    bad = "".join(json.dumps(document(n + 100)) + "\n" for n in range(4)) + "[1]\n"
    argv = ["bulk-index", "-", "--datasource", "wiki", "--batch-size", "2"]
    done = python_m(*argv, "--report", str(report_path), stdin=bad, env=settings_env)
    assert done.returncode == 1
    assert one_error_line(done.stderr) == (
        "glean-async: error: <stdin>, line 5: expected a JSON object, got an array"
    )
    report = BulkReport.from_json(report_path.read_text())
    assert not report.finalized and report.error is not None
    assert "NOT finalized" in done.stdout
    # not finalized: nothing was deleted, the first upload's documents are all still there
    assert {f"d{n}" for n in range(7)} <= set(env.documents("wiki"))


def test_a_rejected_document_fails_the_upload_and_resume_finishes_it(
    env: FakeGleanServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "docs.jsonl", [document(n) for n in range(12)])
    report_path = tmp_path / "report.json"
    env.faults = Faults(reject_ids={"d7"})
    argv = ["bulk-index", str(path), "--datasource", "wiki", "--batch-size", "3"]
    status, out, err = run(capsys, *argv, "--report", str(report_path))
    assert status == 1
    assert "not finalized" in one_error_line(err)
    failed = BulkReport.from_json(report_path.read_text())
    assert not failed.finalized and "d7" in failed.failed_ids()
    assert "NOT finalized" in out

    env.faults = Faults()
    status, out, _ = run(capsys, *argv, "--resume", str(report_path), "--report", str(report_path))
    assert status == 0
    resumed = BulkReport.from_json(report_path.read_text())
    assert resumed.finalized and resumed.upload_id == failed.upload_id
    assert sorted(env.documents("wiki")) == sorted(f"d{n}" for n in range(12))


def test_resume_must_be_a_report_of_the_same_upload(
    env: FakeGleanServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "docs.jsonl", [document(n) for n in range(3)])
    report_path = tmp_path / "report.json"
    argv = ["bulk-index", str(path), "--datasource", "wiki", "--report", str(report_path)]
    assert run(capsys, *argv)[0] == 0
    sent = len(env.requests_for(BULK))
    status, _, err = run(capsys, "bulk-index", str(path), "--datasource", "other", "--resume",
                         str(report_path))  # fmt: skip
    assert status == 2 and "'wiki'" in one_error_line(err)
    status, _, err = run(capsys, "bulk-index", str(path), "--datasource", "wiki", "--resume",
                         str(path))  # fmt: skip
    assert status == 2 and "is not a bulk upload report" in one_error_line(err)
    assert len(env.requests_for(BULK)) == sent


def test_the_report_folder_must_exist_before_the_upload(
    env: FakeGleanServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "docs.jsonl", [document(0)])
    report = tmp_path / "missing" / "report.json"
    status, _, err = run(
        capsys, "bulk-index", str(path), "--datasource", "w", "--report", str(report)
    )
    assert status == 2 and "its folder does not exist" in one_error_line(err)
    assert env.requests == []


def test_an_empty_file_needs_allow_empty(
    env: FakeGleanServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = write_jsonl(tmp_path / "docs.jsonl", [document(n) for n in range(3)])
    empty = write_jsonl(tmp_path / "empty.jsonl", [], "\n\n")
    assert run(capsys, "bulk-index", str(full), "--datasource", "wiki")[0] == 0
    status, _, err = run(capsys, "bulk-index", str(empty), "--datasource", "wiki")
    assert status == 2 and "--allow-empty" in one_error_line(err)
    assert len(env.documents("wiki")) == 3
    argv = ["bulk-index", str(empty), "--datasource", "wiki", "--allow-empty"]
    assert run(capsys, *argv)[0] == 0
    # the empty upload was finalized; Glean pauses deleting more than 20% of a datasource
    (upload,) = [u for u in env.uploads if not u.pages[0].ids]
    assert upload.finalized and upload.deletion_paused


# -- delete and search --------------------------------------------------------------------


def test_delete_removes_the_ids(
    env: FakeGleanServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "docs.jsonl", [document(n) for n in range(5)])
    assert run(capsys, "bulk-index", str(path), "--datasource", "wiki")[0] == 0
    status, out, _ = run(capsys, "delete", "wiki", "d1", "d3", "--object-type", "Article")
    assert status == 0 and "2 accepted" in out
    assert sorted(env.documents("wiki")) == ["d0", "d2", "d4"]

    env.faults = Faults(reject_ids={"d4"})
    status, _, err = run(capsys, "delete", "wiki", "d0", "d4", "--object-type", "Article")
    assert status == 1
    assert one_error_line(err).endswith("1 of 2 documents were not deleted")
    assert sorted(env.documents("wiki")) == ["d2", "d4"]


def test_search_prints_ranked_titles_and_urls(
    env: FakeGleanServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    titles = ["Vacation policy vacation", "Vacation days", "Expenses", "Vacation"]
    documents = [document(n, title=title) for n, title in enumerate(titles)]
    path = write_jsonl(tmp_path / "docs.jsonl", documents)
    assert run(capsys, "bulk-index", str(path), "--datasource", "wiki")[0] == 0
    status, out, _ = run(capsys, "search", "vacation", "--page-size", "2")
    assert status == 0
    assert out.splitlines() == [
        "  1. Vacation policy vacation",
        "     https://wiki.example.com/d0",
        "  2. Vacation days",
        "     https://wiki.example.com/d1",
    ]
    status, out, _ = run(capsys, "search", "vacation", "--json")
    assert status == 0
    answer = json.loads(out)
    assert [r["title"] for r in answer["results"]] == [titles[0], titles[1], titles[3]]
    status, out, _ = run(capsys, "search", "nothing-matches-this")
    assert (status, out) == (0, "no results for 'nothing-matches-this'\n")


# -- settings and usage errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "unset", "message"),
    [
        (["search", "x"], "GLEAN_API_TOKEN", "GLEAN_API_TOKEN is not set"),
        (["search", "x"], "GLEAN_SERVER_URL", "no server: pass --server-url or --instance"),
        (["search", "x", "--server-url", "ftp://h"], None, "must start with http"),
        (["search", "x", "--page-size", "0"], None, "must be at least 1"),
        (["bulk-index", "f.jsonl"], None, "required: --datasource"),
        (["bulk-index", "missing.jsonl", "--datasource", "d"], None, "cannot read missing"),
        (["delete", "wiki", "d1"], None, "required: --object-type"),
        (["delete", "", "d1", "--object-type", "A"], None, "invalid value for 'datasource'"),
        (["frobnicate"], None, "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    env: FakeGleanServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    unset: str | None,
    message: str,
) -> None:
    if unset:
        monkeypatch.delenv(unset)
    try:
        status = cli.main(argv)
    except SystemExit as exit:  # argparse's own errors
        status = exit.code  # type: ignore[assignment]
    _, err = capsys.readouterr()
    assert status == 2
    assert message in one_error_line(err)
    assert env.requests == []


def test_the_instance_names_the_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GLEAN_API_TOKEN", TOKEN)
    monkeypatch.delenv("GLEAN_SERVER_URL", raising=False)
    monkeypatch.setenv("GLEAN_INSTANCE", "bad/instance")
    status, _, err = run(capsys, "search", "x")
    assert status == 1
    assert "server variable 'instance'" in one_error_line(err)


def test_the_console_script_and_python_m(env: FakeGleanServer) -> None:
    scripts = metadata.entry_points(group="console_scripts")
    assert [s.value for s in scripts if s.name == "glean-async"] == ["glean_async.cli:run"]
    done = python_m("search", "x", env={"GLEAN_API_TOKEN": TOKEN, "GLEAN_SERVER_URL": env.url})
    assert (done.returncode, done.stdout, done.stderr) == (0, "no results for 'x'\n", "")
    done = python_m("--help", env={})
    assert done.returncode == 0 and "bulk-index" in done.stdout


# -- the token never shows ----------------------------------------------------------------


def leaky_app() -> web.Application:
    """A server that puts the caller's Authorization header into every answer."""

    async def search(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        result = {"title": f"title {auth}", "url": f"https://x.example.com/{auth}"}
        return web.json_response({"results": [result], "trackingToken": auth})

    async def refuse(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        return web.json_response({"message": f"bad token {auth}"}, status=400)

    app = web.Application()
    app.router.add_post("/rest/api/v1/search", search)
    app.router.add_route("*", "/{tail:.*}", refuse)
    return app


@pytest.fixture
def leaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = LocalAppServer(leaky_app())
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal() as portal, portal.wrap_async_context_manager(server):
        monkeypatch.setenv("GLEAN_API_TOKEN", TOKEN)
        monkeypatch.setenv("GLEAN_SERVER_URL", server.url)
        yield server.url


def test_the_token_never_appears_in_output_errors_or_the_report(
    leaky: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "docs.jsonl", [document(n) for n in range(3)])
    report_path = tmp_path / "report.json"
    runs = [
        ["bulk-index", str(path), "--datasource", "wiki", "--report", str(report_path)],
        ["delete", "wiki", "d1", "--object-type", "Article"],
        ["search", "anything"],
        ["search", "anything", "--json"],
        ["search", "anything", "--server-url", leaky + "/nowhere"],
    ]
    seen = ""
    for argv in runs:
        _, out, err = run(capsys, *argv)
        seen += out + err
        assert TOKEN not in out + err, argv
    report = report_path.read_text()
    assert TOKEN not in report
    assert cli.MASK in seen  # the server did echo the token, and it was masked
    assert BulkReport.from_json(report).failed == 3
