"""Proxy settings from the environment, read once per session instead of per request.

aiohttp's ``trust_env=True`` re-reads ``*_proxy`` variables and ``~/.netrc`` on a worker
thread for every request, which costs more than the rest of a small request together.
The owned session reads them here once and passes ``proxy=`` per request.
"""

from __future__ import annotations

import functools
import urllib.request
from urllib.parse import urlsplit

import yarl

_SCHEMES = ("http", "https", "ws", "wss")


class EnvProxies:
    """``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (any case) as read at construction."""

    def __init__(self) -> None:
        found = urllib.request.getproxies_environment()
        self._proxies = {k: v for k, v in found.items() if k in _SCHEMES or k == "no"}
        self._for_host = functools.lru_cache(maxsize=256)(self._lookup)

    def __bool__(self) -> bool:
        return any(k in _SCHEMES for k in self._proxies)

    def proxy_for(self, url: str | yarl.URL) -> str | None:
        """The proxy URL to use for ``url``, or None (direct, or excluded by NO_PROXY)."""
        if not self:
            return None
        parts = urlsplit(str(url))
        return self._for_host(parts.scheme, parts.netloc)

    def _lookup(self, scheme: str, netloc: str) -> str | None:
        proxy = self._proxies.get(scheme)
        if proxy is None:
            return None
        host = netloc.rsplit("@", 1)[-1]
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if bypass(host, self._proxies):
            return None
        return proxy
