"""Test helpers the SDKs ship: serving an aiohttp app on 127.0.0.1 (:mod:`.serving`), the
spec-driven fake of any OpenAPI spec (:mod:`.openapi`, needs the ``testing`` extra) and the
pytest fixtures of both SDKs (:mod:`.pytest_plugin`).

Nothing is imported up front: every pytest run imports the plugin, and with it this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .serving import LocalAppServer

__all__ = ["LocalAppServer"]


def __getattr__(name: str) -> Any:
    if name == "LocalAppServer":
        from .serving import LocalAppServer

        return LocalAppServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
