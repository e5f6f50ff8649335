"""Which operations send the API token, from the spec's ``security`` wherever it is.

- Token schemes: ``components.securitySchemes`` entries of type ``http`` with scheme
  ``bearer``, or of type ``apiKey`` (the runtime sends ``Authorization: Bearer``).
- The client takes a token when the top-level ``security`` or any operation's names a
  token scheme.
- An operation sends it unless its own ``security`` is explicitly empty (``[]``, or
  only ``{}`` entries). One with no ``security`` follows the top level; when the top
  level has none either, it still sends the token and the spec gets a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..opnames import HTTP_METHODS
from .loader import JSON


def token_schemes(spec: JSON) -> set[str]:
    """Names of the security schemes the token argument satisfies."""
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    return {
        str(name)
        for name, scheme in schemes.items()
        if isinstance(scheme, dict) and _is_token_scheme(scheme)
    }


def _is_token_scheme(scheme: JSON) -> bool:
    kind = scheme.get("type")
    if kind == "http":
        return str(scheme.get("scheme", "")).lower() == "bearer"
    return bool(kind == "apiKey")


def is_anonymous(security: Any) -> bool:
    """``security: []`` (or only ``{}`` entries): the operation needs no credentials."""
    return isinstance(security, list) and not any(security)


def names_token(security: Any, schemes: set[str]) -> bool:
    """Whether a ``security`` requirement list names one of ``schemes``."""
    if not isinstance(security, list):
        return False
    return any(isinstance(req, dict) and schemes & set(req) for req in security)


def _operations(spec: JSON) -> Iterator[JSON]:
    for item in (spec.get("paths") or {}).values():
        for method in HTTP_METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                yield item[method]


def api_auth(spec: JSON) -> bool:
    """The client takes a token: a token scheme is required at the top or anywhere."""
    schemes = token_schemes(spec)
    requirements = [spec.get("security"), *(op.get("security") for op in _operations(spec))]
    return any(names_token(security, schemes) for security in requirements)


def operation_auth(op: JSON, spec: JSON, api_has_auth: bool) -> tuple[bool, str | None]:
    """Whether an operation sends the token, and a warning when the spec leaves it open."""
    if not api_has_auth:
        return False, None
    own = op.get("security")
    if own is not None:
        return not is_anonymous(own), None
    top = spec.get("security")
    if top is not None:
        return not is_anonymous(top), None
    return True, "declares no security and the spec has none at the top; the token is sent"


def scheme_warnings(spec: JSON) -> list[str]:
    """Token schemes the runtime sends differently from how the spec declares them."""
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    warnings = []
    for name in sorted(token_schemes(spec)):
        scheme = schemes[name]
        where = (scheme.get("in"), str(scheme.get("name", "")).lower())
        if scheme.get("type") == "apiKey" and where != ("header", "authorization"):
            warnings.append(
                f"security scheme {name}: apiKey {where[0]} {scheme.get('name')!r}; "
                "the token is sent as Authorization: Bearer"
            )
    return warnings
