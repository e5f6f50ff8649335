"""Proxy settings from the environment (read once per owned session)."""

from __future__ import annotations

import pytest

from shared.proxies import EnvProxies


def test_no_proxy_variables_means_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    proxies = EnvProxies()
    assert not proxies and proxies.proxy_for("https://acme-be.glean.com/x") is None


def test_scheme_specific_proxies_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.local:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy.local:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal.example")
    proxies = EnvProxies()
    assert proxies.proxy_for("http://example.com/a") == "http://proxy.local:3128"
    assert proxies.proxy_for("https://example.com/a") == "http://secure-proxy.local:3128"
    assert proxies.proxy_for("http://localhost:8080/a") is None
    assert proxies.proxy_for("https://api.internal.example/a") is None


def test_variables_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://first:1")
    proxies = EnvProxies()
    monkeypatch.setenv("HTTP_PROXY", "http://second:2")
    assert proxies.proxy_for("http://example.com/") == "http://first:1"
