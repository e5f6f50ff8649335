"""One bulk-upload cell, run in a fresh process: prints one JSON object on stdout.

    python -m benchmarks.bulkcell CLIENT --url URL --server-pid PID --documents N --concurrency C

Every client replaces the datasource's documents with ``N`` documents pulled from the
generator of :mod:`benchmarks.bulkdocs`, as one bulk upload in pages of 1,000: the first
page alone, the middle pages ``C`` at a time, the last page once they are all done.

* ``gen``: the generator alone, nothing sent (the input's own cost, in every other row);
* ``raw``: raw aiohttp, each page ``json.dumps``-ed from the generator's dicts and posted
  (the floor: no models, no checks);
* ``ga``: ``glean_async``'s ``glean.bulk.documents`` (the dicts as they come);
* ``official``: ``glean-indexing-sdk``'s ``PushUploader.bulk_index_documents`` with
  ``upload_max_workers=C`` (each dict made its pydantic ``DocumentDefinition`` first).
  It runs with the python of ``.venv-indexing-sdk`` (glean-indexing-sdk pins an older
  glean-api-client than ``.venv``'s), where only ``benchmarks/bulk-indexing-sdk.txt`` is
  installed: this module, :mod:`benchmarks.bulkdocs` and :mod:`benchmarks.cell` use the
  standard library alone at import, and the cell fails if ``glean_async`` or ``shared``
  were loaded (the repository root is on ``sys.path`` only as ``-m``'s working folder).

Before measuring, each does a warm-up upload of 2,000 documents to another datasource.
``cpu_us_per_doc`` is this process's user + system time, ``server_cpu_us_per_doc`` the
server process's (read from its pid), both over the measured upload only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from benchmarks.bulkdocs import DATASOURCE, documents
from benchmarks.cell import check_speedups, cpu_seconds, peak_rss_mb

TOKEN = "bench-token"
PAGE = 1000
WARM_UP = 2000
BULK_PATH = "/api/index/v1/bulkindexdocuments"


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (0 when there is none)."""
    if not pid:
        return 0.0
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def pages(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while page := list(itertools.islice(iterator, size)):
        yield page


# -- raw aiohttp ------------------------------------------------------------------------


async def raw_upload(url: str, datasource: str, count: int, concurrency: int) -> int:
    """One bulk upload with aiohttp and ``json.dumps``; returns the pages posted."""
    import aiohttp

    upload_id = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=max(concurrency, 1))
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def post(page: list[Any], first: bool, last: bool) -> None:
            body = {
                "uploadId": upload_id,
                "datasource": datasource,
                "documents": page,
                "isFirstPage": first,
                "isLastPage": last,
            }
            async with session.post(url + BULK_PATH, data=json.dumps(body).encode()) as response:
                await response.read()
                response.raise_for_status()

        stream = pages(documents(count, datasource), PAGE)
        current = next(stream, [])
        following = next(stream, None)
        if following is None:
            await post(current, True, True)
            return 1
        await post(current, True, False)
        posted, current = 1, following
        in_flight: set[asyncio.Task[None]] = set()
        for following in stream:
            if len(in_flight) >= concurrency:
                done, in_flight = await asyncio.wait(in_flight, return_when="FIRST_COMPLETED")
                for task in done:
                    task.result()
            in_flight.add(asyncio.ensure_future(post(current, False, False)))
            posted, current = posted + 1, following
        for task in in_flight:
            await task
        await post(current, False, True)
        return posted + 1


def run_raw(args: argparse.Namespace) -> dict[str, Any]:
    async def both() -> tuple[Meter, int]:
        await raw_upload(args.url, f"{DATASOURCE}warm", WARM_UP, args.concurrency)
        with Meter(args.server_pid) as meter:
            posted = await raw_upload(args.url, DATASOURCE, args.documents, args.concurrency)
        return meter, posted

    meter, posted = asyncio.run(both())
    return meter.result(args.documents, pages=posted)


# -- glean_async ------------------------------------------------------------------------


def run_ga(args: argparse.Namespace) -> dict[str, Any]:
    from glean_async import Glean

    async def both() -> tuple[Meter, Any]:
        async with Glean(TOKEN, server_url=args.url) as glean:

            async def upload(datasource: str, count: int) -> Any:
                report = await glean.bulk.documents(
                    datasource, documents(count, datasource), concurrency=args.concurrency
                )
                if not report.finalized:
                    raise SystemExit(f"glean_async upload not finalized: {report}")
                return report

            await upload(f"{DATASOURCE}warm", WARM_UP)
            with Meter(args.server_pid) as meter:
                report = await upload(DATASOURCE, args.documents)
        return meter, report

    meter, report = asyncio.run(both())
    return meter.result(args.documents, pages=getattr(report, "pages", None))


# -- glean-indexing-sdk -----------------------------------------------------------------


def run_official(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["GLEAN_INDEXING_API_TOKEN"] = TOKEN
    os.environ["GLEAN_SERVER_URL"] = args.url
    os.environ.pop("GLEAN_INSTANCE", None)
    from glean.api_client.models import DocumentDefinition
    from glean.indexing import PushUploader

    def upload(datasource: str, count: int) -> None:
        uploader = PushUploader(
            datasource, server_url=args.url, upload_max_workers=args.concurrency
        )
        models = (DocumentDefinition.model_validate(d) for d in documents(count, datasource))
        uploader.bulk_index_documents(models, batch_size=PAGE)  # type: ignore[arg-type]

    upload(f"{DATASOURCE}warm", WARM_UP)
    with Meter(args.server_pid) as meter:
        upload(DATASOURCE, args.documents)
    mine = sorted({"glean_async", "shared"} & set(sys.modules))
    if mine:
        raise SystemExit(f"glean-indexing-sdk's cell loaded this repository's {mine}")
    return meter.result(args.documents, pages=-(-args.documents // PAGE))


# -- the generator alone ----------------------------------------------------------------


def run_gen(args: argparse.Namespace) -> dict[str, Any]:
    for _ in documents(WARM_UP):
        pass
    with Meter(0) as meter:
        for _ in documents(args.documents):
            pass
    return meter.result(args.documents, pages=0)


# -- measuring --------------------------------------------------------------------------


class Meter:
    """Wall time, this process's CPU and the server's CPU over a ``with`` block."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def __enter__(self) -> Meter:
        self.server0 = server_cpu_seconds(self.server_pid)
        self.wall0, self.cpu0 = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = cpu_seconds() - self.cpu0
        self.server = server_cpu_seconds(self.server_pid) - self.server0

    def result(self, count: int, pages: int | None) -> dict[str, Any]:
        result = {
            "documents": count,
            "pages": pages,
            "wall_s": self.wall,
            "cpu_s": self.cpu,
            "docs_per_s": count / self.wall,
            "cpu_us_per_doc": self.cpu / count * 1e6,
        }
        if self.server_pid:  # the generator alone has no server
            result["server_cpu_s"] = self.server
            result["server_cpu_us_per_doc"] = self.server / count * 1e6
        return result


CLIENTS = {
    "gen": run_gen,
    "raw": run_raw,
    "ga": run_ga,
    "ga_speedups": run_ga,  # the same; its cell has orjson on its path
    "official": run_official,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run one bulk-upload cell; prints JSON.")
    parser.add_argument("client", choices=sorted(CLIENTS))
    parser.add_argument("--url", default="")
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    check_speedups(args.client)
    result = CLIENTS[args.client](args)
    result.update(
        client=args.client,
        workload="bulk",
        concurrency=args.concurrency,
        peak_rss_mb=peak_rss_mb(),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
