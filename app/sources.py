"""Where frames come from: the ``Source`` interface, ``Frame``, and image folders.

A ``Source`` opens (raising ``CaptureError`` with a readable reason), hands out
``Frame`` values one at a time, and closes. It does no threading: ``app.capture`` reads
a source on its own thread (newest frame wins) or in the caller's (every frame), and
``app.capture.open_source`` picks the kind from what the user typed. Cameras, video
files and streams, read through OpenCV, are in ``app.video_sources``.
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"})
OpenCapture = Callable[..., Any]
"""``cv2.VideoCapture`` or anything with its ``isOpened/read/get/set/release`` methods."""


class CaptureError(RuntimeError):
    """A source cannot be opened, or a video cannot be decoded."""


class SourceLostError(CaptureError):
    """A live source (camera, stream) stopped delivering frames; it can be reopened."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray
    """BGR uint8 (H, W, 3); gray images are read as three equal channels."""
    index: int
    """0-based count of frames this source delivered (for a video: the frame number)."""
    monotonic_s: float
    """``time.monotonic()`` when the frame was captured."""
    wall_time: datetime
    """Wall-clock capture time, timezone-aware (local zone)."""
    source_ms: float | None = None
    """Position in a video file, in milliseconds; None for cameras, streams and images."""
    source_file: str | None = None
    """File name, for frames from an image folder."""
    decode_ms: float = 0.0
    """Time spent reading and decoding this frame."""


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


class ImageFolderSource(Source):
    """Images in name order (numbers compared as numbers); unreadable files are skipped."""

    kind = "folder"
    continuous = False

    def __init__(self, path: str | Path, files: Sequence[Path] | None = None) -> None:
        self.path = Path(path)
        super().__init__(str(self.path))
        self._files = list(files) if files is not None else None
        self._remaining: list[Path] = []
        self.skipped: list[Path] = []

    def open(self) -> None:
        files = self._files
        if files is None:
            if not self.path.is_dir():
                raise CaptureError(f"{self.path}: no such folder")
            files = [p for p in self.path.iterdir()
                     if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        if not files:
            raise CaptureError(f"{self.path}: no images (looked for "
                               f"{', '.join(sorted(IMAGE_EXTENSIONS))})")
        self._remaining = sorted(files, key=_natural_key)
        self.frame_count = len(self._remaining)
        self.skipped = []
        self._next_index = 0

    def close(self) -> None:
        self._remaining = []

    def _read_image(self) -> tuple[np.ndarray, float | None, str | None] | None:
        while self._remaining:
            path = self._remaining.pop(0)
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image, None, path.name
            log.warning("skipping %s: not a readable image", path)
            self.skipped.append(path)
        return None


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", path.name)]
