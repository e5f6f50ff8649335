"""Server templates, token sources, redaction and the debug logger."""

from __future__ import annotations

import logging
import pickle
import sys
from typing import Any

import pytest

from shared.auth import REDACTED, TokenSource, is_secret_header, redact_headers, scrub
from shared.debuglog import (
    debug_logger_from_env,
    excerpt,
    log_failure,
    log_request,
    log_response,
    log_retry,
    redact_url,
)
from shared.servers import ServerTemplate, ServerVariable

TOKEN = "tok-SECRET-abcdef"
GLEAN = ServerTemplate("https://{instance}-be.glean.com", {"instance": ServerVariable("instance")})

# --- server templates -----------------------------------------------------------------


def test_variables_take_values_or_defaults() -> None:
    assert GLEAN.resolve({"instance": "acme"}) == "https://acme-be.glean.com"
    assert GLEAN.resolve({"instance": None}) == "https://instance-be.glean.com"
    assert GLEAN.resolve() == "https://instance-be.glean.com"
    assert GLEAN.resolve({"instance": "a.b_c~d-e9"}) == "https://a.b_c~d-e9-be.glean.com"


@pytest.mark.parametrize(
    "value",
    [
        "evil.com/x",
        "evil.com#",
        "evil.com?",
        "user@evil.com",
        "evil.com:443",
        "a%2Fb",
        "a\\b",
        "a b",
        "a\tb",
        "line\nbreak",
        "",
        "caf\xe9",
        "[::1]",
    ],
)
def test_values_that_could_move_the_request_are_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="instance") as caught:
        GLEAN.resolve({"instance": value})
    assert "host or path" in str(caught.value)


def test_enum_unknown_names_and_undeclared_placeholders() -> None:
    template = ServerTemplate(
        "https://{region}.example.test/{version}",
        {"region": ServerVariable("eu", ("eu", "us")), "version": ServerVariable("v1")},
    )
    assert template.resolve({"region": "us"}) == "https://us.example.test/v1"
    with pytest.raises(ValueError, match=r"region.*'eu', 'us'"):
        template.resolve({"region": "asia"})
    with pytest.raises(ValueError, match="unknown server variable 'instance'"):
        template.resolve({"instance": "acme"})
    assert template.resolve({"instance": None}) == "https://eu.example.test/v1"
    with pytest.raises(ValueError, match="undeclared variable 'host'"):
        ServerTemplate("https://{host}.example.test")
    with pytest.raises(ValueError, match="must be a string"):
        template.resolve({"region": 5})  # type: ignore[dict-item]


# --- token sources --------------------------------------------------------------------


@pytest.mark.anyio
async def test_static_sync_and_async_tokens() -> None:
    calls = 0

    def refresh() -> str:
        nonlocal calls
        calls += 1
        return f"{TOKEN}-{calls}"

    async def refresh_async() -> str:
        return TOKEN

    assert await TokenSource(TOKEN).get() == TOKEN
    source = TokenSource(refresh)
    assert [await source.get(), await source.get()] == [f"{TOKEN}-1", f"{TOKEN}-2"]
    assert await TokenSource(refresh_async).get() == TOKEN
    assert await TokenSource(lambda: "").get() is None


@pytest.mark.anyio
async def test_from_arg_falls_back_to_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SDK_TOKEN", TOKEN)
    source = TokenSource.from_arg(None, env_var="TEST_SDK_TOKEN")
    assert source is not None and await source.get() == TOKEN
    explicit = TokenSource.from_arg("given", env_var="TEST_SDK_TOKEN")
    assert explicit is not None and await explicit.get() == "given"
    monkeypatch.setenv("TEST_SDK_TOKEN", "")
    assert TokenSource.from_arg(None, env_var="TEST_SDK_TOKEN") is None
    monkeypatch.delenv("TEST_SDK_TOKEN")
    assert TokenSource.from_arg(None, env_var="TEST_SDK_TOKEN") is None


