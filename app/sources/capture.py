"""Reading a source: every frame in order, or always the newest one from a thread.

``SequentialReader`` decodes in the caller's thread and drops nothing: the headless
default for files, where every frame should be analysed. ``LatestFrameReader`` reads
on its own thread into a one-frame slot; a frame not taken before the next arrives is
replaced and counted in ``dropped_frames``, so a slow model sees fresh frames and no
queue builds up (cameras, streams, and videos played in real time, paced by their
timestamps). Both answer ``next(timeout)`` with a ``Frame``, an ``Event`` (the end, a
lost camera) or None when nothing arrived in time, and never raise for what a source
does mid-run.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from datetime import datetime
from pathlib import Path

from app.results import Event, EventKind, Frame
from app.sources.base import IMAGE_EXTENSIONS, CaptureError, OpenCapture, Source, SourceLostError
from app.sources.camera_mode import CameraMode
from app.sources.images import ImageFolderSource
from app.sources.video import CameraSource, StreamSource, VideoFileSource

log = logging.getLogger(__name__)

STREAM_PATTERN = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
"""A URL scheme (rtsp://, http://, ...) marks a stream."""


class FrameReader(ABC):
    """Frames and events from one source; ``close()`` when done."""

    keeps_newest = False
    """Whether frames the analysis cannot keep up with are dropped (a live source), rather
    than waited for."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.dropped_frames = 0

    @abstractmethod
    def next(self, timeout: float = 0.1) -> Frame | Event | None:
        """A frame, an event, or None when nothing arrived within ``timeout`` seconds."""

    def restart(self) -> None:
        """Reopen the source (after SOURCE_LOST); raises CaptureError if it cannot."""
        self.source.close()
        self.source.open()

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SequentialReader(FrameReader):
    """Every frame, decoded on demand in the caller's thread."""

    def __init__(self, source: Source) -> None:
        super().__init__(source)
        self._finished = False

    def next(self, timeout: float = 0.1) -> Frame | Event | None:
        if self._finished:  # ended or lost: nothing comes, but the caller's wait is honoured
            time.sleep(timeout)
            return None
        event = _read_or_event(self.source)
        if isinstance(event, Event):
            self._finished = True
        return event

    def restart(self) -> None:
        super().restart()
        self._finished = False


class LatestFrameReader(FrameReader):
    """The newest frame from a capture thread; older untaken frames are dropped.

    ``pace=True`` plays a video at its own speed (by frame timestamps), like a camera.
    """

    keeps_newest = True

    def __init__(self, source: Source, pace: bool = False) -> None:
        super().__init__(source)
        self.pace = pace
        self.frames_captured = 0
        self._condition = threading.Condition()
        self._latest: Frame | None = None
        self._events: deque[Event] = deque()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start()

    def next(self, timeout: float = 0.1) -> Frame | Event | None:
        with self._condition:
            if self._latest is None and not self._events:
                self._condition.wait(timeout)
            if self._latest is not None:  # a frame read before an end event comes first
                frame, self._latest = self._latest, None
                return frame
            return self._events.popleft() if self._events else None

    def restart(self) -> None:
        self._stop_thread()
        super().restart()
        with self._condition:
            self._events.append(Event(EventKind.SOURCE_RESTARTED, f"{self.source.name} restarted"))
            self._condition.notify_all()
        self._start()

    def close(self) -> None:
        self._stop_thread()
        super().close()

    def _start(self) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._capture_loop, name="capture", daemon=True)
        self._thread.start()

    def _stop_thread(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():
                raise CaptureError(f"{self.source.name}: the capture thread is stuck in the "
                                   "driver; try again in a moment")
            self._thread = None

    def _capture_loop(self) -> None:
        stopping = self._stopping
        pace_origin: float | None = None
        while not stopping.is_set():
            item = _read_or_event(self.source)
            if isinstance(item, Frame) and self.pace and item.source_ms is not None:
                if pace_origin is None:
                    pace_origin = time.monotonic() - item.source_ms / 1000.0
                delay = pace_origin + item.source_ms / 1000.0 - time.monotonic()
                if delay > 0 and stopping.wait(delay):
                    return
                item = dataclasses.replace(item, monotonic_s=time.monotonic(),
                                           wall_time=datetime.now().astimezone())
            with self._condition:
                if isinstance(item, Event):
                    self._events.append(item)
                else:
                    if self._latest is not None:
                        self.dropped_frames += 1
                    self._latest = item
                    self.frames_captured += 1
                self._condition.notify_all()
            if isinstance(item, Event):
                return


def _read_or_event(source: Source) -> Frame | Event:
    """The next frame, or the event that ends reading; never raises."""
    try:
        frame = source.read()
    except SourceLostError as lost:
        log.warning("%s", lost)
        return Event(EventKind.SOURCE_LOST, str(lost), {"source": source.name})
    except Exception as error:  # a backend failing mid-read is reported, not raised
        log.exception("reading %s failed", source.name)
        return Event(EventKind.SOURCE_LOST, f"{source.name}: reading failed: {error}",
                     {"source": source.name})
    if frame is None:  # ``ended_early``: the run failed part-way (exit code 1)
        return Event(EventKind.SOURCE_ENDED, source.ended_early or f"{source.name} ended",
                     {"source": source.name, "frames": source.frames_read,
                      "ended_early": source.ended_early is not None})
    return frame


def open_source(spec: str | int | Path, open_capture: OpenCapture | None = None,
                camera_mode: CameraMode | None = None) -> Source:
    """Open a camera index, video file, image folder, image file or stream URL; a camera
    asks for ``camera_mode`` (default: ``app.sources.camera_mode.default_mode()``)."""
    text = str(spec).strip()
    if isinstance(spec, int) or text.isdigit():
        source: Source = CameraSource(int(text), camera_mode, open_capture=open_capture)
    elif STREAM_PATTERN.match(text):
        source = StreamSource(text, open_capture=open_capture)
    else:
        path = Path(text).expanduser()
        if path.is_dir():
            source = ImageFolderSource(path)
        elif path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            source = ImageFolderSource(path, files=[path])
        elif path.is_file():
            source = VideoFileSource(path, open_capture=open_capture)
        else:
            raise CaptureError(f"{text}: no such file or folder (a source is a camera index, "
                               "a video file, an image folder or a stream URL)")
    source.open()
    return source


def open_reader(spec: str | int | Path | Source, realtime: bool = False,
                open_capture: OpenCapture | None = None,
                camera_mode: CameraMode | None = None) -> FrameReader:
    """A reader for a source spec (see ``open_source``) or an opened ``Source``.

    Cameras and streams always get the newest-frame reader; files and folders are read
    frame by frame unless ``realtime`` asks to play a video like a camera.
    """
    source = spec if isinstance(spec, Source) else open_source(spec, open_capture, camera_mode)
    if source.live:
        return LatestFrameReader(source)
    if realtime and source.fps is not None:
        return LatestFrameReader(source, pace=True)
    return SequentialReader(source)
