"""Output files the user names are new files unless they say otherwise (``--overwrite``).

A command that writes a CSV, a plot, an annotated video or a model refuses an existing path
before any work starts: a shipped model, or the recording of an afternoon, is never
replaced by a command copied from the docs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

OVERWRITE_HINT = "pass --overwrite to replace it"


def refuse_existing(path: str | Path, overwrite: bool) -> Path:
    """``path`` (``~`` expanded); ValueError when it exists and ``overwrite`` is False."""
    path = Path(path).expanduser()
    if not overwrite and path.is_symlink():  # --overwrite replaces the link, never its target
        raise ValueError(f"{path}: a link is there (the app never writes through one; pass "
                         "--overwrite to replace the link, or name its target)")
    if not overwrite and path.exists():
        raise ValueError(f"{path} already exists; {OVERWRITE_HINT}")
    return path


def add_overwrite_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                           what: str = "--out") -> None:
    parser.add_argument("--overwrite", action="store_true", help=f"let {what} replace an existing file")
