"""Exceptions: every error this SDK raises derives from :class:`GleanError`.

| status | raised |
| --- | --- |
| 403, 422 with an ``ErrorInfo`` body (search) | :class:`GleanDataError` (``data``: ``ErrorInfo``) |
| 422 with a ``CollectionError`` body (collections) | :class:`CollectionError` |
| 4xx/5xx with an ``ErrorResponse`` body (agents) | :class:`ErrorResponseError` |
| any other non-2xx | :class:`GleanError` |
| network failure / timeout | :class:`APIConnectionError` / :class:`APITimeoutError` |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import errors as _base
from shared.errors import ErrorTypes

if TYPE_CHECKING:
    from ._generated import models


class GleanError(_base.SDKError):
    """An API call failed; carries ``status_code``, ``body``, ``headers``, ``raw_response``."""


class APIConnectionError(GleanError, _base.SDKConnectionError):
    """The request could not be sent or the response could not be read."""


class APITimeoutError(GleanError, _base.SDKTimeoutError):
    """The call, or a read of a streamed response, timed out."""


class ResponseValidationError(GleanError, _base.ResponseValidationError):
    """The response body does not match the spec; ``body`` holds it as received."""


class ErrorResponseError(GleanError, _base.SDKDataError):
    """An error response whose body parsed into ``models.ErrorResponse`` (``data``)."""

    data: models.ErrorResponse


class CollectionError(GleanError, _base.SDKDataError):
    """An error response whose body parsed into ``models.CollectionError`` (``data``)."""

    data: models.CollectionError


class GleanDataError(GleanError, _base.SDKDataError):
    """An error response whose body parsed into ``models.ErrorInfo`` (``data``)."""

    data: models.ErrorInfo


def _data_errors() -> dict[Any, type[_base.SDKDataError]]:
    """Error body models and their exceptions; imports the models on the first error."""
    from ._generated import models

    return {
        models.ErrorResponse: ErrorResponseError,
        models.CollectionError: CollectionError,
        models.ErrorInfo: GleanDataError,
    }


ERROR_TYPES = ErrorTypes(
    base=GleanError,
    connection=APIConnectionError,
    timeout=APITimeoutError,
    response_validation=ResponseValidationError,
    by_model=_data_errors,
)
