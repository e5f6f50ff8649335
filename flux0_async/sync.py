"""Blocking facade: ``Flux0`` with the async client's methods, each blocking."""

from ._generated.sync_client import Flux0

__all__ = ["Flux0"]
