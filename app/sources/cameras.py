"""Which cameras this machine has, found quickly and without noise on the terminal.

On Linux only the indices that have a ``/dev/videoN`` node are tried (a webcam often
adds a second, metadata-only node, which fails to deliver a frame and is skipped);
elsewhere indices are tried in order until two in a row fail. A camera counts when it
opens and delivers a frame. What OpenCV's backends print while probing goes to the log.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2

from app.sources.base import OpenCapture
from app.system.quiet import native_output_captured

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraInfo:
    index: int
    width: int
    height: int
    resolutions: tuple[tuple[int, int], ...] = ()
    """Common modes the driver accepted, (width, height)."""

    @property
    def label(self) -> str:
        return f"Camera {self.index} ({self.width}x{self.height})"


COMMON_RESOLUTIONS = ((640, 480), (1280, 720), (1920, 1080))


def list_cameras(max_index: int = 10, probe_resolutions: bool = True,
                 open_capture: OpenCapture | None = None) -> list[CameraInfo]:
    """Cameras that open and deliver a frame, with the common modes each accepts."""
    open_capture = open_capture or cv2.VideoCapture
    if sys.platform.startswith("linux") and open_capture is cv2.VideoCapture:
        nodes = (int(p.name[5:]) for p in Path("/dev").glob("video*") if p.name[5:].isdigit())
        indices, misses_allowed = sorted(i for i in nodes if i < max_index), max_index
    else:
        indices, misses_allowed = list(range(max_index)), 2
    cameras, misses = [], 0
    for index in indices:
        info = _probe_camera(open_capture, index, probe_resolutions)
        misses = 0 if info else misses + 1
        if info:
            cameras.append(info)
        elif misses >= misses_allowed:
            break
    return cameras


def _probe_camera(open_capture: OpenCapture, index: int, probe_resolutions: bool):
    """One camera's modes, its backend's output captured for this camera only (the
    capture is process-wide: other threads' output must not wait on a whole scan)."""
    with native_output_captured() as captured:
        info = _camera_info(open_capture, index, probe_resolutions)
    if captured.text.strip():
        log.debug("OpenCV said while probing camera %d:\n%s", index, captured.text.rstrip())
    return info


def _camera_info(open_capture: OpenCapture, index: int, probe_resolutions: bool):
    capture = open_capture(index)
    try:
        if not capture.isOpened() or not capture.read()[0]:
            return None
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        accepted = {size}
        for width, height in COMMON_RESOLUTIONS if probe_resolutions else ():
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            accepted.add((int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                          int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))))
        return CameraInfo(index, *size, tuple(sorted(accepted)))
    finally:
        capture.release()
