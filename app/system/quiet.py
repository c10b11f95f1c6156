"""Keep native libraries' console output out of the user's terminal, and in the log.

ONNX Runtime, the CUDA loader, FFmpeg, libjpeg, MediaPipe and OpenCV's camera backends
write straight to the process's stdout/stderr file descriptors, below Python's
``sys.stderr``: a ``contextlib.redirect_stderr`` cannot catch them.

``native_stderr_to`` points file descriptor 2 at the log file for the app's whole run
and moves Python's ``sys.stderr`` (the app's own progress and errors) to a copy of the
terminal's descriptor. Capturing only around the calls that print is not enough:
MediaPipe's graph threads print a moment after the call that started them, FFmpeg and
libjpeg whenever a damaged frame comes, and on a loaded machine "a moment" is longer
than any window.

``native_output_captured`` points descriptors 1 and 2 (or only those named) at a temporary
file for the duration of a block (a probe, a camera scan, opening a video) and hands back
what was written, so the caller can log it and quote the relevant line in its own message.
The swap is process-wide, so a lock keeps two blocks from interleaving. Python's own
``sys.stderr`` keeps writing to the terminal meanwhile (through a copy of its descriptor),
so a user's or the log's lines are never swallowed. A block that runs while the user's
code runs on another thread (MediaPipe's start-up on the landmark thread) names
descriptor 2 only: MediaPipe writes nothing to stdout, and the user's stdout, a pipe
included, is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_lock = threading.RLock()
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CapturedOutput:
    text: str = ""

    def lines(self) -> list[str]:
        """Non-empty lines, ANSI colour codes removed."""
        return [line.strip() for line in _ANSI.sub("", self.text).splitlines() if line.strip()]


@contextlib.contextmanager
def native_output_captured(descriptors: tuple[int, ...] = (1, 2)) -> Iterator[CapturedOutput]:
    """Capture what native code writes to ``descriptors`` (1 stdout, 2 stderr) inside the
    block; Python's ``sys.stderr`` still reaches the terminal."""
    unknown = set(descriptors) - {1, 2}
    if unknown or not descriptors:
        raise ValueError(f"descriptors must be 1 and/or 2, got {descriptors}")
    captured = CapturedOutput()
    with _lock:
        _flush_python_streams()
        try:
            saved = {fd: os.dup(fd) for fd in descriptors}
        except OSError:  # no console at all (e.g. pythonw): nothing to protect
            yield captured
            return
        previous_stderr = sys.stderr
        python_stderr = _stream_on(saved[2], previous_stderr) if 2 in saved else None
        with tempfile.TemporaryFile() as sink:
            try:
                for fd in saved:
                    os.dup2(sink.fileno(), fd)
                if python_stderr is not None:
                    sys.stderr = python_stderr
                yield captured
            finally:
                _flush_python_streams()
                if python_stderr is not None:
                    if sys.stderr is python_stderr:  # unless the user replaced it meanwhile
                        sys.stderr = previous_stderr
                    python_stderr.close()
                for fd, copy in saved.items():
                    os.dup2(copy, fd)
                    os.close(copy)
                sink.seek(0)
                captured.text = sink.read().decode("utf-8", errors="replace")


def _stream_on(descriptor: int, previous):
    """A line-buffered text stream like ``previous`` on ``descriptor``, when ``previous``
    writes to descriptor 2; else None (a test's capture, a stream the user set: leave it)."""
    if _fileno(previous) != 2:
        return None
    return open(descriptor, "w", encoding=previous.encoding or "utf-8",
                errors=previous.errors or "backslashreplace", closefd=False, buffering=1)


@contextlib.contextmanager
def native_stderr_to(path: Path | None) -> Iterator[None]:
    """Inside the block, descriptor 2 appends to ``path`` and ``sys.stderr``, if it wrote
    to descriptor 2, writes to the terminal through a copy of it. ``path`` None or not
    writable: nothing changes, native lines stay on the terminal rather than being lost."""
    try:
        target = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else None
    except OSError:
        target = None
    if target is None:
        yield
        return
    with _lock:
        _flush_python_streams()
        try:
            terminal: int | None = os.dup(2)
        except OSError:  # no console (pythonw): nothing to keep
            terminal = None
        os.dup2(target, 2)
        os.close(target)
        previous = sys.stderr
        moved_to = _stream_on(terminal, previous) if terminal is not None else None
        moved = moved_to is not None
        if moved:
            sys.stderr = moved_to
    try:
        yield
    finally:
        with _lock:
            _flush_python_streams()
            if moved:
                sys.stderr.close()
                sys.stderr = previous
            if terminal is not None:
                os.dup2(terminal, 2)
                os.close(terminal)


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # a test's capture, a closed stream
        return None


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
