"""What a multipart file argument may be."""

from __future__ import annotations

import os
from typing import IO, Any, TypeAlias

FileContent: TypeAlias = (
    bytes | IO[bytes] | os.PathLike[str] | tuple[str, Any] | tuple[str, Any, str]
)
"""Raw bytes, a binary file object, a path, or ``(filename, content[, content_type])``.

Files given as paths or file objects are streamed, not read into memory first.
"""
