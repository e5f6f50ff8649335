"""Instructions per call under callgrind: a repeatable A/B figure on a noisy machine.

    python -m benchmarks.instructions [--only ROW...] [--split] [--python PYTHON]

CPU-time cells move by 10-20% between runs on a shared VM; instruction counts do not.
This serves the search response, the 2,000-line chat stream, the 2,000-event agent run
stream (SSE), ``indexdocuments`` and bulk pages from a separate process (not counted),
runs a client under
``valgrind --tool=callgrind`` with 0 and with ``N`` measured calls, and prints the
difference per call, for glean_async and for raw aiohttp + ``json`` doing the same (the
floor of the benchmark cells), and their ratio. The bulk row counts an upload of ``N``
generated documents at concurrency 8 (after a warm-up upload of 2,000) per document.
The structure row runs in process: the serializer's ``structure`` of the parsed search
body against the least any pure-Python structurer must do for the same models
(:mod:`benchmarks.modelfloor`: allocate and fill them, read and check nothing). The
search row is also counted against raw aiohttp + ``json`` followed by that building: the
least a client returning these models pays.
``--only`` picks rows (search chat sse index bulk structure). ``--split`` also writes
``benchmarks/profiles/instructions-<row>.txt``: each row's instructions per call by kind
of work (:mod:`benchmarks.costsplit`). ``--python`` picks the client's interpreter, so
another checkout's venv measures that checkout (its ``glean_async`` is imported).
Instructions leave out cache misses (a GC pass over a large heap costs more time than its
count says), so the CPU cells stay the figure of record.
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER = """
import sys
from aiohttp import web
from benchmarks.payloads import agent_sse, chat_ndjson, search_body
search, chat, sse = search_body(), chat_ndjson(), agent_sse()
async def answer(request, body, kind):
    await request.read()
    return web.Response(body=body, content_type=kind)
app = web.Application()
app.router.add_post("/rest/api/v1/search", lambda r: answer(r, search, "application/json"))
app.router.add_post("/rest/api/v1/chat", lambda r: answer(r, chat, "text/plain"))
app.router.add_post(
    "/rest/api/v1/agents/runs/stream", lambda r: answer(r, sse, "text/event-stream")
)
for path in ("/api/index/v1/indexdocuments", "/api/index/v1/bulkindexdocuments"):
    app.router.add_post(path, lambda r: answer(r, b"{}", "application/json"))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""
CLIENT = """
import asyncio, json, sys
import aiohttp
from benchmarks.payloads import DATASOURCE, SMALL_DOCUMENT, SMALL_DOCUMENT_WIRE
kind, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "models_search":
    from benchmarks.modelfloor import search_floor
    BUILD = search_floor()
async def call(glean):
    if kind == "search":
        await glean.client.search.query(query="q", page_size=100)
    elif kind == "index":
        await glean.indexing.documents.index(datasource=DATASOURCE, documents=[SMALL_DOCUMENT])
    else:
        stream = await glean.client.chat.create_stream(messages=[{"fragments": [{"text": "hi"}]}])
        async with stream as lines:
            async for _ in lines:
                pass
async def raw(session):
    if kind == "raw_index":
        body = json.dumps({"datasource": DATASOURCE, "documents": [SMALL_DOCUMENT_WIRE]})
        async with session.post(url + "/api/index/v1/indexdocuments", data=body) as response:
            json.loads(await response.read())
    elif kind == "raw_search":
        async with session.post(url + "/rest/api/v1/search", data=b'{"query":"q"}') as response:
            json.loads(await response.read())
    elif kind == "models_search":  # raw, then the same models built with nothing checked
        async with session.post(url + "/rest/api/v1/search", data=b'{"query":"q"}') as response:
            json.loads(await response.read())
            return BUILD()
    else:
        async with session.post(url + "/rest/api/v1/chat", data=b"{}") as response:
            buffer = b""
            async for chunk in response.content.iter_any():
                *lines, buffer = (buffer + chunk).split(b"\\n")
                for line in lines:
                    if line.strip():
                        json.loads(line)
async def bulk():
    from benchmarks.bulkcell import raw_upload
    from benchmarks.bulkdocs import documents
    if kind == "raw_bulk":
        await raw_upload(url, "warm", 2000, 8)
        if count:
            await raw_upload(url, "ds", count, 8)
        return
    from glean_async import Glean
    async with Glean(api_token="t", server_url=url) as glean:
        await glean.bulk.documents("warm", documents(2000, "warm"), concurrency=8)
        if count:
            await glean.bulk.documents("ds", documents(count, "ds"), concurrency=8)
async def main():
    if kind.endswith("bulk"):
        await bulk()
        return
    if kind.endswith("sse"):  # the timed cells' own clients (benchmarks/clients.py)
        from benchmarks.clients import GleanAsync, Raw
        async with (Raw if kind == "raw_sse" else GleanAsync)(url) as client:
            for _ in range(2 + count):
                await client.sse()
        return
    if kind.startswith(("raw_", "models_")):
        headers = {"Authorization": "Bearer t", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(headers=headers) as session:
            for _ in range(2 + count):
                await raw(session)
        return
    from glean_async import Glean
    async with Glean(api_token="t", server_url=url) as glean:
        for _ in range(2 + count):  # two warm-up calls
            await call(glean)
asyncio.run(main())
"""
# calls counted per row (bulk: documents)
CALLS = {"search": 20, "chat": 3, "sse": 3, "index": 200, "bulk": 10_000, "structure": 10}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _argv(python: str, kind: str, url: str, count: int) -> list[str]:
    """The client's command line: ``structure`` rows run in process, the others call ``url``."""
    # -I: no current folder on sys.path, so the interpreter's own install of glean_async
    # loads; it also ignores PYTHONDONTWRITEBYTECODE, so the warm-up run writes the caches
    if kind in ("structure", "floor"):
        return [python, "-I", "-m", "benchmarks.modelfloor", kind, str(count)]
    return [python, "-I", "-c", CLIENT, kind, url, str(count)]


