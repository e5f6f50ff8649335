"""Server URL templates: ``{variable}`` substitution with validated values.

A value fills one part of a host name or path (``https://{instance}-be.glean.com``), so
anything that could move the request elsewhere (``evil.com/x``, ``a@b``, ``host:1``, ...)
is refused: values may only hold the RFC 3986 unreserved characters ``A-Z a-z 0-9 . _ ~ -``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_SAFE_VALUE = re.compile(r"[A-Za-z0-9._~-]+")


def _as_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class ServerVariable:
    """One ``{name}`` of a server template: its default and, when declared, allowed values."""

    default: str
    enum: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)


def _check_placeholders(template: ServerTemplate, _: object, url: str) -> None:
    for name in _PLACEHOLDER.findall(url):
        if name not in template.variables:
            raise ValueError(f"server URL {url!r} uses undeclared variable {name!r}")


@attrs.frozen
class ServerTemplate:
    """A server URL from the spec, e.g. ``https://{instance}-be.glean.com``."""

    url: str = attrs.field(validator=_check_placeholders)
    variables: Mapping[str, ServerVariable] = attrs.field(factory=dict)

    def resolve(self, values: Mapping[str, str | None] | None = None) -> str:
        """The URL with each ``{name}`` replaced by ``values[name]`` or its default.

        ``None`` means "use the default". Raises ``ValueError`` naming the variable for an
        unknown name given a value, a value outside a declared enum, or a value with a
        character that could change the host or path.
        """
        given = dict(values or {})
        for name, value in given.items():
            if name not in self.variables and value is not None:
                known = ", ".join(sorted(self.variables)) or "none"
                raise ValueError(f"unknown server variable {name!r} (known: {known})")
        chosen = {
            name: _checked(name, variable, given.get(name))
            for name, variable in self.variables.items()
        }
        return _PLACEHOLDER.sub(lambda match: chosen[match.group(1)], self.url)


def _checked(name: str, variable: ServerVariable, value: str | None) -> str:
    if value is None:
        return variable.default
    if not isinstance(value, str):
        raise ValueError(f"server variable {name!r} must be a string, got {type(value).__name__}")
    if not _SAFE_VALUE.fullmatch(value):
        raise ValueError(
            f"server variable {name!r} has value {value!r}: only letters, digits and "
            "'.', '_', '~', '-' are allowed (a value must not change the host or path)"
        )
    if variable.enum and value not in variable.enum:
        allowed = ", ".join(repr(item) for item in variable.enum)
        raise ValueError(f"server variable {name!r} must be one of {allowed}, got {value!r}")
    return value
