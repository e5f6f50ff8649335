"""Bearer tokens and the redaction of secrets.

:class:`TokenSource` hands out the token for each request attempt, so a callable can
refresh it; the token itself never shows in a repr. :func:`redact_headers` and
:func:`scrub` keep secrets out of logs and exception messages.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeAlias

TokenSupplier: TypeAlias = str | Callable[[], str] | Callable[[], Awaitable[str]]
"""What a client accepts as ``api_token``: the token, or a (async) callable returning it."""

REDACTED = "[REDACTED]"

_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
_SECRET_WORDS = ("token", "secret", "key", "auth", "password", "cookie", "session")


class TokenSource:
    """Where the bearer token comes from: a fixed string or a (async) callable.

    The callable is called once per request attempt, so it can return a refreshed token.
    An empty token counts as "no token": no ``Authorization`` header is sent.
    """

    __slots__ = ("_fixed", "_fixed_error", "_supplier")

    def __init__(self, supplier: TokenSupplier) -> None:
        if not isinstance(supplier, str) and not callable(supplier):
            raise TypeError(
                f"api_token must be a string or a callable, got {type(supplier).__name__}"
            )
        self._supplier = supplier
        # a fixed string is checked once here; a bad one still fails each request, as
        # a bad token returned by a callable does
        self._fixed: str | None = None
        self._fixed_error: str | None = None
        if isinstance(supplier, str) and supplier:
            self._fixed = supplier
            try:
                _check_header_safe(supplier)
            except ValueError as exc:
                self._fixed_error = str(exc)

    @classmethod
    def from_arg(
        cls, api_token: TokenSupplier | None, env_var: str = "GLEAN_API_TOKEN"
    ) -> TokenSource | None:
        """The source for a client's ``api_token`` argument, else the env var, else ``None``."""
        if api_token is not None:
            return cls(api_token)
        from_env = os.environ.get(env_var, "")
        return cls(from_env) if from_env else None

    @property
    def is_fixed(self) -> bool:
        """Whether the token is a fixed string (then :meth:`fixed` gives it, no await)."""
        return isinstance(self._supplier, str)

    def fixed(self) -> str | None:
        """The fixed string token (``None`` when empty); raises when it is not usable."""
        if self._fixed_error is not None:
            raise ValueError(self._fixed_error)
        return self._fixed

    async def get(self) -> str | None:
        """The current token, or ``None`` when there is none."""
        supplier = self._supplier
        if isinstance(supplier, str):
            return self.fixed()
        token: object = supplier()
        if inspect.isawaitable(token):
            token = await token
        if token is None or token == "":
            return None
        if not isinstance(token, str):
            raise TypeError(f"the api_token callable returned {type(token).__name__}, not str")
        _check_header_safe(token)
        return token

    def __repr__(self) -> str:
        kind = "static" if isinstance(self._supplier, str) else "callable"
        return f"TokenSource(<{kind} token hidden>)"


def _check_header_safe(token: str) -> None:
    # aiohttp would reject these too, with the header value in its message
    if any(char in token for char in "\r\n\0") or not token.isascii():
        raise ValueError("the api token contains characters not allowed in an HTTP header")


def is_secret_header(name: str) -> bool:
    """Whether a header's value must not be logged (credentials, cookies, keys)."""
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of ``headers`` with every secret value replaced by ``[REDACTED]``.

    Repeated names (a multidict) are joined with ``", "``.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    redacted: dict[str, str] = {}
    for name, value in pairs:
        shown = REDACTED if is_secret_header(name) else value
        redacted[name] = f"{redacted[name]}, {shown}" if name in redacted else shown
    return redacted


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with each non-empty secret replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
