"""Debug log lines for requests, responses and retries, with secrets redacted.

One line per event, at DEBUG level, on a logger the client is given (or the one
:func:`debug_logger_from_env` builds). Header values that carry credentials are replaced
by ``[REDACTED]``, so is the user-info part of a URL and any query parameter whose name
looks secret; bodies are never logged beyond a short excerpt.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from shared.auth import REDACTED, is_secret_header, redact_headers

EXCERPT_CHARS = 200
_TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


class _DebugHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler :func:`debug_logger_from_env` adds (marked so it is added once)."""


def debug_logger_from_env(env_var: str, name: str) -> logging.Logger | None:
    """A DEBUG logger writing to stderr when env ``env_var`` is true/1/yes/on, else ``None``.

    The logger is ``logging.getLogger(name)`` with its own handler and
    ``propagate=False``; the root logger is never touched.
    """
    if os.environ.get(env_var, "").strip().lower() not in _TRUE_VALUES:
        return None
    logger = logging.getLogger(name)
    if not any(isinstance(handler, _DebugHandler) for handler in logger.handlers):
        handler = _DebugHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def redact_url(url: str) -> str:
    """``url`` without a password and with secret-looking query values redacted."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_header(name) for name, _ in pairs):
            query = "&".join(
                f"{quote(name)}={REDACTED if is_secret_header(name) else quote(value)}"
                for name, value in pairs
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _headers_text(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{name}: {value}" for name, value in redact_headers(headers).items())


def log_request(
    logger: logging.Logger,
    method: str,
    url: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body_note: str = "",
) -> None:
    """``-> POST https://host/path {headers} body-note`` (secrets redacted)."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    note = f" {body_note}" if body_note else ""
    logger.debug("-> %s %s {%s}%s", method, redact_url(url), _headers_text(headers), note)


def log_response(
    logger: logging.Logger,
    status: int,
    content_type: str,
    elapsed_ms: float,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    body_excerpt: str | None = None,
) -> None:
    """``<- 200 application/json 12.3 ms {headers}`` plus an excerpt of an error body."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    shown = f" {excerpt(body_excerpt)!r}" if body_excerpt else ""
    logger.debug(
        "<- %d %s %.1f ms {%s}%s",
        status,
        content_type or "-",
        elapsed_ms,
        _headers_text(headers),
        shown,
    )


def log_retry(logger: logging.Logger, seconds: float, reason: str) -> None:
    """``retrying in 1.2 s after 503``."""
    logger.debug("retrying in %.1f s after %s", seconds, reason)


def log_failure(logger: logging.Logger, method: str, url: str, reason: str) -> None:
    """``x- POST https://host/path failed: <reason>`` for a request that got no response."""
    logger.debug("x- %s %s failed: %s", method, redact_url(url), excerpt(reason))
