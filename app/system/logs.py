"""Where the app keeps its log, and logging set up for a run: the console, and a file.

The console shows warnings and errors (``--log-level`` changes that); the file keeps
everything from INFO on, and the app's own DEBUG lines, where the native libraries'
raw messages go (a failed CUDA probe, what MediaPipe and FFmpeg printed). A window
started from a desktop has no console, so the file is what remains after a problem.
It lives in the user's cache folder (``emotion-live/emotion-app.log``) and rotates at
1 MB, keeping two old files; ``EMOTION_APP_LOG`` names another file. While the app runs,
what native libraries print to the stderr descriptor is appended to it too
(``app.system.quiet.native_stderr_to``).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import shutil
import sys
from pathlib import Path

LOG_ENV = "EMOTION_APP_LOG"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_installed: list[logging.Handler] = []


def user_cache_dir() -> Path:
    """``emotion-live`` in the platform's per-user cache folder (not created here)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "emotion-live"


def log_file() -> Path:
    """The log file: ``EMOTION_APP_LOG``, else ``emotion-app.log`` in ``user_cache_dir()``."""
    named = os.environ.get(LOG_ENV, "").strip()
    return Path(named).expanduser() if named else user_cache_dir() / "emotion-app.log"


class _Console(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (like logging's last resort), so
    a replaced stream (a test's capture, a closed console) is never written to later."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _copy_then_truncate(source: str, destination: str) -> None:
    """Rotate by copying the log and emptying it in place, rather than renaming it: the
    native libraries' descriptor 2 points at this file (``app.system.quiet.native_stderr_to``)
    and keeps appending to it, never to a renamed or deleted copy."""
    shutil.copyfile(source, destination)
    os.truncate(source, 0)


def setup_logging(console_level: str = "WARNING") -> Path | None:
    """Log to the console at ``console_level`` and to ``log_file()``; returns the file, or
    None when it cannot be written (the console then says so once). Calling it again
    replaces what the previous call installed. Where logging was configured before (a
    test harness, a program embedding the app), the console is left to that."""
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    if not root.handlers:
        console = _Console()
        console.setLevel(console_level)
        console.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        _installed.append(console)
    path: Path | None = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=2,
                                                    encoding="utf-8", errors="backslashreplace")
    except OSError as error:
        problem, path = f"cannot write the log file {path}: {error.strerror or error}", None
    else:
        problem = None
        file.rotator = _copy_then_truncate
        file.setLevel(logging.DEBUG)
        file.setFormatter(logging.Formatter(FORMAT))
        _installed.append(file)
    for handler in _installed:
        root.addHandler(handler)
    root.setLevel(min(logging.INFO, logging.getLevelName(console_level)))
    logging.getLogger("app").setLevel(logging.DEBUG)  # the raw messages, for the file
    if problem:
        logging.getLogger(__name__).warning("%s", problem)
    return path
