"""Image folders as a source: every readable image in natural name order."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from app.sources.base import IMAGE_EXTENSIONS, CaptureError, Source
from app.system.file_names import is_utf8, printable

log = logging.getLogger(__name__)


class ImageFolderSource(Source):
    """Images in name order (numbers compared as numbers); unreadable files are skipped."""

    kind = "folder"
    continuous = False

    def __init__(self, path: str | Path, files: Sequence[Path] | None = None) -> None:
        self.path = Path(path)
        super().__init__(printable(self.path))
        self._files = list(files) if files is not None else None
        self._remaining: list[Path] = []
        self.skipped: list[Path] = []

    def open(self) -> None:
        files = self._files
        if files is None:
            if not self.path.is_dir():
                raise CaptureError(f"{self.name}: no such folder")
            files = [p for p in self.path.iterdir()
                     if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        if not files:
            raise CaptureError(f"{self.name}: no images (looked for "
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
            image = read_image_file(path, cv2.IMREAD_COLOR)
            if image is not None:
                return image, None, path.name
            log.warning("skipping %s: not a readable image", printable(path))
            self.skipped.append(path)
        return None


def read_image_file(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
    """An image file decoded by ``cv2.imread``, or None when it cannot be read or decoded.
    ``cv2.imread`` crashes on a name that is not UTF-8, so such a file is opened here and
    handed over as ``/proc/self/fd/N`` (decoded from the bytes Python read where there is
    no ``/proc``; that decoder gives up on a truncated JPEG, which ``imread`` shows in part)."""
    if is_utf8(path):
        return cv2.imread(str(path), flags)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if os.path.exists(f"/proc/self/fd/{descriptor}"):
            return cv2.imread(f"/proc/self/fd/{descriptor}", flags)
        with os.fdopen(os.dup(descriptor), "rb") as file:
            data = np.frombuffer(file.read(), np.uint8)
        return cv2.imdecode(data, flags) if data.size else None
    finally:
        os.close(descriptor)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", path.name)]
