"""Benchmarks: glean_async (async and sync) side by side with raw aiohttp and the official SDK.

Run everything with ``bash .ci/bench`` (``--quick`` for a short run); see ``README.md`` here.
"""
