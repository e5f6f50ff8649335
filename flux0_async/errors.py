"""Exceptions: every error this SDK raises derives from :class:`APIError`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import errors as _base
from shared.errors import ErrorTypes

if TYPE_CHECKING:
    from ._generated import models


class APIError(_base.SDKError):
    """An API call failed; carries ``status_code``, ``body``, ``headers``, ``raw_response``."""


class APIConnectionError(APIError, _base.SDKConnectionError):
    """The request could not be sent or the response could not be read."""


class APITimeoutError(APIError, _base.SDKTimeoutError):
    """The call, or a read of a streamed response, timed out."""


class ResponseValidationError(APIError, _base.ResponseValidationError):
    """The response body does not match the spec; ``body`` holds it as received."""


class HTTPValidationError(APIError, _base.SDKDataError):
    """An error response whose body parsed into ``models.HTTPValidationError`` (``data``)."""

    data: models.HTTPValidationError


def _data_errors() -> dict[Any, type[_base.SDKDataError]]:
    """Error body models and their exceptions; imports the models on the first error."""
    from ._generated import models

    return {models.HTTPValidationError: HTTPValidationError}


ERROR_TYPES = ErrorTypes(
    base=APIError,
    connection=APIConnectionError,
    timeout=APITimeoutError,
    response_validation=ResponseValidationError,
    by_model=_data_errors,
)
