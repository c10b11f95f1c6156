"""Keep native libraries' console output out of the user's terminal, and in the log.

ONNX Runtime, the CUDA loader, FFmpeg and OpenCV's camera backends write straight to
the process's stdout/stderr file descriptors, below Python's ``sys.stderr``: a
``contextlib.redirect_stderr`` cannot catch them. ``native_output_captured`` points
file descriptors 1 and 2 at a temporary file for the duration of a block (a probe, a
camera scan, opening a video) and hands back what was written, so the caller can log it
and quote the relevant line in its own message. The swap is process-wide, so a lock
keeps two blocks from interleaving; output another thread prints meanwhile lands in the
captured text rather than being lost.
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

_lock = threading.RLock()
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CapturedOutput:
    text: str = ""

    def lines(self) -> list[str]:
        """Non-empty lines, ANSI colour codes removed."""
        return [line.strip() for line in _ANSI.sub("", self.text).splitlines() if line.strip()]


@contextlib.contextmanager
def native_output_captured() -> Iterator[CapturedOutput]:
    """Capture everything written to file descriptors 1 and 2 inside the block."""
    captured = CapturedOutput()
    with _lock:
        _flush_python_streams()
        try:
            saved = {fd: os.dup(fd) for fd in (1, 2)}
        except OSError:  # no console at all (e.g. pythonw): nothing to protect
            yield captured
            return
        with tempfile.TemporaryFile() as sink:
            try:
                for fd in saved:
                    os.dup2(sink.fileno(), fd)
                yield captured
            finally:
                _flush_python_streams()
                for fd, copy in saved.items():
                    os.dup2(copy, fd)
                    os.close(copy)
                sink.seek(0)
                captured.text = sink.read().decode("utf-8", errors="replace")


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
