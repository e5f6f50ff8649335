"""Blocking facade: ``Glean`` with the async client's methods, each blocking."""

from ._generated.sync_client import Glean

__all__ = ["Glean"]
