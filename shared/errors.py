"""Exception base classes that each SDK specialises.

Every error an SDK raises derives from its own subclass of :class:`SDKError`, so
``except glean_async.errors.GleanError`` catches HTTP errors, network failures, timeouts
and unreadable responses alike. Messages never contain credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import aiohttp


class SDKError(Exception):
    """An API call failed: an error status, a network failure or a bad response.

    ``body`` is the raw response text ("" when there was no response), ``raw_response``
    the (already read and released) aiohttp response, ``headers`` its headers.
    """

    def __init__(
        self,
        message: str,
        status_code: int = 0,
        body: str = "",
        raw_response: aiohttp.ClientResponse | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.raw_response = raw_response
        self.headers: Mapping[str, str] = headers if headers is not None else {}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class SDKConnectionError(SDKError, ConnectionError):
    """The request could not be sent or the response could not be read."""


class SDKTimeoutError(SDKError, TimeoutError):
    """The request, or a read of a streamed response, took longer than its timeout."""


class ResponseValidationError(SDKError):
    """The server answered with a body that does not match the spec."""


class SDKDataError(SDKError):
    """An error response whose body parsed into a model of the spec, kept in ``data``."""

    def __init__(
        self,
        message: str,
        status_code: int = 0,
        body: str = "",
        raw_response: aiohttp.ClientResponse | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        data: Any = None,
    ) -> None:
        super().__init__(message, status_code, body, raw_response, headers)
        self.data = data


class InvalidInputError(TypeError, ValueError):
    """An argument does not fit the spec; raised before any request is sent.

    ``field`` names the argument and the path inside it, e.g. ``request.agent_id``.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid value for '{field}': {problem}")
        self.field = field
        self.problem = problem


DataErrors = Mapping[Any, type[SDKDataError]]


@attrs.frozen
class ErrorTypes:
    """The exception classes one SDK raises, handed to the HTTP core.

    ``by_model`` maps the model of an error response body to the exception class that
    carries it parsed in ``data``. It may be given as a function returning that mapping,
    called at the first error, so building a client does not import the models.
    """

    base: type[SDKError]
    connection: type[SDKError]
    timeout: type[SDKError]
    response_validation: type[SDKError]
    data_errors: DataErrors | Callable[[], DataErrors] = attrs.field(factory=dict, alias="by_model")
    _resolved: list[DataErrors] = attrs.field(factory=list, init=False, eq=False, repr=False)

    @property
    def by_model(self) -> DataErrors:
        if not self._resolved:
            source = self.data_errors
            self._resolved.append(source() if callable(source) else source)
        return self._resolved[0]
