"""The hand-owned files around ``_generated/``, written once when a package is new.

After the first generation these files belong to the package's authors (renaming an
error class, adding helpers); the generator never overwrites them.
"""

from __future__ import annotations

from pathlib import Path

from . import ir

INIT = '''"""Async client of {title}.

``{client}``, plus ``models``, ``errors``, ``converter`` (the wire format) and ``utils``.
Models load on first use, so importing the client stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors
from ._generated.client import {client}
from ._generated.wire import converter

if TYPE_CHECKING:
    from . import models, utils

__all__ = ["{client}", "converter", "errors", "models", "utils"]


def __getattr__(name: str) -> Any:
    if name in ("models", "utils", "sync"):
        return importlib.import_module(f"{{__name__}}.{{name}}")
    raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
'''

MODELS = '''"""Models of {title} (attrs classes, open enums, unions), loaded on first use."""

from typing import TYPE_CHECKING

from ._generated.models import __all__ as __all__
from ._generated.models import __getattr__ as __getattr__

if TYPE_CHECKING:
    from ._generated.models import *  # noqa: F403
'''

SYNC = '''"""Blocking facade: ``{client}`` with the async client's methods, each blocking."""

from ._generated.sync_client import {client}

__all__ = ["{client}"]
'''

UTILS = '''"""Retry settings, the ``UNSET`` sentinel and stream types."""

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
'''

ERRORS_HEAD = '''"""Exceptions: every error this SDK raises derives from :class:`{base}`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import errors as _base
from shared.errors import ErrorTypes

if TYPE_CHECKING:
    from ._generated import models


class {base}(_base.SDKError):
    """An API call failed; carries ``status_code``, ``body``, ``headers``, ``raw_response``."""


class APIConnectionError({base}, _base.SDKConnectionError):
    """The request could not be sent or the response could not be read."""


class APITimeoutError({base}, _base.SDKTimeoutError):
    """The call, or a read of a streamed response, timed out."""


class ResponseValidationError({base}, _base.ResponseValidationError):
    """The response body does not match the spec; ``body`` holds it as received."""
'''

DATA_ERROR = '''

class {name}({base}, _base.SDKDataError):
    """An error response whose body parsed into ``models.{model}`` (``data``)."""

    data: models.{model}
'''

ERRORS_TAIL = '''

def _data_errors() -> dict[Any, type[_base.SDKDataError]]:
    """Error body models and their exceptions; imports the models on the first error."""
    from ._generated import models

    return {{{by_model}}}


ERROR_TYPES = ErrorTypes(
    base={base},
    connection=APIConnectionError,
    timeout=APITimeoutError,
    response_validation=ResponseValidationError,
    by_model=_data_errors,
)
'''


def error_models(api: ir.API) -> list[str]:
    """Models declared as the body of an error response, in spec order."""
    names: list[str] = []
    for op in api.operations:
        for response in op.responses:
            if response.status.startswith("2") or not isinstance(response.type, ir.Named):
                continue
            if response.type.name not in names:
                names.append(response.type.name)
    return names


def errors_module(api: ir.API, base: str = "APIError") -> str:
    text = ERRORS_HEAD.format(base=base)
    pairs = []
    for model in error_models(api):
        name = model if model.endswith("Error") else f"{model}Error"
        text += DATA_ERROR.format(name=name, base=base, model=model)
        pairs.append(f"models.{model}: {name}")
    return text + ERRORS_TAIL.format(base=base, by_model=", ".join(pairs))


def write_scaffold(folder: Path, api: ir.API, client: str) -> list[Path]:
    """Write the files of ``folder`` that do not exist yet; returns those written."""
    title = api.title or "the API"
    files = {
        "__init__.py": INIT.format(title=title, client=client),
        "models.py": MODELS.format(title=title),
        "sync.py": SYNC.format(client=client),
        "utils.py": UTILS,
        "errors.py": errors_module(api),
        "py.typed": "",
    }
    written = []
    for name, text in files.items():
        path = folder / name
        if not path.exists():
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
