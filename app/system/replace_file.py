"""Write a whole file so that a failure leaves the earlier one whole: written beside it,
then renamed into place (one rename is atomic on every local file system)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def replace_file(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path``; returns the bytes written. A device or pipe is written as
    it is; a regular file goes through ``.NAME.partial``, removed again when writing fails
    (the OSError is raised)."""
    if path.exists() and not path.is_file():
        path.write_bytes(data)
        return len(data)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise
    return len(data)
