"""Seeded fault injection for the embedded Glean server.

    server.faults = Faults(seed=7, error_rate=0.1, throttle_rate=0.05, latency=(0, 0.02))

Whether a request meets a fault is a pure function of the seed, the operation, a digest
of the request (path, query and body) and how many times that same request was seen
before (:func:`decide`): concurrent arrival order does not change which requests fail,
and a retried identical request gets a fresh decision. The same seed and the same
requests give the same faults; ``server.fault_log`` lists what was injected.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from typing import Any

import attrs

RATES = ("error_rate", "throttle_rate", "drop_rate", "truncate_rate", "error_after_store_rate")


def _rate(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError(f"Faults.{attribute.name} must be a number from 0 to 1, not {value!r}")


def _error_status(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 500 <= value <= 599:
        raise ValueError(f"Faults.error_status must be a 5xx status, not {value!r}")


def _retry_after(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ValueError(
            f"Faults.retry_after must be whole seconds (an int >= 0) or None, not {value!r}"
        )


def _latency(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    low, high = value if isinstance(value, tuple) else (value, value)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not 0 <= low <= high:
        raise ValueError(
            f"Faults.latency must be seconds >= 0 or a (min, max) range of them, not {value!r}"
        )


def _latency_range(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _names(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


def _ids(value: Iterable[str]) -> frozenset[str]:
    return frozenset({value}) if isinstance(value, str) else frozenset(value)


@attrs.frozen
class Faults:
    """The fault knobs (all off by default). Rates are probabilities per request.

    - ``error_rate``: answer ``error_status`` (503) without touching the state.
    - ``throttle_rate``: answer 429 with ``Retry-After: <retry_after>`` (whole seconds;
      0 sends ``Retry-After: 0``; None sends no header).
    - ``latency``: seconds to wait before answering, or a ``(min, max)`` range.
    - ``drop_rate``: close the connection without any response.
    - ``truncate_rate``: stop a streamed answer midway and close the connection.
    - ``error_after_store_rate``: apply the request to the state, then answer
      ``error_status``.
    - ``reject_ids``: requests carrying items with these ids fail with 400 naming
      them, every time, and store nothing.
    - ``operations``: the operation names (``indexing.documents.bulk_index``) the rates
      and the latency apply to; None means every operation.
    """

    seed: int = 0
    error_rate: float = attrs.field(default=0.0, validator=_rate)
    error_status: int = attrs.field(default=503, validator=_error_status)
    throttle_rate: float = attrs.field(default=0.0, validator=_rate)
    retry_after: int | None = attrs.field(default=0, validator=_retry_after)
    latency: float | tuple[float, float] = attrs.field(
        default=0.0, converter=_latency_range, validator=_latency
    )
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    truncate_rate: float = attrs.field(default=0.0, validator=_rate)
    error_after_store_rate: float = attrs.field(default=0.0, validator=_rate)
    reject_ids: frozenset[str] = attrs.field(factory=frozenset, converter=_ids)
    operations: frozenset[str] | None = attrs.field(default=None, converter=_names)

    def applies_to(self, operation: str) -> bool:
        """Whether the rates and the latency apply to an operation."""
        return self.operations is None or operation in self.operations

    @property
    def active(self) -> bool:
        """Whether any knob is on."""
        return bool(self.reject_ids) or self.latency != 0 or any(getattr(self, r) for r in RATES)


@attrs.frozen
class Decision:
    """The faults one request meets (before knowing its answer)."""

    latency: float = 0.0
    drop: bool = False
    throttle: bool = False
    error: bool = False
    error_after_store: bool = False
    truncate: bool = False


@attrs.frozen
class FaultRecord:
    """What was injected into one request."""

    operation: str
    digest: str  # of the request's path, query and body (first 16 hex digits)
    occurrence: int  # how many times this same request was seen before
    injected: tuple[str, ...]  # "latency", "drop", "throttle", "error", ...
    status: int | None  # the status answered (None: the connection was dropped)
    latency: float = 0.0
    detail: str = ""


def request_digest(path: str, query: str, body: bytes) -> str:
    """A digest of what identifies a request's content."""
    digest = hashlib.sha256(f"{path}?{query}\n".encode())
    digest.update(body)
    return digest.hexdigest()[:16]


def decide(faults: Faults, operation: str, digest: str, occurrence: int) -> Decision:
    """The faults a request meets: a pure function of its inputs.

    Every draw is made whatever the rates, so turning one knob does not move the others.
    """
    if not faults.applies_to(operation):
        return Decision()
    rng = random.Random(f"{faults.seed}:{operation}:{digest}:{occurrence}")
    drop, throttle, error, after, truncate, spread = (rng.random() for _ in range(6))
    low, high = faults.latency if isinstance(faults.latency, tuple) else (faults.latency,) * 2
    return Decision(
        latency=low + (high - low) * spread,
        drop=drop < faults.drop_rate,
        throttle=throttle < faults.throttle_rate,
        error=error < faults.error_rate,
        error_after_store=after < faults.error_after_store_rate,
        truncate=truncate < faults.truncate_rate,
    )