def _instructions(python: str, kind: str, url: str, count: int, folder: Path) -> int:
    out = folder / f"callgrind.{kind}.{count}"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    result = subprocess.run(
        [*command, *_argv(python, kind, url, count)], capture_output=True, text=True, check=True
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{result.stderr}")
    return int(match.group(1))


def _per_call(python: str, kind: str, url: str, count: int, folder: Path) -> float:
    """Instructions per call of ``kind``: ``count`` calls less none (start-up, warm-up).

    One run outside valgrind comes first: it writes the byte-code caches of every module
    the calls import, which a fresh checkout lacks, so the count without calls does not
    include compiling them.
    """
    subprocess.run(_argv(python, kind, url, 0), capture_output=True, check=True)
    base = _instructions(python, kind, url, 0, folder)
    return (_instructions(python, kind, url, count, folder) - base) / count


# what each row is counted against (default: raw aiohttp + json doing the same)
FLOORS = {"structure": ("floor",), "search": ("raw_search", "models_search")}
FLOOR_NAMES = {
    "floor": "straight-line building of the same models",
    "models_search": "raw + straight-line building of its models",
}


def _write_split(kind: str, names: tuple[str, ...], count: int, folder: Path) -> None:
    """``benchmarks/profiles/instructions-<kind>.txt``: the row and its floors, by work."""
    from benchmarks import costsplit

    rows = []
    for name in names:
        base = costsplit.function_costs(folder / f"callgrind.{name}.0")
        counted = costsplit.function_costs(folder / f"callgrind.{name}.{count}")
        rows.append((name, costsplit.per_call(base, counted, count)))
    title = f"{kind}: callgrind instructions per call ({count} calls), glean_async and its floors"
    out = Path(__file__).parent / "profiles" / f"instructions-{kind}.txt"
    out.write_text(costsplit.report(title, rows))
    print(f"  split by work: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the client")
    parser.add_argument("--only", nargs="*", choices=list(CALLS), help="calls to count")
    parser.add_argument("--split", action="store_true", help="write each row's split by work")
    args = parser.parse_args()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        time.sleep(1.5)
        url = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory() as tmp:
            for kind, count in CALLS.items():
                if args.only and kind not in args.only:
                    continue
                floors = FLOORS.get(kind, (f"raw_{kind}",))
                ours, *raws = (
                    _per_call(args.python, name, url, count, Path(tmp)) for name in (kind, *floors)
                )
                unit, scale, per = ("k", 1e3, "document") if kind == "bulk" else ("M", 1e6, "call")
                against = [
                    f"{FLOOR_NAMES.get(floor, 'raw aiohttp + json')}: {raw / scale:.3f} {unit}"
                    f" ({ours / raw:.2f} x)"
                    for floor, raw in zip(floors, raws, strict=True)
                ]
                print(
                    f"{kind}: {ours / scale:.3f} {unit} instructions per {per}; "
                    + "; ".join(against)
                )
                if args.split:
                    _write_split(kind, (kind, *floors), count, Path(tmp))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