@pytest.mark.anyio
async def test_bad_tokens_are_refused_without_showing_them() -> None:
    with pytest.raises(TypeError, match="string or a callable"):
        TokenSource(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int"):
        await TokenSource(lambda: 42).get()  # type: ignore[arg-type]
    with pytest.raises(ValueError) as caught:
        await TokenSource(f"{TOKEN}\r\nX-Injected: 1").get()
    assert TOKEN not in str(caught.value)


@pytest.mark.anyio
async def test_fixed_token_checked_once_but_refused_on_every_use() -> None:
    bad = TokenSource(f"{TOKEN}\nX-Injected: 1")
    assert bad.is_fixed
    for _ in range(2):
        with pytest.raises(ValueError) as caught:
            bad.fixed()
        assert TOKEN not in str(caught.value)
        with pytest.raises(ValueError):
            await bad.get()
    with pytest.raises(ValueError):
        TokenSource("tök").fixed()
    assert TokenSource(TOKEN).fixed() == TOKEN and TokenSource(TOKEN).is_fixed
    assert TokenSource("").fixed() is None and await TokenSource("").get() is None
    assert not TokenSource(lambda: TOKEN).is_fixed


def test_token_source_repr_hides_the_token() -> None:
    assert TOKEN not in repr(TokenSource(TOKEN))
    assert TOKEN not in str(TokenSource(TOKEN))
    assert "hidden" in repr(TokenSource(lambda: TOKEN))


def test_pickled_token_source_still_works() -> None:
    assert isinstance(pickle.loads(pickle.dumps(TokenSource(TOKEN))), TokenSource)


# --- redaction ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "X-Api-Key",
        "X-Glean-Auth-Type",
        "X-Access-Token",
        "Client-Secret",
        "X-Scio-Actas-Key",
    ],
)
def test_secret_headers(name: str) -> None:
    assert is_secret_header(name)


@pytest.mark.parametrize("name", ["Content-Type", "Accept", "User-Agent", "X-Request-Id"])
def test_ordinary_headers(name: str) -> None:
    assert not is_secret_header(name)


def test_redact_headers_keeps_names_and_repeats() -> None:
    headers = [
        ("Authorization", f"Bearer {TOKEN}"),
        ("Accept", "application/json"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    assert redact_headers(headers) == {
        "Authorization": REDACTED,
        "Accept": "application/json",
        "Set-Cookie": f"{REDACTED}, {REDACTED}",
    }
    assert redact_headers({"X-Api-Key": "k"}) == {"X-Api-Key": REDACTED}


def test_scrub() -> None:
    assert scrub(f"echo Bearer {TOKEN}!", [TOKEN, None, ""]) == f"echo Bearer {REDACTED}!"


def test_redact_url() -> None:
    assert redact_url("https://user:pw@host/p?q=1&access_token=abc") == (
        f"https://{REDACTED}@host/p?q=1&access_token={REDACTED}"
    )
    assert redact_url("https://host/p?q=a%20b") == "https://host/p?q=a%20b"


# --- debug logger ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "1", "YES", " on "])
def test_debug_logger_from_env_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TEST_SDK_DEBUG", value)
    root_handlers = list(logging.getLogger().handlers)
    root_level = logging.getLogger().level
    logger = debug_logger_from_env("TEST_SDK_DEBUG", "test_sdk_env")
    again = debug_logger_from_env("TEST_SDK_DEBUG", "test_sdk_env")
    assert logger is again is logging.getLogger("test_sdk_env")
    assert logger is not None
    assert logger.level == logging.DEBUG and not logger.propagate
    stderr_handlers = [h for h in logger.handlers if getattr(h, "stream", None) is sys.stderr]
    assert len(stderr_handlers) == 1
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger().level == root_level


@pytest.mark.parametrize("value", [None, "", "false", "0", "no"])
def test_debug_logger_from_env_off(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("TEST_SDK_DEBUG", raising=False)
    else:
        monkeypatch.setenv("TEST_SDK_DEBUG", value)
    assert debug_logger_from_env("TEST_SDK_DEBUG", "test_sdk_env_off") is None


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def logger_with_lines(name: str) -> tuple[logging.Logger, Lines]:
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    lines = Lines()
    logger.handlers = [lines]
    return logger, lines


def test_log_lines_redact_secrets_and_cut_bodies() -> None:
    logger, lines = logger_with_lines("test_sdk_lines")
    headers: Any = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    log_request(logger, "POST", "https://host/rest/api?q=1", headers, "application/json 12 bytes")
    log_response(logger, 503, "application/json", 12.34, {"Set-Cookie": "s=1"}, "x" * 1000)
    log_retry(logger, 1.25, "503")
    log_failure(logger, "GET", "https://u:p@host/x", "Cannot connect")
    request, response, retry, failure = lines.lines
    assert request == (
        "-> POST https://host/rest/api?q=1 {Authorization: [REDACTED], "
        "Accept: application/json} application/json 12 bytes"
    )
    assert response.startswith("<- 503 application/json 12.3 ms {Set-Cookie: [REDACTED]}")
    assert len(response) < 300
    assert retry == "retrying in 1.2 s after 503"
    assert failure == "x- GET https://[REDACTED]@host/x failed: Cannot connect"
    assert TOKEN not in "\n".join(lines.lines)


def test_nothing_is_formatted_when_debug_is_off() -> None:
    logger, lines = logger_with_lines("test_sdk_quiet")
    logger.setLevel(logging.INFO)
    log_request(logger, "GET", "https://host/", {})
    log_response(logger, 200, "application/json", 1.0)
    assert lines.lines == []


def test_excerpt() -> None:
    assert excerpt("a\n  b\tc") == "a b c"
    assert excerpt("x" * 300) == "x" * 199 + "\u2026"
