"""A tour of the Glean SDK against the spec-driven fake: ``python -m glean_async.demo``.

The fake (:mod:`glean_async.testing`) validates every request against
the spec snapshot ``specs/glean.json`` and answers with the spec's examples, so this shows the
real request and response shapes without a Glean deployment.
"""

from __future__ import annotations

import asyncio
import sys

from glean_async import Glean, errors, models
from glean_async import sync as glean_sync
from glean_async.testing import FakeGleanServer
from glean_async.utils import RetryConfig

SEARCH_ANSWER = {
    "trackingToken": "demo-tracking",
    "results": [
        {"title": "Vacation policy", "url": "https://example.com/handbook/vacation"},
        {"title": "Holidays 2026", "url": "https://example.com/handbook/holidays"},
    ],
}


async def async_tour(fake: FakeGleanServer) -> None:
    print("== async client (glean_async.Glean)")
    async with Glean("demo-token", server_url=fake.url) as glean:
        fake.fail_next("client.search.query", status=200, body=SEARCH_ANSWER)  # seeded answer
        results = await glean.client.search.query(
            query="vacation policy",
            page_size=10,
            request_options={
                "facet_bucket_size": 10,
                "facet_filters": [
                    {
                        "field_name": "type",
                        "values": [{"value": "article", "relation_type": "EQUALS"}],
                    }
                ],
            },
        )
        titles = [r.title for r in results.results or []]
        print(f"search: {len(titles)} results {titles}, tracking {results.tracking_token}")
        question = {"author": "USER", "fragments": [{"text": "What are the holidays?"}]}
        stream = await glean.client.chat.create_stream(messages=[question])
        async with stream as responses:
            count = 0
            async for response in responses:
                count += 1
                texts = [f.text for m in response.messages or [] for f in m.fragments or []]
                print(f"chat stream line {count}: {[t for t in texts if t]}")
        await glean.indexing.documents.index(
            datasource="handbook",
            documents=[{"datasource": "handbook", "id": "doc-1", "view_url": "https://x/doc-1"}],
        )
        sent = fake.requests_for("indexing.documents.index")[-1]
        print(f"indexed: request validated against the spec: {sent.valid}")
        fake.fail_next(
            "client.search.query",
            status=422,
            body={"errorMessages": [{"source": "demo", "errorMessage": "bad operator"}]},
        )
        try:
            await glean.client.search.query(query="in:nowhere", retries=RetryConfig("none"))
        except errors.GleanDataError as error:
            messages = [m.error_message for m in error.data.error_messages or []]
            print(f"HTTP {error.status_code} -> GleanDataError {messages}")


def sync_tour(fake: FakeGleanServer) -> None:
    print("\n== sync facade (glean_async.sync.Glean)")
    with glean_sync.Glean("demo-token", server_url=fake.url) as glean:
        csv = glean.client.governance.data.policies.download(id="policy-1")
        print(f"policy CSV: {csv.splitlines()[:2]}")
        glean.client.activity.report(
            events=[
                {
                    "action": models.ActivityEventAction.VIEW,
                    "timestamp": "2025-01-31T12:00:00Z",
                    "url": "https://x/doc-1",
                }
            ]
        )
        print(
            f"activity report sent; {len(fake.requests)} requests so far, all validated: "
            f"{all(r.valid for r in fake.requests)}"
        )


def main() -> int:
    with FakeGleanServer.in_thread() as fake:
        print(f"fake Glean server (spec-validating) on {fake.url}\n")
        asyncio.run(async_tour(fake))
        sync_tour(fake)
    return 0


if __name__ == "__main__":
    sys.exit(main())
