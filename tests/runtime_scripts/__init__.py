"""Helpers for tests/test_runtime.py: a toy async client and scripts run as subprocesses."""
