"""Where frames come from: the ``Source`` interface and its errors.

A ``Source`` opens (raising ``CaptureError`` with a readable reason), hands out
``Frame`` values one at a time, and closes. It does no threading: ``app.sources.capture`` reads
a source on its own thread (newest frame wins) or in the caller's (every frame), and
``app.sources.capture.open_source`` picks the kind from what the user typed. Cameras, video
files and streams, read through OpenCV, are in ``app.sources.video``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

import numpy as np

from app.results import Frame

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"})
OpenCapture = Callable[..., Any]
"""``cv2.VideoCapture`` or anything with its ``isOpened/read/get/set/release`` methods."""


class CaptureError(RuntimeError):
    """A source cannot be opened, or a video cannot be decoded."""


class SourceLostError(CaptureError):
    """A live source (camera, stream) stopped delivering frames; it can be reopened."""


class Source(ABC):
    """A sequence of frames. ``open()`` before ``read()``; ``close()`` when done."""

    kind: ClassVar[str]
    live: ClassVar[bool] = False
    """Frames arrive in real time and must be read as they come (cameras, streams)."""
    continuous: ClassVar[bool] = True
    """Consecutive frames show the same scene, so faces can be tracked across them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fps: float | None = None
        self.frame_count: int | None = None
        self.ended_early: str | None = None
        """Why reading stopped before the frames the source announced (a truncated video)."""
        self._next_index = 0

    @property
    def frames_read(self) -> int:
        return self._next_index

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _read_image(self) -> tuple[np.ndarray, float | None, str | None] | None:
        """The next (image, source_ms, source_file), or None at the end."""

    def read(self) -> Frame | None:
        """The next frame, None at the end; raises SourceLostError when a live source stops."""
        start = time.perf_counter()
        item = self._read_image()
        if item is None:
            return None
        image, source_ms, source_file = item
        frame = Frame(image, self._next_index, time.monotonic(), datetime.now().astimezone(),
                      source_ms, source_file, (time.perf_counter() - start) * 1000.0)
        self._next_index += 1
        return frame

    def __enter__(self) -> Source:
        """Closes on exit; opening is explicit (``open_source`` returns an opened source)."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
