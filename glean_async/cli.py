"""The command line: ``glean-async`` (or ``python -m glean_async``).

    glean-async bulk-index docs.jsonl --datasource wiki [--report report.json]
    glean-async delete wiki doc-1 doc-2 --object-type Article
    glean-async search "vacation policy" [--page-size 10] [--json]

The token comes from ``GLEAN_API_TOKEN`` (never from the command line, where other users
of the machine could read it); the server from ``--server-url`` / ``GLEAN_SERVER_URL`` or
``--instance`` / ``GLEAN_INSTANCE``. Exit status: 0 when the command did everything
(for ``bulk-index``: the upload was finalized), 1 when it did not, 2 for usage errors
(bad arguments, a missing setting, an input file that is not JSON Lines). Errors are one
line on stderr; the token is masked in everything printed or written.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from shared.errors import InvalidInputError

from . import Glean
from .errors import GleanError
from .jsonl import JSONLError, count_objects, read_objects

PROG = "glean-async"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MASK = "********"


class UsageError(Exception):
    """Bad arguments or settings: exit status 2, before any request."""


class CommandFailed(Exception):
    """The command ran but did not do everything: exit status 1."""


class Output:
    """stdout and stderr with the secrets masked in every line written."""

    def __init__(self, secrets: Sequence[str] = (), out: IO[str] | None = None) -> None:
        self.secrets = [s for s in secrets if s]
        self.out = out

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def print(self, text: str = "") -> None:
        print(self.mask(text), file=self.out or sys.stdout, flush=True)

    def error(self, text: str) -> None:
        print(f"{PROG}: error: {self.mask(text)}", file=sys.stderr, flush=True)


# -- arguments --------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    common = _Parser(add_help=False)
    where = common.add_argument_group("server (the token is read from GLEAN_API_TOKEN)")
    where.add_argument("--server-url", help="Glean API base URL (default: $GLEAN_SERVER_URL)")
    where.add_argument("--instance", help="Glean instance name (default: $GLEAN_INSTANCE)")

    parser = _Parser(prog=PROG, description="Glean from the command line (glean_async).")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    index = commands.add_parser(
        "bulk-index",
        parents=[common],
        help="replace a datasource's documents with those of a JSON Lines file",
        description="Bulk-upload documents (one JSON object per line, Python or wire "
        "field names) as one upload that replaces the datasource's documents once finalized.",
    )
    index.add_argument("file", help="JSON Lines file, or - for standard input")
    index.add_argument("--datasource", required=True, help="the datasource to upload to")
    index.add_argument("--concurrency", type=_positive, default=8, help="pages in flight")
    index.add_argument("--batch-size", type=_positive, default=1000, help="documents per page")
    index.add_argument("--resume", type=Path, metavar="REPORT.json", help="resume this upload")
    index.add_argument(
        "--report", type=Path, metavar="REPORT.json", help="write the report here (also on failure)"
    )
    index.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    index.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept an empty file (its upload deletes the datasource's documents)",
    )

    delete = commands.add_parser(
        "delete", parents=[common], help="delete documents by id", description="Delete documents."
    )
    delete.add_argument("datasource")
    delete.add_argument("ids", nargs="+", metavar="ID")
    delete.add_argument(
        "--object-type", required=True, help="the documents' object type (Glean requires it)"
    )

    search = commands.add_parser(
        "search", parents=[common], help="search and print ranked results", description="Search."
    )
    search.add_argument("query")
    search.add_argument("--page-size", type=_positive, default=10, help="results to show")
    search.add_argument("--json", action="store_true", help="print the response as JSON")
    return parser


# -- settings ---------------------------------------------------------------------------


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """``Glean(...)`` arguments from the options and the environment, or :class:`UsageError`."""
    token = os.environ.get("GLEAN_API_TOKEN", "")
    if not token.strip():
        raise UsageError("GLEAN_API_TOKEN is not set: export the API token first")
    server_url = args.server_url or os.environ.get("GLEAN_SERVER_URL") or None
    instance = args.instance or os.environ.get("GLEAN_INSTANCE") or None
    if server_url is None and instance is None:
        raise UsageError("no server: pass --server-url or --instance (or set GLEAN_INSTANCE)")
    if server_url is not None and not server_url.startswith(("http://", "https://")):
        raise UsageError(f"--server-url must start with http:// or https://, got {server_url!r}")
    return {"api_token": token, "server_url": server_url, "instance": instance}


# -- bulk-index -------------------------------------------------------------------------


class Documents:
    """The documents of a JSON Lines source, read as the upload asks for them."""

    def __init__(self, lines: IO[bytes], source: str) -> None:
        self._objects = read_objects(lines, source)

    def __iter__(self) -> Documents:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._objects)


class CountedDocuments(Documents):
    """:class:`Documents` of a file counted beforehand: its ``len`` is the progress total."""

    def __init__(self, lines: IO[bytes], source: str, total: int) -> None:
        super().__init__(lines, source)
        self._total = total

    def __len__(self) -> int:
        return self._total


def documents_of(lines: IO[bytes], source: str, total: int | None) -> Documents:
    return Documents(lines, source) if total is None else CountedDocuments(lines, source, total)


@contextlib.contextmanager
def open_lines(name: str) -> Iterator[IO[bytes]]:
    """The named file (or stdin for ``-``) in binary mode, or :class:`UsageError`."""
    if name == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = open(name, "rb")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror or error}") from None
    with handle:
        yield handle


def check_file(name: str) -> int | None:
    """Read a whole file once before the upload: its document count, or the first bad line.

    Standard input cannot be read twice: ``None``, and a bad line stops the upload.
    """
    if name == "-":
        return None
    with open_lines(name) as lines:
        try:
            return count_objects(lines, name)
        except JSONLError as error:
            raise UsageError(str(error)) from None


def load_resume(path: Path | None) -> Any:
    """The report to resume from, or :class:`UsageError`."""
    if path is None:
        return None
    from .bulk import BulkReport

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read --resume {path}: {error.strerror or error}") from None
    try:
        return BulkReport.from_json(text)
    except (ValueError, TypeError, KeyError) as error:
        raise UsageError(f"--resume {path} is not a bulk upload report: {error}") from None


def write_report(path: Path, report: Any, output: Output) -> None:
    """Write ``report`` as JSON to ``path`` (atomically, the token masked)."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(output.mask(report.to_json()), encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        raise CommandFailed(f"cannot write the report to {path}: {error.strerror}") from None


