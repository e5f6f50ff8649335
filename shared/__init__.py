"""Runtime shared by the glean_async and flux0_async SDKs.

HTTP core on aiohttp, auth, server URL templates, retries, SSE/NDJSON parsing,
serialization and the background event-loop runtime of the sync facades.
Nothing in this package knows about a particular API.
"""
