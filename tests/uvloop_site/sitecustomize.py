"""On ``PYTHONPATH`` of a test subprocess when the run is on uvloop (tests/loops.py):
every new event loop, the SDK's background loop among them, comes from uvloop's policy."""

import asyncio
import warnings

import uvloop

with warnings.catch_warnings():  # policies are deprecated from Python 3.14 on
    warnings.simplefilter("ignore", DeprecationWarning)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
