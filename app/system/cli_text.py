"""Text for the terminal that both commands print: ``--help`` descriptions taken from
docstrings, and ``--version``.

The docstrings are reStructuredText, so ``code`` and :role:`name` markup would reach
the terminal as it is written; ``plain_text`` takes it off. Standard library only, so
``packaging/build.py`` can use it with any Python.
"""

from __future__ import annotations

import importlib.metadata
import re

DISTRIBUTION = "emotion-live"
"""The name ``pyproject.toml`` installs the project under."""

_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
_INTERPRETED = re.compile(r"(?::[\w.+-]+:)?`([^`\n]+)`_{0,2}")
"""`text`, :role:`text` and `link`_ (a literal's backticks are gone by then)."""


def plain_text(text: str) -> str:
    """``text`` without reStructuredText's inline markup: ``x``, `x` and :role:`x` become x."""
    return _INTERPRETED.sub(r"\1", _LITERAL.sub(r"\1", text))


def installed_version() -> str:
    """The installed distribution's version, else ``app.__version__`` (a bundle or a
    source tree that pip never installed has no metadata)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        import app

        return getattr(app, "__version__", "unknown")


def version_text(program: str) -> str:
    """What ``PROGRAM --version`` prints, e.g. "emotion-app 0.1.0"."""
    return f"{program} {installed_version()}"
