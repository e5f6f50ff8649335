"""The HTTP core: one path for every API call, on one aiohttp session per client.

``HTTPCore.call(operation, params=..., body=..., options=...)``:

1. build: every argument is checked against the spec before anything is sent, then the
   URL (server, path and query parameters), headers and body (:mod:`shared.bodies`)
   are laid out;
2. send: per-attempt timeout, bearer token fetched per attempt, tenacity retries; every
   response not handed to the caller is read and released before a retry waits;
3. dispatch by status and content type: the body structured into its model, ``None``, a
   ``str``, ``bytes``, an :class:`~shared.streams.EventStream`, or an SDK exception.
   A stream typed by a discriminated union hands out an event whose discriminator value
   the union does not know (a server newer than the spec) as the raw
   :class:`~shared.sse.ServerSentEvent`; a known one that does not fit still raises.
   An error response the spec gives no schema raises a typed error only when its body
   fits, strictly, a model the same status has elsewhere (``Response.fallback_types``).

Defaults: :data:`DEFAULT_TIMEOUT_MS` (60 s) is the whole-attempt limit of a normal call;
a streaming call uses it as the connect limit and as the longest silence between two
reads of the stream instead, so a long stream lives while a silent one times out.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import json
import logging
import os
import platform
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Literal

import aiohttp
import attrs
import yarl

from shared import params as wire_params
from shared.auth import TokenSource, redact_headers, scrub
from shared.bodies import PreparedBody, prepare_body
from shared.debuglog import excerpt, log_failure, log_request, log_response, log_retry
from shared.errors import ErrorTypes, InvalidInputError, SDKError
from shared.operation import Operation, Param, Response
from shared.proxies import EnvProxies
from shared.retries import (
    DEFAULT_RETRY_CONFIG,
    NO_RETRIES,
    OnRetry,
    Retryable,
    RetryConfig,
    retry_after_first,
)
from shared.servers import ServerTemplate
from shared.unset import UNSET

if TYPE_CHECKING:
    from shared.serialization import Serializer, UnionInfo
    from shared.sse import ServerSentEvent

DEFAULT_TIMEOUT_MS = 60_000
"""Timeout of one attempt when neither the client nor the call sets ``timeout_ms``."""

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_JSON_MIME = re.compile(r"^application/([\w.+-]+\+)?json$")
_NDJSON_MIMES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/json-seq"}
)
_NO_RETRY_ERRORS = (aiohttp.ClientSSLError, aiohttp.InvalidURL)


# --- configuration ----------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class ClientConfig:
    """What one SDK client hands its :class:`HTTPCore`.

    ``sdk_name`` names the debug logger and starts the User-Agent
    (``<sdk_name>/<version> python/<ver> aiohttp/<ver>``). ``retry_config=None`` means
    :data:`~shared.retries.DEFAULT_RETRY_CONFIG`, ``timeout_ms=None``
    :data:`DEFAULT_TIMEOUT_MS`. ``session`` is a caller-owned session, never closed here.
    """

    sdk_name: str
    servers: Sequence[ServerTemplate]
    serializer: Serializer
    errors: ErrorTypes
    token: TokenSource | None = None
    server_url: str | None = None
    server_idx: int | None = None
    server_variables: Mapping[str, str | None] = attrs.field(factory=dict)
    retry_config: RetryConfig | None = None
    timeout_ms: int | None = None
    session: aiohttp.ClientSession | None = None
    debug_logger: logging.Logger | None = None
    sdk_version: str | None = None

    def __repr__(self) -> str:
        token = "<hidden>" if self.token is not None else None
        return (
            f"ClientConfig(sdk_name={self.sdk_name!r}, server_url={self.server_url!r}, "
            f"server_idx={self.server_idx!r}, server_variables={dict(self.server_variables)!r}, "
            f"token={token}, retry_config={self.retry_config!r}, timeout_ms={self.timeout_ms!r}, "
            f"session={'<borrowed>' if self.session is not None else None})"
        )


def _redacted_repr(headers: Mapping[str, str] | None) -> str:
    return repr(redact_headers(headers) if headers is not None else None)


@attrs.frozen
class CallOptions:
    """Per-call overrides; ``None`` keeps the client's setting."""

    retries: RetryConfig | None = None
    timeout_ms: int | None = None
    server_url: str | None = None
    http_headers: Mapping[str, str] | None = attrs.field(default=None, repr=_redacted_repr)


