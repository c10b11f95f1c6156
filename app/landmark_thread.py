"""Landmarks on a thread of their own, one frame ahead of classification.

On two cores MediaPipe's landmarks for frame t+1 run while ONNX Runtime classifies frame t:
both do their work in native code that lets go of Python's lock. The hand-over holds one
frame, so a slow model makes the reader drop frames (a live source, which keeps only its
newest) or wait (a file, read in full), never a queue, and frames reach the classifier in
the order they were read. Errors come across as values, like everything else the worker
hands out.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.face.landmarks import Face
from app.results import Event, EventKind, Frame
from app.sources.capture import FrameReader

log = logging.getLogger(__name__)

HAND_OVER_S = 0.1
"""How long a blocked hand-over waits before it looks at the stop flags again."""


@dataclass(frozen=True)
class Landmarked:
    """A frame and its faces, as the landmark thread hands them over."""

    frame: Frame
    faces: list[Face] | None
    """None where no model was loaded yet, so no face was looked for."""
    landmarks_ms: float
    dropped_frames: int
    """The reader's count of frames dropped so far, when this one was read."""


@dataclass(frozen=True)
class LandmarkFailure:
    frame: Frame
    error: Exception


class LandmarkThread:
    """Reads ``reader`` and runs ``landmarks`` on each frame on its own thread until the
    source ends, ``stop`` is set or ``close`` is called; ``on_exit`` runs on that thread
    as it ends (the landmarker's graphs belong to it)."""

    def __init__(self, reader: FrameReader, landmarks: Callable[[Frame], list[Face] | None],
                 stop: threading.Event, on_exit: Callable[[], None]) -> None:
        self._reader, self._landmarks, self._stop, self._on_exit = reader, landmarks, stop, on_exit
        self._hand_over: queue.Queue = queue.Queue(maxsize=1)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="landmarks", daemon=True)
        self._thread.start()

    def next(self, timeout: float = HAND_OVER_S) -> Landmarked | LandmarkFailure | Event | None:
        """The next frame with its faces, an event of the source, or None after ``timeout``."""
        try:
            return self._hand_over.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """End the thread (after its current frame) and wait for it."""
        self._closed.set()
        while self._thread.is_alive():
            try:
                self._hand_over.get_nowait()  # a hand-over blocked on a full slot can finish
            except queue.Empty:
                pass
            self._thread.join(HAND_OVER_S)

    def _ending(self) -> bool:
        return self._closed.is_set() or self._stop.is_set()

    def _run(self) -> None:
        try:
            while not self._ending():
                item = self._reader.next(timeout=HAND_OVER_S)
                if isinstance(item, Event):
                    self._give(item)
                    if item.kind is EventKind.SOURCE_ENDED:
                        return
                elif item is not None and not self._landmark(item):
                    return
        finally:
            self._on_exit()

    def _landmark(self, frame: Frame) -> bool:
        """Hand over ``frame`` with its faces; False after a failure (the run ends)."""
        start = time.perf_counter()
        try:
            faces = self._landmarks(frame)
        except Exception as error:  # reported as a value, not raised on a thread nobody joins
            log.exception("landmarks of frame %d failed", frame.index)
            self._give(LandmarkFailure(frame, error))
            return False
        self._give(Landmarked(frame, faces, (time.perf_counter() - start) * 1000.0,
                              self._reader.dropped_frames))
        return True

    def _give(self, item: object) -> None:
        while not self._closed.is_set():
            try:
                self._hand_over.put(item, timeout=HAND_OVER_S)
                return
            except queue.Full:
                continue
