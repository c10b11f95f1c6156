"""Image folders as a source: every readable image in natural name order."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from app.sources.base import IMAGE_EXTENSIONS, CaptureError, Source

log = logging.getLogger(__name__)


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
