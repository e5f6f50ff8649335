"""Test helpers the SDKs ship: serving an aiohttp app on 127.0.0.1 (:mod:`.serving`) and the
spec-driven fake of any OpenAPI spec (:mod:`.openapi`, needs the ``testing`` extra)."""

from __future__ import annotations

from .serving import LocalAppServer

__all__ = ["LocalAppServer"]
