"""The worker: ``Pipeline.frames`` on its own QThread, talking to the window by signals.

Results do not queue. The newest waits in a one-item slot and ``result_ready`` is sent
only when the slot was empty, so a window busy painting takes the newest result when
it gets to it and never works through a backlog (``results_replaced`` counts those it
never saw). Events are sent one by one: each one matters.

Stopping is cooperative: each run has its own stop token, made by ``prepare_run()``
before the run is sent; ``request_stop()`` (any thread) sets it, which ends that run
after its current frame, or while it waits for a lost camera, or before it starts. A
stop that arrives as a run ends by itself is spent on that run and never reaches the
next one. Nothing is ever terminated. The source is opened here too, so a slow stream
or camera never holds up the window.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal, Slot

from app.pipeline import Pipeline
from app.results import Event, EventKind, FrameResult
from app.sources.base import CaptureError
from app.sources.capture import FrameReader, open_reader

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
        self._stop = threading.Event()
        """The stop token of the run in progress, or of the one about to start."""

    # Any thread.

    def prepare_run(self) -> None:
        """A fresh stop token for the next run; call before sending it."""
        self._stop = threading.Event()

    def request_stop(self) -> None:
        """End the current run (or the one about to start) cooperatively."""
        self._stop.set()

    def take_result(self) -> FrameResult | None:
        with self._lock:
            result, self._latest = self._latest, None
        return result

    # The worker thread.

    @Slot(str)
    def run(self, spec: str) -> None:
        """Open ``spec`` (a camera index, file, folder or URL) and analyse it until it ends."""
        self.frames_analysed = 0
        stop = self._stop
        reader = None if stop.is_set() else self._open(spec)
        if reader is not None:
            try:
                self._analyse(reader, stop)
            finally:
                try:
                    reader.close()
                except CaptureError as error:  # a capture thread stuck in a driver
                    log.warning("%s", error)
        self.run_finished.emit(self.frames_analysed)

    def _open(self, spec: str) -> FrameReader | None:
        try:
            reader = open_reader(spec, realtime=True)
        except CaptureError as error:
            self.source_failed.emit(str(error))
            return None
        self.source_opened.emit(reader.source.name)
        return reader

    def _analyse(self, reader: FrameReader, stop: threading.Event) -> None:
        try:
            for item in self.pipeline.frames(reader, stop):
                if isinstance(item, Event):
                    self.event.emit(item)
                else:
                    self._publish(item, stop)
        except Exception as error:  # frames() reports trouble as events; this is the last guard
            log.exception("the analysis failed")
            self.event.emit(Event(EventKind.ERROR, f"the analysis stopped: {error}"))

    def _publish(self, result: FrameResult, stop: threading.Event) -> None:
        self.frames_analysed += 1
        if self.stop_after_frames and self.frames_analysed >= self.stop_after_frames:
            stop.set()
        with self._lock:
            waiting = self._latest is not None
            self.results_replaced += waiting
            self._latest = result
        if not waiting:
            self.result_ready.emit()
