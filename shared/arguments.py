"""Small helpers the generated methods call to gather their arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidInputError
from .unset import UNSET


def flat_body(
    request: Any, fields: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> Any:
    """The request body: ``request`` as given, or the flattened keyword arguments.

    ``fields`` maps Python names to the keyword values (``UNSET`` when not given). Giving
    both ``request=`` and a flattened argument is an error, caught before any I/O. An
    argument left at its default (``defaults``: Python name -> value) does not count as
    given; the request body gets that default later when it leaves the field out.
    """
    given = {name: value for name, value in fields.items() if value is not UNSET}
    if request is UNSET:
        return given if given or fields else UNSET
    given = {name: value for name, value in given.items() if not _is_default(name, value, defaults)}
    if given:
        names = ", ".join(sorted(given))
        raise InvalidInputError("request", f"pass either request= or keyword arguments ({names})")
    return request


def _is_default(name: str, value: Any, defaults: Mapping[str, Any] | None) -> bool:
    if not defaults or name not in defaults:
        return False
    default = defaults[name]
    return type(value) is type(default) and bool(value == default)