@functools.cache
def _package_version(sdk_version: str | None) -> str:
    if sdk_version:
        return sdk_version
    try:
        return importlib.metadata.version("glean-flux0-async")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def user_agent(sdk_name: str, sdk_version: str | None = None) -> str:
    """``<sdk_name>/<version> python/<ver> aiohttp/<ver>``."""
    return (
        f"{sdk_name}/{_package_version(sdk_version)} python/{platform.python_version()} "
        f"aiohttp/{aiohttp.__version__}"
    )


def _checked_base_url(url: str, field: str) -> str:
    try:
        parsed = yarl.URL(url)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(field, f"not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInputError(field, "must be an absolute http:// or https:// URL")
    return str(parsed.with_query(None).with_fragment(None)).rstrip("/")


def _base_url(config: ClientConfig) -> str:
    if config.server_url is not None:
        return _checked_base_url(config.server_url, "server_url")
    index = config.server_idx or 0
    if not 0 <= index < len(config.servers):
        raise InvalidInputError("server_idx", f"must be between 0 and {len(config.servers) - 1}")
    resolved = config.servers[index].resolve(config.server_variables)
    return _checked_base_url(resolved, "server_url")


def _timeout_ms(value: int | None, field: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not value > 0):
        raise InvalidInputError(field, "must be a positive number of milliseconds")
    return value


def _path(op: Operation, plan: _Plan, wire: Mapping[str, Any]) -> str:
    """The path with every placeholder filled from the wire values."""
    if plan.fixed_path is not None:
        return plan.fixed_path
    if plan.path_broken:
        return _fill_path(op, wire)
    return "".join(
        piece if isinstance(piece, str) else wire_params.path_value(piece, wire[piece.py_name])
        for piece in plan.path
    )


def _fill_path(op: Operation, wire: Mapping[str, Any]) -> str:
    """Fill the path of an operation where a placeholder has no parameter (raises there)."""
    by_name = {param.name: param for param in op.params if param.location == "path"}

    def fill(match: re.Match[str]) -> str:
        param = by_name.get(match.group(1))
        if param is None:
            raise ValueError(f"{op.name}: path {op.path!r} has no parameter {match[0]}")
        return wire_params.path_value(param, wire[param.py_name])

    return _PLACEHOLDER.sub(fill, op.path)


def _query(plan: _Plan, wire: Mapping[str, Any]) -> str:
    if not plan.query:
        return ""
    pairs = [
        pair for param in plan.query for pair in wire_params.query_pairs(param, wire[param.py_name])
    ]
    return "?" + wire_params.query_string(pairs) if pairs else ""


# --- per-operation data -----------------------------------------------------------------


@attrs.frozen
class _Plan:
    """What an :class:`Operation` always needs to build a request, worked out once."""

    method: str
    known: frozenset[str]  # py_name of every parameter
    fixed_path: str | None  # the path, when it has no placeholders
    path: tuple[str | Param, ...]  # literal text and path parameters, in order
    path_broken: bool  # a placeholder has no parameter: raised when a call is built
    query: tuple[Param, ...]
    headers: tuple[Param, ...]  # header and cookie parameters
    accept: str


_PLANS: dict[int, tuple[Operation, _Plan]] = {}
_MAX_PLANS = 4096


def _plan(op: Operation) -> _Plan:
    """The :class:`_Plan` of ``op``, cached by identity (operations are constants)."""
    entry = _PLANS.get(id(op))
    if entry is not None and entry[0] is op:
        return entry[1]
    plan = _make_plan(op)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[id(op)] = (op, plan)
    return plan


def _make_plan(op: Operation) -> _Plan:
    by_name = {param.name: param for param in op.params if param.location == "path"}
    pieces: list[str | Param] = []
    broken = False
    position = 0
    for match in _PLACEHOLDER.finditer(op.path):
        pieces.append(op.path[position : match.start()])
        param = by_name.get(match.group(1))
        broken = broken or param is None
        pieces.append(param if param is not None else match[0])
        position = match.end()
    pieces.append(op.path[position:])
    return _Plan(
        method=op.method.upper(),
        known=frozenset(param.py_name for param in op.params),
        fixed_path=op.path if len(pieces) == 1 else None,
        path=tuple(piece for piece in pieces if piece != ""),
        path_broken=broken,
        query=tuple(param for param in op.params if param.location == "query"),
        headers=tuple(param for param in op.params if param.location in ("header", "cookie")),
        accept=_accept(op.responses),
    )


@functools.lru_cache(maxsize=64)
def _client_timeout(ms: int, streaming: bool) -> aiohttp.ClientTimeout:
    """The aiohttp timeout of one attempt (immutable, so shared between calls)."""
    seconds = ms / 1000
    if streaming:
        return aiohttp.ClientTimeout(connect=seconds, sock_read=seconds)
    return aiohttp.ClientTimeout(total=seconds)


_NO_OPTIONS = CallOptions()
_NO_PARAMS: Mapping[str, Any] = {}
_MAX_URLS = 1024


# --- the core ---------------------------------------------------------------------------


class _Request:
    """Everything about one call that does not change between attempts (never mutated:
    each attempt that adds a header copies ``headers``)."""

    __slots__ = ("auth", "body", "headers", "method", "url")

    def __init__(
        self,
        method: str,
        url: yarl.URL,
        headers: dict[str, str],
        body: PreparedBody | None,
        auth: bool,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.auth = auth


class HTTPCore:
    """Builds, sends, retries and dispatches every call of one client."""

    def __init__(self, config: ClientConfig) -> None:
        self._config = config
        self._base_url = _base_url(config)
        ms = _timeout_ms(config.timeout_ms, "timeout_ms") or DEFAULT_TIMEOUT_MS
        # the timeouts of a call without its own timeout_ms, by op.streaming
        self._default_timeouts = {
            False: _client_timeout(ms, False),
            True: _client_timeout(ms, True),
        }
        self._user_agent = user_agent(config.sdk_name, config.sdk_version)
        self._urls: dict[str, yarl.URL] = {}  # path and query -> URL on the client's server
        self._bearer: tuple[str, str] = ("", "")  # the last token and its header value
        self._owned: aiohttp.ClientSession | None = None
        self._owner: tuple[asyncio.AbstractEventLoop, int] | None = None
        # sessions of a loop or process we left: never closed from here (their sockets
        # belong to another loop, or are shared with the parent after fork), but kept
        # referenced so their finalizers do not complain while this core lives
        self._abandoned: list[aiohttp.ClientSession] = []
        self._proxies: EnvProxies | None = None
        self._closed = False

    def __repr__(self) -> str:
        ownership = "borrowed" if self._config.session is not None else "owned"
        state = "closed" if self._closed else "open"
        return (
            f"<HTTPCore {self._config.sdk_name} {self._base_url} "
            f"session={ownership} token={'set' if self._config.token else 'none'} {state}>"
        )

    @property
    def config(self) -> ClientConfig:
        return self._config

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use: the borrowed one, or the owned one once created."""
        return self._config.session if self._config.session is not None else self._owned

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Close the owned session (never a borrowed one); safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        session, self._owned = self._owned, None
        if session is None or session.closed:
            return
        if self._owner == (asyncio.get_running_loop(), os.getpid()):
            await session.close()
        else:
            self._abandoned.append(session)

    # -- session ---------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError(f"this {self._config.sdk_name} client is closed")
        if self._config.session is not None:
            return self._config.session
        owner = (asyncio.get_running_loop(), os.getpid())
        session = self._owned
        if session is not None and self._owner != owner:
            self._abandoned.append(session)
            session = None
        if session is None or session.closed:
            session = self._new_session()
            self._owned, self._owner = session, owner
        return session

    def _new_session(self) -> aiohttp.ClientSession:
        # proxy variables are honoured through EnvProxies (read once), not trust_env
        proxies = EnvProxies()
        self._proxies = proxies if proxies else None  # None: no proxy variable is set
        connector = aiohttp.TCPConnector(limit=256, ttl_dns_cache=300, keepalive_timeout=30)
        return aiohttp.ClientSession(
            connector=connector, trust_env=False, timeout=aiohttp.ClientTimeout()
        )

    # -- call ------------------------------------------------------------------------

    async def call(
        self,
        op: Operation,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = UNSET,
        options: CallOptions | None = None,
    ) -> Any:
        """Send one API call and return its result (see the module docstring)."""
        options = options or _NO_OPTIONS
        request = self._build(op, params or _NO_PARAMS, body, options)
        timeout = self._timeout(op, options)
        # the first attempt runs here: no retry objects unless it fails in a retryable way
        started = time.monotonic()
        try:
            return await self._attempt(op, request, timeout)
        except Retryable as failure:
            first_failure = failure
        retries = options.retries or self._config.retry_config or DEFAULT_RETRY_CONFIG
        if request.body is not None and not request.body.replayable:
            retries = NO_RETRIES
        attempt = functools.partial(self._attempt, op, request, timeout)
        return await retry_after_first(
            retries, attempt, first_failure, started, on_retry=self._log_retry
        )

    async def call_prepared(
        self,
        op: Operation,
        body: PreparedBody,
        *,
        options: CallOptions | None = None,
        on_retry: OnRetry | None = None,
    ) -> Any:
        """Send ``op`` (no parameters) with a body the caller laid out: not validated or
        encoded again (bulk uploads build each page from items serialized once).

        ``on_retry(seconds, failure)`` is called, after the debug log, before each wait
        for a retry: it sees every failure the retry policy absorbs (its status and
        headers). Everything else is :meth:`call`'s.
        """
        options = options or _NO_OPTIONS
        request = self._build(op, _NO_PARAMS, UNSET, options, prepared=body)
        timeout = self._timeout(op, options)
        started = time.monotonic()
        try:
            return await self._attempt(op, request, timeout)
        except Retryable as failure:
            first_failure = failure
        retries = options.retries or self._config.retry_config or DEFAULT_RETRY_CONFIG
        attempt = functools.partial(self._attempt, op, request, timeout)
        hook = self._log_retry
        if on_retry is not None:

            def hook(seconds: float, failure: Retryable) -> None:
                self._log_retry(seconds, failure)
                on_retry(seconds, failure)

        return await retry_after_first(retries, attempt, first_failure, started, on_retry=hook)

    def _timeout(self, op: Operation, options: CallOptions) -> aiohttp.ClientTimeout:
        if options.timeout_ms is None:
            return self._default_timeouts[op.streaming]
        ms = _timeout_ms(options.timeout_ms, "timeout_ms")
        return _client_timeout(ms or DEFAULT_TIMEOUT_MS, op.streaming)

    def _log_retry(self, seconds: float, failure: Retryable) -> None:
        if self._config.debug_logger is not None:
            log_retry(self._config.debug_logger, seconds, failure.reason)

    # -- build -----------------------------------------------------------------------

    def _build(
        self,
        op: Operation,
        values: Mapping[str, Any],
        body: Any,
        options: CallOptions,
        prepared: PreparedBody | None = None,
    ) -> _Request:
        plan = _plan(op)
        for name in values:
            if name not in plan.known:
                raise InvalidInputError(name, f"is not a parameter of {op.name}")
        wire = (
            {
                param.py_name: self._param_value(param, values.get(param.py_name, UNSET))
                for param in op.params
            }
            if op.params
            else _NO_PARAMS
        )
        target = _path(op, plan, wire) + _query(plan, wire)
        if options.server_url is not None:
            base = _checked_base_url(options.server_url, "server_url")
            url = yarl.URL(base + target, encoded=True)
        else:
            url = self._url(target)
        if prepared is None:
            prepared = prepare_body(op.body, body, self._config.serializer)
        headers = self._headers(plan, wire, prepared, options.http_headers)
        return _Request(plan.method, url, headers, prepared, op.auth)

    def _url(self, target: str) -> yarl.URL:
        """The URL of ``target`` (path and query) on the client's server, kept for reuse."""
        url = self._urls.get(target)
        if url is None:
            url = yarl.URL(self._base_url + target, encoded=True)
            if len(self._urls) >= _MAX_URLS:
                self._urls.clear()
            self._urls[target] = url
        return url

    def _param_value(self, param: Param, value: Any) -> Any:
        """The checked wire value of one parameter (``UNSET`` when it is left out)."""
        if value is UNSET or value is None:
            if param.required or param.location == "path":
                raise InvalidInputError(param.py_name, "this argument is required")
            return UNSET
        serializer = self._config.serializer
        return serializer.unstructure(serializer.from_python(value, param.type, param.py_name))

    def _headers(
        self,
        plan: _Plan,
        wire: Mapping[str, Any],
        body: PreparedBody | None,
        extra: Mapping[str, str] | None,
    ) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent}
        if plan.accept:
            headers["Accept"] = plan.accept
        if body is not None and body.content_type:
            headers["Content-Type"] = body.content_type
        cookies: list[str] = []
        for param in plan.headers:
            value = wire[param.py_name]
            if wire_params.is_omitted(value):
                continue
            if param.location == "header":
                headers[param.name] = _header_safe(wire_params.header_value(param, value), param)
            elif param.location == "cookie":
                pairs = wire_params.cookie_pairs(param, value)
                cookies.extend(f"{name}={text}" for name, text in pairs)
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        if extra:
            for name, value in extra.items():
                if any(char in f"{name}{value}" for char in "\r\n\0"):
                    raise InvalidInputError(
                        "http_headers", f"header {name!r} contains a line break"
                    )
                headers[name] = value
        return headers

    # -- send ------------------------------------------------------------------------

    async def _attempt(
        self, op: Operation, request: _Request, timeout: aiohttp.ClientTimeout
    ) -> Any:
        source = self._config.token if request.auth else None
        if source is None:
            token = None
        elif source.is_fixed:
            token = source.fixed()
        else:
            token = await source.get()
        headers = request.headers
        if token:
            headers = {**headers, "Authorization": self._bearer_value(token)}
        session = self._session()
        opened: list[IO[bytes]] = []
        try:
            data = request.body.open(opened) if request.body is not None else None
            if self._config.debug_logger is not None:
                self._log_request(request, headers)
            started = time.monotonic()
            try:
                response = await session.request(
                    request.method,
                    request.url,
                    headers=headers,
                    data=data,
                    timeout=timeout,
                    raise_for_status=False,
                    proxy=self._proxy(session, request.url),
                )
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise self._network_failure(op, request, exc, token) from exc
            return await self._dispatch(op, response, started, token)
        finally:
            for handle in opened:
                handle.close()

    def _bearer_value(self, token: str) -> str:
        """``Bearer <token>``, built again only when the token changes."""
        last, value = self._bearer
        if token != last:
            value = f"Bearer {token}"
            self._bearer = (token, value)
        return value

    def _log_request(self, request: _Request, headers: Mapping[str, str]) -> None:
        logger = self._config.debug_logger
        if logger is not None:
            note = request.body.describe() if request.body is not None else ""
            log_request(logger, request.method, str(request.url), headers, note)

    def _proxy(self, session: aiohttp.ClientSession, url: yarl.URL) -> str | None:
        """The environment's proxy for ``url``, for owned sessions only."""
        proxies = self._proxies
        if proxies is None or session is self._config.session:
            return None
        return proxies.proxy_for(url)

    def _network_failure(
        self, op: Operation, request: _Request, exc: BaseException, token: str | None
    ) -> Exception:
        """The SDK error for a failure without a response, wrapped for the retry policy."""
        error = self._network_error(op, exc, token)
        if self._config.debug_logger is not None:
            log_failure(self._config.debug_logger, request.method, str(request.url), str(error))
        error.__cause__ = exc
        if isinstance(exc, _NO_RETRY_ERRORS) or not isinstance(
            exc,
            (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError),
        ):
            return error
        return Retryable(error)

    def _network_error(self, op: Operation, exc: BaseException, token: str | None) -> SDKError:
        errors = self._config.errors
        detail = scrub(str(exc) or type(exc).__name__, [token])
        if isinstance(exc, asyncio.TimeoutError):
            return errors.timeout(f"{op.name}: timed out ({detail})")
        return errors.connection(f"{op.name}: connection error ({type(exc).__name__}: {detail})")

    # -- dispatch --------------------------------------------------------------------

    async def _dispatch(
        self, op: Operation, response: aiohttp.ClientResponse, started: float, token: str | None
    ) -> Any:
        """Turn a response into the call's result, or raise; the response is released or
        handed to the returned stream, whatever happens (cancellation included)."""
        handed_over = False
        try:
            declared = op.response_for(response.status)
            if _is_success(response.status) and _streams(declared, response):
                assert declared is not None
                self._log_response(response, started, b"", token)
                stream = self._stream(op, declared, response, token)
                handed_over = True
                return stream
            try:
                body = await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise self._network_failure_reading(op, exc, token) from exc
            response.release()
            self._log_response(response, started, body, token)
            if _is_success(response.status):
                return self._success(op, declared, response, body, token)
            error = self._http_error(op, declared, response, body, token)
            raise Retryable(error, status_code=response.status, headers=response.headers)
        finally:
            if not handed_over:
                response.close()

    def _network_failure_reading(
        self, op: Operation, exc: BaseException, token: str | None
    ) -> Exception:
        error = self._network_error(op, exc, token)
        error.__cause__ = exc
        return Retryable(error)

    def _log_response(
        self, response: aiohttp.ClientResponse, started: float, body: bytes, token: str | None
    ) -> None:
        """Log the status line; an error body is shown as a short excerpt."""
        logger = self._config.debug_logger
        if logger is None:
            return
        elapsed_ms = (time.monotonic() - started) * 1000
        error_text = None
        if body and not _is_success(response.status):
            error_text = scrub(_text(body[:4096], response), [token])
        log_response(
            logger, response.status, response.content_type, elapsed_ms, response.headers, error_text
        )

    def _success(
        self,
        op: Operation,
        declared: Response | None,
        response: aiohttp.ClientResponse,
        body: bytes,
        token: str | None,
    ) -> Any:
        blank = not body.strip() if declared is not None and declared.kind == "json" else not body
        if declared is None or declared.kind == "empty" or blank:
            return None
        if not _content_type_fits(declared, response):
            raise self._invalid(op, response, body, token, f"expected {declared.content_type}")
        if declared.kind == "bytes":
            return body
        if declared.kind == "text":
            return _text(body, response)
        try:
            return self._config.serializer.decode(body, declared.type)
        except Exception as exc:
            raise self._invalid(op, response, body, token, str(exc)) from exc

    def _invalid(
        self,
        op: Operation,
        response: aiohttp.ClientResponse,
        body: bytes,
        token: str | None,
        problem: str,
    ) -> SDKError:
        text = _text(body, response)
        message = (
            f"{op.name}: HTTP {response.status} {response.content_type} response does not "
            f"match the spec ({excerpt(problem)}): {excerpt(text)}"
        )
        return self._config.errors.response_validation(
            scrub(message, [token]), response.status, text, response, response.headers
        )

    def _http_error(
        self,
        op: Operation,
        declared: Response | None,
        response: aiohttp.ClientResponse,
        body: bytes,
        token: str | None,
    ) -> SDKError:
        text = _text(body, response)
        message = f"{op.name}: HTTP {response.status}"
        if response.reason:
            message += f" {response.reason}"
        if text.strip():
            message += f": {excerpt(text)}"
        message = scrub(message, [token])
        errors = self._config.errors
        for model, strict in _error_models(declared):
            error_class = errors.by_model.get(model)
            if error_class is None:
                continue
            data = self._error_data(response, body, model, strict)
            if data is not None:
                return error_class(
                    message, response.status, text, response, response.headers, data=data
                )
        return errors.base(message, response.status, text, response, response.headers)

    def _error_data(
        self, response: aiohttp.ClientResponse, body: bytes, model: Any, strict: bool
    ) -> Any:
        """The error body structured into ``model``; ``None`` when it does not fit.

        ``strict`` (a fallback the spec does not declare for this response): the body must
        be JSON (by its content type, when it has one), a non-empty object, and every key
        a field of the model.
        """
        serializer = self._config.serializer
        if strict and not _is_json(response):
            return None
        try:
            data = serializer.loads(body)
            if strict and not _keys_declared(data, model):
                return None
            return serializer.structure(data, model)
        except Exception:
            return None  # not that error shape: the plain error

    # -- streams ---------------------------------------------------------------------

    def _stream(
        self,
        op: Operation,
        declared: Response,
        response: aiohttp.ClientResponse,
        token: str | None,
    ) -> Any:
        from shared.sse import LineDecoder, SSEDecoder
        from shared.streams import EventStream

        union = self._config.serializer.union_info(declared.type)  # None unless a union
        hook = _structure_hook(self._config.serializer, declared.type)
        parse = _StreamParser(op, declared, response, self._config, token, union, hook)
        map_error = functools.partial(self._map_stream_error, op, response, token)
        if declared.kind == "sse":
            return EventStream(response, SSEDecoder(), parse.event, map_error=map_error)
        return EventStream(response, LineDecoder(), parse.line, map_error=map_error)

    def _map_stream_error(
        self,
        op: Operation,
        response: aiohttp.ClientResponse,
        token: str | None,
        exc: BaseException,
    ) -> BaseException:
        """The SDK error for a failure while a stream is read."""
        errors = self._config.errors
        status, headers = response.status, response.headers
        detail = scrub(str(exc) or type(exc).__name__, [token])
        if isinstance(exc, SDKError):
            return exc
        if isinstance(exc, asyncio.TimeoutError):
            message = f"{op.name}: timed out reading the stream ({detail})"
            return errors.timeout(message, status, "", response, headers)
        if isinstance(exc, aiohttp.ClientError):
            message = f"{op.name}: connection lost reading the stream ({detail})"
            return errors.connection(message, status, "", response, headers)
        if isinstance(exc, ValueError):
            message = f"{op.name}: unreadable stream ({excerpt(detail)})"
            return errors.response_validation(message, status, detail, response, headers)
        return exc


@attrs.frozen
class _StreamParser:
    """Turns each decoded stream item into the declared model.

    ``union`` is the declared type's discriminated union, when it is one: an item whose
    discriminator value the union does not know (an item type newer than the spec) is
    handed out raw instead of failing the stream. ``hook`` is the serializer's structure
    hook of the declared type, looked up once per stream.
    """

    op: Operation
    declared: Response
    response: aiohttp.ClientResponse
    config: ClientConfig
    token: str | None
    union: UnionInfo | None = None
    hook: Callable[[Any, Any], Any] | None = None

    def event(self, event: ServerSentEvent) -> Any:
        """One Server-Sent Event -> its model; the event itself when it has no model."""
        if self.declared.type is None:
            return event
        value = _envelope(event) if self.declared.sse_envelope else self._event_data(event)
        if self._unknown_variant(value):
            return event
        return self._structure(value, event)

    def line(self, text: str) -> Any:
        """One NDJSON line -> its model (its JSON value when none is declared)."""
        try:
            value = self.config.serializer.loads(text)
        except ValueError as exc:
            raise self._invalid(text, f"line is not JSON: {exc}") from exc
        if self.declared.type is None:
            return value
        return self._structure(value, text)

    def _event_data(self, event: ServerSentEvent) -> Any:
        try:
            return self.config.serializer.loads(event.data.encode("utf-8"))
        except ValueError as exc:
            raise self._invalid(event, f"event data is not JSON: {exc}") from exc

    def _unknown_variant(self, value: Any) -> bool:
        """Whether ``value`` carries a discriminator value its union has no variant for."""
        if self.union is None or not isinstance(value, Mapping):
            return False
        tag = value.get(self.union.discriminator)
        return isinstance(tag, str) and tag not in self.union.mapping

    def _structure(self, value: Any, raw: str | ServerSentEvent) -> Any:
        hook = self.hook
        if hook is not None:
            try:
                return hook(value, self.declared.type)
            except Exception:  # structured again below, for the error message
                pass
        try:
            return self.config.serializer.structure(value, self.declared.type)
        except Exception as exc:
            raise self._invalid(raw, str(exc)) from exc

    def _invalid(self, item: str | ServerSentEvent, problem: str) -> SDKError:
        """The error for a bad item; an event is quoted as it was on the wire (its text is
        only built here, not for every event)."""
        raw = item if isinstance(item, str) else _event_text(item)
        message = f"{self.op.name}: stream item does not match the spec ({excerpt(problem)})"
        return self.config.errors.response_validation(
            scrub(f"{message}: {excerpt(raw)}", [self.token]),
            self.response.status,
            raw,
            self.response,
            self.response.headers,
        )


def _structure_hook(serializer: Serializer, tp: Any) -> Callable[[Any, Any], Any] | None:
    """``serializer``'s structure hook for ``tp``: the one :meth:`Serializer.structure` uses.

    ``None`` when there is no type, or the lookup fails (each item then goes through
    :meth:`Serializer.structure`, which reports the failure).
    """
    if tp is None:
        return None
    try:
        hook: Callable[[Any, Any], Any] = serializer.converter.get_structure_hook(tp)
    except Exception:
        return None
    return hook


def _envelope(event: ServerSentEvent) -> dict[str, Any]:
    """The whole event as the spec models it: ``{event, data, id, retry}``.

    ``data`` is parsed as JSON when it is JSON, kept as text otherwise, and left out when
    it is blank (so an optional ``data`` field stays unset and a required one is reported
    missing); ``id`` and ``retry`` are left out when the event has none.
    """
    payload: dict[str, Any] = {"event": event.event}
    if event.data.strip():
        payload["data"] = _json_or_text(event.data)
    if event.id is not None:
        payload["id"] = event.id
    if event.retry is not None:
        payload["retry"] = event.retry
    return payload


def _event_text(event: ServerSentEvent) -> str:
    """The event as it was on the wire (its ``retry`` field aside)."""
    lines = [f"event: {event.event}"]
    if event.id is not None:
        lines.append(f"id: {event.id}")
    lines.extend(f"data: {line}" for line in event.data.split("\n"))
    return "\n".join(lines)


def _json_or_text(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


# --- helpers ----------------------------------------------------------------------------


def _error_models(declared: Response | None) -> list[tuple[Any, bool]]:
    """Models an error body may be read as, each with whether it must fit strictly."""
    if declared is None:
        return []
    models = [(declared.type, False)] if declared.kind == "json" and declared.type else []
    return models + [(model, True) for model in declared.fallback_types]


def _is_json(response: aiohttp.ClientResponse) -> bool:
    actual = _mime(response.headers.get("Content-Type"))
    return not actual or bool(_JSON_MIME.match(actual))


def _keys_declared(data: Any, model: Any) -> bool:
    from shared.serialization import wire_names  # imported late: serialization is heavy

    if not isinstance(data, dict) or not data or not attrs.has(model):
        return False
    return wire_names(model).issuperset(data)


def _is_success(status: int) -> bool:
    return 200 <= status < 300


def _streams(declared: Response | None, response: aiohttp.ClientResponse) -> bool:
    """Whether a success response is handed out as a stream (its content type fits)."""
    return (
        declared is not None
        and declared.kind in ("sse", "ndjson")
        and _content_type_fits(declared, response)
    )


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _content_type_fits(declared: Response, response: aiohttp.ClientResponse) -> bool:
    """Whether the response's content type is one the declared response can be read as."""
    actual = _mime(response.headers.get("Content-Type"))
    expected = _mime(declared.content_type)
    if not actual or declared.kind == "bytes" or actual == expected:
        return True
    kind: Literal["json", "sse", "ndjson", "text", "bytes", "empty"] = declared.kind
    if kind == "json":
        return bool(_JSON_MIME.match(actual))
    if kind == "ndjson":
        return actual in _NDJSON_MIMES or actual == "text/plain" or bool(_JSON_MIME.match(actual))
    if kind == "text":
        return actual.startswith("text/") or expected in ("", "*/*")
    return False


def _accept(responses: Sequence[Response]) -> str:
    types: list[str] = []
    for response in responses:
        content_type = response.content_type
        if response.status.startswith("2") and content_type and content_type not in types:
            types.append(content_type)
    return ", ".join(types)


def _text(body: bytes, response: aiohttp.ClientResponse) -> str:
    charset = response.charset or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _header_safe(value: str, param: Param) -> str:
    if any(char in value for char in "\r\n\0"):
        raise InvalidInputError(param.py_name, "a header value cannot contain line breaks")
    return value


__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "CallOptions",
    "ClientConfig",
    "HTTPCore",
    "user_agent",
]