async def run_bulk_index(args: argparse.Namespace, output: Output) -> int:
    from .bulk import BulkReport, BulkResumeError, BulkUploadError

    options = client_options(args)
    total = check_file(args.file)
    resume = load_resume(args.resume)
    if args.report is not None and not args.report.resolve().parent.is_dir():
        raise UsageError(f"--report {args.report}: its folder does not exist")
    if total == 0 and not args.allow_empty:
        raise UsageError(
            f"{args.file} holds no documents: an empty upload deletes every document of "
            f"{args.datasource!r}; pass --allow-empty to do that"
        )
    source = "<stdin>" if args.file == "-" else args.file
    failure: BaseException | None = None
    with open_lines(args.file) as lines:
        async with Glean(**options) as glean:
            try:
                report = await glean.bulk.documents(
                    args.datasource,
                    documents_of(lines, source, total),
                    batch_size=args.batch_size,
                    concurrency=args.concurrency,
                    resume=resume,
                    allow_empty=args.allow_empty,
                    progress=not args.no_progress,
                    raise_on_failure=False,
                )
            except BulkResumeError as error:
                raise UsageError(f"--resume {args.resume}: {error}") from None
            except BulkUploadError as error:  # the input raised (a bad line of stdin)
                assert isinstance(error.report, BulkReport)
                report, failure = error.report, error.__cause__ or error
    if args.report is not None:
        write_report(args.report, report, output)
    output.print(report.summary())
    if failure is not None:
        output.error(str(failure))
    elif not report.finalized:
        why = report.error or f"{report.failed} documents failed"
        output.error(f"the upload was not finalized: {why}")
    return EXIT_OK if report.finalized else EXIT_FAILED


# -- delete -----------------------------------------------------------------------------


async def run_delete(args: argparse.Namespace, output: Output) -> int:
    options = client_options(args)
    async with Glean(**options) as glean:
        report = await glean.bulk.delete_documents(
            args.datasource, args.ids, object_type=args.object_type, raise_on_failure=False
        )
    output.print(report.summary())
    if not report.ok:
        output.error(f"{report.failed} of {len(args.ids)} documents were not deleted")
    return EXIT_OK if report.ok else EXIT_FAILED


# -- search -----------------------------------------------------------------------------


async def run_search(args: argparse.Namespace, output: Output) -> int:
    options = client_options(args)
    async with Glean(**options) as glean:
        response = await glean.client.search.query(query=args.query, page_size=args.page_size)
    if args.json:
        from . import converter

        output.print(json.dumps(converter.unstructure(response), indent=2, ensure_ascii=False))
        return EXIT_OK
    results = (response.results or [])[: args.page_size]
    if not results:
        output.print(f"no results for {args.query!r}")
    for rank, result in enumerate(results, 1):
        output.print(f"{rank:>3}. {result.title or '(untitled)'}")
        output.print(f"     {result.url}")
    return EXIT_OK


# -- entry point ------------------------------------------------------------------------

COMMANDS = {"bulk-index": run_bulk_index, "delete": run_delete, "search": run_search}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (never raises but for SystemExit)."""
    args = build_parser().parse_args(argv)
    output = Output([os.environ.get("GLEAN_API_TOKEN", "").strip()])
    try:
        return asyncio.run(COMMANDS[args.command](args, output))
    except (UsageError, InvalidInputError) as error:  # both before any request
        output.error(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        output.error("interrupted")
        return 130
    except (CommandFailed, GleanError, JSONLError, OSError, ValueError) as error:
        output.error(str(error) or type(error).__name__)
        return EXIT_FAILED
    except Exception as error:  # the one-line promise holds for the unexpected too
        output.error(f"{type(error).__name__}: {error}")
        return EXIT_FAILED


def run() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())
