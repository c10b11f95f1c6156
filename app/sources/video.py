"""Cameras, video files and stream URLs, read through OpenCV's ``VideoCapture``.

Native messages printed while opening (FFmpeg's "could not find decoder", V4L2's "can't
open camera by index") are captured into the log and quoted in the error instead of
landing on the terminal. A camera or stream whose reads keep failing for
``lost_after_s`` raises ``SourceLostError``; ``open()`` again to restart it.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.sources.base import CaptureError, OpenCapture, Source, SourceLostError
from app.sources.camera_mode import CameraMode, default_mode, describe_mode
from app.sources.stream_urls import without_credentials
from app.system.file_names import is_utf8, printable
from app.system.quiet import CapturedOutput, native_output_captured

log = logging.getLogger(__name__)


class _OpenCvSource(Source):
    """A source read through ``cv2.VideoCapture`` (or a stand-in with its methods)."""

    def __init__(self, name: str, target: int | str, open_capture: OpenCapture | None) -> None:
        super().__init__(name)
        self._target = target
        self._open_capture = open_capture or cv2.VideoCapture
        self._capture: Any = None

    def _open_capture_quietly(self) -> CapturedOutput:
        """Open the capture; returns what the native backends printed meanwhile."""
        self.close()
        target = self._capture_target()
        with native_output_captured() as captured:
            self._capture = self._open_capture(target)
            opened = self._capture.isOpened()
        if captured.text.strip():
            log.debug("OpenCV said while opening %s:\n%s", self.name, captured.text.rstrip())
        if not opened:
            self.close()
            raise CaptureError(self._open_failure(captured))
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 0 < fps < 1000 else None
        return captured

    def _capture_target(self) -> int | str:
        """What ``open_capture`` is handed."""
        return self._target

    def _open_failure(self, captured: CapturedOutput) -> str:
        return f"{self.name}: cannot be opened ({_native_reason(captured)})"

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class VideoFileSource(_OpenCvSource):
    kind = "video"

    def __init__(self, path: str | Path, open_capture: OpenCapture | None = None) -> None:
        self.path = Path(path)
        super().__init__(printable(self.path), str(self.path), open_capture)
        self._pending: np.ndarray | None = None
        self._last_ms: float | None = None
        self._descriptor: int | None = None

    def open(self) -> None:
        if not self.path.is_file():
            raise CaptureError(f"{self.name}: no such video file")
        self._open_capture_quietly()
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        with native_output_captured() as captured:
            decoded, image = self._capture.read()
        if not decoded:
            codec = _fourcc(self._capture.get(cv2.CAP_PROP_FOURCC))
            self.close()
            raise CaptureError(
                f"{self.name}: OpenCV opened the file but could not decode a frame (codec "
                f"{codec or 'unknown'}; this OpenCV build may lack its decoder: "
                f"{_native_reason(captured)}). Convert it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4")
        self._pending, self._last_ms = image, None
        self._next_index, self.ended_early = 0, None

    def _capture_target(self) -> str:
        """The file's name; for a name that is not UTF-8 (OpenCV's binding crashes on one)
        the file is opened here and handed over as ``/proc/self/fd/N``, open until ``close``."""
        if is_utf8(self.path):
            return str(self.path)
        try:
            self._descriptor = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as error:
            raise CaptureError(f"{self.name}: cannot be read ({error.strerror or error})") from None
        target = f"/proc/self/fd/{self._descriptor}"
        if not os.path.exists(target):
            self.close()
            raise CaptureError(f"{self.name}: its name is not UTF-8, which OpenCV cannot open "
                               "on this system; rename the file")
        return target

    def close(self) -> None:
        super().close()
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def _open_failure(self, captured: CapturedOutput) -> str:
        return (f"{self.name}: OpenCV cannot open this video ({_native_reason(captured)}); "
                "it may be corrupt, or in a codec this OpenCV build cannot decode")

    def _read_image(self) -> tuple[np.ndarray, float | None, str | None] | None:
        if self._capture is None:
            raise CaptureError(f"{self.name}: read() before open()")
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            decoded, image = self._capture.read()
            if not decoded:
                if self.frame_count and self._next_index < 0.9 * self.frame_count:
                    self.ended_early = (f"{self.name} ended at frame {self._next_index} of "
                                        f"{self.frame_count}: the rest could not be decoded (the "
                                        "file is truncated or damaged)")
                    log.info("%s", self.ended_early)
                return None
        return image, self._position_ms(), None

    def _position_ms(self) -> float:
        """The frame's timestamp, kept non-negative and increasing: some files report a
        negative first timestamp (an edit list) or repeat one."""
        position = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
        if self._last_ms is None:
            position = max(position, 0.0)
        elif position <= self._last_ms:
            position = self._last_ms + 1000.0 / (self.fps or 30.0)
        self._last_ms = position
        return position


class _LiveSource(_OpenCvSource):
    """A camera or stream: a failed read is retried until ``lost_after_s`` has passed."""

    live = True

    def __init__(self, name: str, target: int | str, open_capture: OpenCapture | None,
                 lost_after_s: float) -> None:
        super().__init__(name, target, open_capture)
        self.lost_after_s = lost_after_s

    def open(self) -> None:
        self._open_capture_quietly()

    def _read_image(self) -> tuple[np.ndarray, float | None, str | None] | None:
        if self._capture is None:
            raise CaptureError(f"{self.name}: read() before open()")
        failing_since = None
        while True:
            delivered, image = self._capture.read()
            if delivered and image is not None:
                return image, None, None
            now = time.monotonic()
            failing_since = failing_since or now
            if now - failing_since >= self.lost_after_s:
                raise SourceLostError(f"{self.name} stopped delivering frames after "
                                      f"{self._next_index} frames")
            time.sleep(0.02)


class CameraSource(_LiveSource):
    """A camera by index; ``mode`` (default: ``app.sources.camera_mode.default_mode()``) is the
    size and frame rate asked of it at every (re)open."""

    kind = "camera"

    def __init__(self, index: int, mode: CameraMode | None = None,
                 open_capture: OpenCapture | None = None, lost_after_s: float = 2.0) -> None:
        super().__init__(f"camera {index}", index, open_capture, lost_after_s)
        self.index = index
        self.mode = default_mode() if mode is None else mode
        self.size: tuple[int, int] | None = None
        """What the camera delivers, (width, height), once opened."""

    def open(self) -> None:
        super().open()
        capture, mode = self._capture, self.mode
        if mode.size:  # V4L2 applies the size before the rate: the rates depend on it
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, mode.size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, mode.size[1])
        if mode.fps:
            capture.set(cv2.CAP_PROP_FPS, mode.fps)
        self.size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 0 < fps < 1000 else None
        if not mode.requested:
            return
        delivered = describe_mode(self.size, self.fps and round(self.fps, 2))
        if (mode.size and self.size != mode.size) or (mode.fps and abs((self.fps or 0) - mode.fps) > 0.5):
            log.warning("%s delivers %s, not the %s asked for (emotion-app --list-cameras lists "
                        "the sizes it accepts)", self.name, delivered, mode)
        else:
            log.info("%s delivers %s, as asked", self.name, delivered)

    def _open_failure(self, captured: CapturedOutput) -> str:
        return (f"no camera at index {self.index} (emotion-app --list-cameras lists the "
                "cameras found)")


class StreamSource(_LiveSource):
    kind = "stream"

    def __init__(self, url: str, open_capture: OpenCapture | None = None,
                 lost_after_s: float = 5.0) -> None:
        super().__init__(without_credentials(url), url, open_capture or _open_stream, lost_after_s)
        self.url = url


def _open_stream(url: str) -> Any:
    """FFmpeg with timeouts, so a dead URL fails in seconds rather than hanging."""
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, timeouts)


def _native_reason(captured: CapturedOutput) -> str:
    """The most telling line OpenCV/FFmpeg printed, without its log prefix."""
    lines = [re.sub(r"^\[[^\]]*\]\s*(global\s+\S+\s+\S+\s+)?", "", line) for line in captured.lines()]
    for line in lines:
        if re.search(r"decoder|codec|not found|invalid|error", line, re.IGNORECASE):
            return line
    return lines[0] if lines else "no details from OpenCV"


def _fourcc(code: float) -> str:
    value = int(code)
    text = "".join(chr((value >> (8 * shift)) & 0xFF) for shift in range(4))
    return text.strip("\x00 ") if text.isprintable() else ""
