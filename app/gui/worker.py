"""The worker: ``Pipeline.frames`` on its own QThread, talking to the window by signals.

Results do not queue. The newest waits in a one-item slot and ``result_ready`` is sent
only when the slot was empty, so a window busy painting takes the newest result when
it gets to it and never works through a backlog (``results_replaced`` counts those it
never saw). Events are sent one by one: each one matters.

Stopping is cooperative: ``request_stop()`` (any thread) ends the run after its current
frame, or while it waits for a lost camera; nothing is ever terminated. The source is
opened here too, so a slow stream or camera never holds up the window.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal, Slot

from app.capture import FrameReader, open_reader
from app.pipeline import Pipeline
from app.results import Event, EventKind, FrameResult
from app.sources import CaptureError, Frame

log = logging.getLogger(__name__)


class PipelineWorker(QObject):
    """Runs one source at a time through ``pipeline``; lives on a QThread."""

    result_ready = Signal()
    """A result waits in ``take_result()``."""
    event = Signal(object)
    """An ``Event`` from the pipeline."""
    source_opened = Signal(str)
    """The source's name; the run has started."""
    source_failed = Signal(str)
    """The source could not be opened; the reason."""
    run_finished = Signal(int)
    """The run ended (source ended, stopped, failed); frames analysed."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.stop_after_frames = 0
        """Stop each run after this many analysed frames (0: never); for scripted runs."""
        self.frames_analysed = 0
        self.results_replaced = 0
        self._lock = threading.Lock()
        self._latest: FrameResult | None = None
        self._stop_requested = threading.Event()
        self._in_frames = False
        self._pipeline_stopped = False

    # Any thread.

    def prepare_run(self) -> None:
        """Clear the last run's stop request; call before sending the next run."""
        self._stop_requested.clear()

    def request_stop(self) -> None:
        """End the current run (or the one about to start) cooperatively."""
        with self._lock:
            self._stop_requested.set()
            if self._in_frames:
                self.pipeline.stop()
                self._pipeline_stopped = True

    def take_result(self) -> FrameResult | None:
        with self._lock:
            result, self._latest = self._latest, None
        return result

    # The worker thread.

    @Slot(str)
    def run(self, spec: str) -> None:
        """Open ``spec`` (a camera index, file, folder or URL) and analyse it until it ends."""
        self.frames_analysed = 0
        reader = self._open(spec)
        if reader is not None:
            try:
                self._analyse(reader)
            finally:
                try:
                    reader.close()
                except CaptureError as error:  # a capture thread stuck in a driver
                    log.warning("%s", error)
        self.run_finished.emit(self.frames_analysed)

    def _open(self, spec: str) -> FrameReader | None:
        if self._stop_requested.is_set():
            return None
        try:
            reader = open_reader(spec, realtime=True)
        except CaptureError as error:
            self.source_failed.emit(str(error))
            return None
        self.source_opened.emit(reader.source.name)
        return reader

    def _analyse(self, reader: FrameReader) -> None:
        with self._lock:
            if self._stop_requested.is_set():
                return
            self._in_frames = True
        try:
            for item in self.pipeline.frames(reader):
                if isinstance(item, Event):
                    self.event.emit(item)
                else:
                    self._publish(item)
        except Exception as error:  # frames() reports trouble as events; this is the last guard
            log.exception("the analysis failed")
            self.event.emit(Event(EventKind.ERROR, f"the analysis stopped: {error}"))
        finally:
            with self._lock:
                self._in_frames = False
                stopped, self._pipeline_stopped = self._pipeline_stopped, False
            if stopped:
                self._consume_stop(reader)

    def _publish(self, result: FrameResult) -> None:
        self.frames_analysed += 1
        if self.stop_after_frames and self.frames_analysed >= self.stop_after_frames:
            self.pipeline.stop()  # on this thread, inside the run: this run takes it
        with self._lock:
            waiting = self._latest is not None
            self.results_replaced += waiting
            self._latest = result
        if not waiting:
            self.result_ready.emit()

    def _consume_stop(self, reader: FrameReader) -> None:
        """A stop that arrived just as the run ended by itself would end the next run at
        once: run the pipeline over a reader that reads nothing and stops, which returns
        at once and leaves no stop behind. Events waiting in the pipeline still go out."""
        for item in self.pipeline.frames(_StopAtOnce(self.pipeline, reader)):
            if isinstance(item, Event):
                self.event.emit(item)


class _StopAtOnce(FrameReader):
    """Delivers nothing and stops the pipeline reading it."""

    def __init__(self, pipeline: Pipeline, reader: FrameReader) -> None:
        super().__init__(reader.source)
        self._pipeline = pipeline

    def next(self, timeout: float = 0.1) -> Frame | Event | None:
        self._pipeline.stop()
        return None

    def close(self) -> None:
        """The source belongs to the reader it was borrowed from."""
