"""Retry settings, the ``UNSET`` sentinel and stream types."""

from shared.retries import BackoffStrategy, RetryConfig
from shared.runtime import SyncEventStream
from shared.sse import ServerSentEvent
from shared.streams import EventStream
from shared.unset import UNSET, Unset

__all__ = [
    "UNSET",
    "BackoffStrategy",
    "EventStream",
    "RetryConfig",
    "ServerSentEvent",
    "SyncEventStream",
    "Unset",
]
