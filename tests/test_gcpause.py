"""The cyclic GC paused while a large body is decoded (``shared.gcpause``)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from glean_async._generated import models
from glean_async._generated.wire import SERIALIZER
from shared import gcpause
from shared.serialization import StructureError


def _large_body() -> bytes:
    """A search response of many small results: well over the pause threshold (the
    model's module loaded and its hooks built first: loading allocates too)."""
    SERIALIZER.decode(b'{"results": []}', models.SearchResponse)
    results = [{"title": f"t{n}", "url": f"https://e.com/{n}", "snippets": []} for n in range(3000)]
    body = json.dumps({"results": results, "hasMoreResults": False}).encode()
    assert len(body) > gcpause.PAUSE_FROM_BYTES
    return body


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations of the collections that start while the test runs."""
    started: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(note)
    try:
        yield started
    finally:
        gc.callbacks.remove(note)
        gc.enable()


def test_no_collection_runs_while_a_large_body_is_decoded(collections: list[int]) -> None:
    body, model = _large_body(), models.SearchResponse
    collections.clear()
    response = SERIALIZER.decode(body, model)
    assert len(response.results) == 3000
    assert collections == []
    assert gc.isenabled()


def test_without_the_pause_the_same_body_is_collected_during_decoding(
    collections: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gcpause, "enabled", False)
    body, model = _large_body(), models.SearchResponse
    collections.clear()
    SERIALIZER.decode(body, model)
    assert collections  # the pause is what keeps them out
    assert gc.isenabled()


def test_a_small_body_leaves_the_collector_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    large = _large_body()
    real = SERIALIZER.loads
    monkeypatch.setattr(
        SERIALIZER, "loads", lambda body: (seen.append(gc.isenabled()), real(body))[1]
    )
    SERIALIZER.decode(b'{"results": []}', models.SearchResponse)
    SERIALIZER.decode(large, models.SearchResponse)
    assert seen == [True, False]


def test_a_collector_turned_off_by_the_program_stays_off() -> None:
    gc.disable()
    try:
        SERIALIZER.decode(_large_body(), models.SearchResponse)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_is_back_on_after_a_bad_body() -> None:
    body = json.dumps({"results": [{"title": 5}] * 3000}).encode()
    with pytest.raises(StructureError):
        SERIALIZER.decode(body, models.SearchResponse)
    assert gc.isenabled()


def test_pauses_from_two_threads_end_when_the_last_one_ends() -> None:
    inside, release_first, release_second = threading.Event(), threading.Event(), threading.Event()
    states: list[bool] = []

    def first() -> None:
        with gcpause.paused:
            inside.set()
            release_first.wait(10)

    def second() -> None:
        inside.wait(10)
        with gcpause.paused:
            release_first.set()
            release_second.wait(10)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    threads[0].join(10)
    states.append(gc.isenabled())  # the first pause ended, the second goes on
    release_second.set()
    threads[1].join(10)
    states.append(gc.isenabled())
    assert states == [False, True]


@pytest.mark.parametrize(("value", "enabled"), [("0", False), ("off", False), ("1", True)])
def test_the_environment_variable_turns_the_pause_off(value: str, enabled: bool) -> None:
    env = {**os.environ, "GLEAN_FLUX0_ASYNC_GC_PAUSE": value}
    script = "from shared import gcpause; print(gcpause.enabled)"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == str(enabled)
