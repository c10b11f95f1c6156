"""The pipeline's side of the window, and all of its threading.

The pipeline is built on the thread pool (the provider probe is slow), one
source at a time runs on the worker's QThread, models load on the pool, and the window
only ever sees signals on its own thread. A new source stops the running one first and
starts when the worker reports it ended. ``shutdown()`` stops the worker cooperatively,
waits for it and closes the pipeline, which closes a recording's CSV.

This is the window's only door to the pipeline and the worker: sources, models,
settings and recording all go through the methods and signals here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.face.landmarks import DEFAULT_MAX_FACES
from app.face.steady import Steadiness
from app.gui.tasks import Background
from app.gui.worker import PipelineWorker
from app.model.card import ModelCardError
from app.model.inference import EmotionClassifier
from app.model.providers import ProviderReport
from app.model.views import checked_choice
from app.output.timeline_csv import RecordingError
from app.pipeline import Pipeline
from app.results import FrameResult, RecordingStatus
from app.sources.cameras import list_cameras

log = logging.getLogger(__name__)

SLOW_STOP_MS = 3000
"""A worker not stopped by then is stuck in a driver: say so in the log, then wait on."""


@dataclass(frozen=True)
class Startup:
    """What building the pipeline gave: the providers' report, the model loaded (or why not)."""

    report: ProviderReport
    model: EmotionClassifier | None
    model_error: str | None


class Session(QObject):
    ready = Signal(object)
    """``Startup``: the pipeline is built; sources can run."""
    startup_failed = Signal(str)
    cameras_found = Signal(object)
    """list of ``CameraInfo`` (empty when the machine has none)."""
    model_loaded = Signal(object)
    """``EmotionClassifier``: it analyses frames from the next one on."""
    model_failed = Signal(str)
    """Why the chosen model cannot be used; the previous one keeps running."""
    result_ready = Signal(object)
    """The newest ``FrameResult``."""
    event = Signal(object)
    run_started = Signal(str)
    run_failed = Signal(str)
    run_finished = Signal(int)
    restart_failed = Signal(str)

    _run_requested = Signal(str)

    def __init__(self, provider: str = "auto", max_faces: int = DEFAULT_MAX_FACES,
                 steadiness: Steadiness | None = None, gamma: bool = True,
                 parent: QObject | None = None, views: str = "auto") -> None:
        super().__init__(parent)
        self._settings = dict(provider=provider, max_faces=max_faces,
                              steadiness=steadiness or Steadiness(), gamma=gamma, views=views)
        self.background = Background(self)
        self.stop_after_frames = 0
        """End each run after this many analysed frames (0: never); for scripted runs."""
        self._pipeline: Pipeline | None = None
        self._worker: PipelineWorker | None = None
        self._thread = QThread(self)
        self._thread.setObjectName("pipeline-worker")
        self._running = False
        self._pending_source: str | None = None
        self._model_request = 0
        """Counts ``choose_model`` calls; only the newest one's outcome is used."""
        self._closed = False

    @property
    def running(self) -> bool:
        """A source is being analysed (or is about to be)."""
        return self._running

    @property
    def is_ready(self) -> bool:
        """The pipeline is built (``ready`` was sent): recording can start."""
        return self._pipeline is not None

    @property
    def model(self) -> EmotionClassifier | None:
        """The model analysing frames; None without one (and once shut down)."""
        return self._pipeline.model if self._pipeline is not None else None

    @property
    def recording(self) -> RecordingStatus | None:
        """The recording in progress, None when nothing records."""
        return self._pipeline.recording if self._pipeline is not None else None

    def start(self, model: str | Path | None) -> None:
        """Build the pipeline off this thread, with ``model`` when one is given."""
        if self._closed:
            return
        self.background.call(lambda: _build(model, self._settings), self._on_built,
                             lambda error: self.startup_failed.emit(str(error)),
                             what="starting the pipeline")

    def find_cameras(self) -> None:
        self.background.call(lambda: list_cameras(probe_resolutions=False),
                             self.cameras_found.emit, lambda error: self.cameras_found.emit([]),
                             what="listing cameras")

    def open_source(self, spec: str) -> None:
        """Analyse ``spec`` (camera index, file, folder, URL) instead of what runs now."""
        self._pending_source = spec
        if self._running:
            self._worker.request_stop()
        elif self._worker is not None:
            self._start_pending()

    def stop_source(self) -> None:
        self._pending_source = None
        if self._running:
            self._worker.request_stop()

    def choose_model(self, path: str | Path) -> None:
        """Load ``path`` on the pool; ``model_loaded`` or ``model_failed`` follows for the
        last choice only. Loads run side by side and a large model takes longer, so one
        chosen earlier may finish later: it is dropped, never used."""
        pipeline = self._pipeline
        if pipeline is None:
            self.model_failed.emit("the pipeline is still starting; try again in a moment")
            return
        self._model_request += 1
        request = self._model_request

        def loaded(model: EmotionClassifier) -> None:
            if request == self._model_request and not self._closed:
                pipeline.use_model(model)
                self.model_loaded.emit(model)

        def failed(error: Exception) -> None:
            if request == self._model_request and not self._closed:
                self.model_failed.emit(str(error))

        self.background.call(lambda: pipeline.load_model(path), loaded, failed,
                             what=f"loading {path}")

    def set_smoothing(self, seconds: float) -> None:
        """The smoothing time constant, now and for a pipeline still being built."""
        self._settings["steadiness"] = replace(self._settings["steadiness"], time_constant_s=seconds)
        if self._pipeline is not None:
            self._pipeline.steadiness = self._settings["steadiness"]

    def set_gamma(self, enabled: bool) -> None:
        self._settings["gamma"] = enabled
        if self._pipeline is not None:
            self._pipeline.gamma_enabled = enabled

    def set_views(self, views: str) -> None:
        """The test-time views setting (``app.model.views.CHOICES``), now and for a pipeline
        still being built; ValueError for an unknown one."""
        self._settings["views"] = checked_choice(views)
        if self._pipeline is not None:
            self._pipeline.views = views

    def restart_source(self) -> None:
        """Reopen a lost camera or stream on the pool; ``restart_failed`` says why not."""
        pipeline = self._pipeline
        if pipeline is not None and self._running:
            self.background.call(pipeline.restart_source, lambda _: None,
                                 lambda error: self.restart_failed.emit(str(error)),
                                 what="reopening the source")

    def start_recording(self, path: str | Path, overwrite: bool = False) -> Path:
        """Record the timeline to a new CSV at ``path``; the path opened. The file is opened
        on this thread, so a refusal (a model needed, an unwritable or existing file) raises
        ``RecordingError`` with its reason at once; ``is_ready`` first."""
        if self._pipeline is None:
            raise RecordingError("the analysis is still starting")
        return self._pipeline.start_recording(path, overwrite)

    def stop_recording(self) -> RecordingStatus | None:
        """Close the CSV; its final status, None when nothing was recording."""
        return self._pipeline.stop_recording() if self._pipeline is not None else None

    def add_marker(self, label: str) -> None:
        """A marker row in the CSV now; ``RecordingError`` when nothing records (a recording
        that just failed: its ``RECORDING_FAILED`` event follows)."""
        if self._pipeline is None:
            raise RecordingError("not recording")
        self._pipeline.add_marker(label)

    def calibrate(self, face_id: int, seconds: float) -> None:
        """Record face ``face_id``'s neutral baseline over its next ``seconds``; RuntimeError
        while no model is loaded."""
        if self._pipeline is None:
            raise RuntimeError("the analysis is still starting")
        self._pipeline.calibrate(face_id, seconds)

    def shutdown(self) -> None:
        """Stop the run, wait for the worker, close the pipeline (and any CSV).

        The worker ends after its current frame; one still opening a stream ends when
        the driver gives up (OpenCV's own timeout): it is waited for, never terminated."""
        if self._closed:
            return
        self._closed = True
        self._pending_source = None
        if self._running:
            self._worker.request_stop()
        self._thread.quit()
        if not self._thread.wait(SLOW_STOP_MS):
            log.warning("waiting for the source to let go (a stream or camera driver can take "
                        "a while to time out)")
            self._thread.wait()
        self.background.wait(-1)  # and its threads end
        if self._pipeline is not None:
            self._pipeline.close()  # and lets go of its model

    # Internals (GUI thread).

    def _on_built(self, built: tuple[Pipeline, Startup]) -> None:
        pipeline, startup = built
        if self._closed:
            pipeline.close()
            return
        self._pipeline = pipeline
        pipeline.steadiness = self._settings["steadiness"]  # changed while it was built
        pipeline.gamma_enabled = self._settings["gamma"]
        pipeline.views = self._settings["views"]
        worker = self._worker = PipelineWorker(pipeline)
        worker.stop_after_frames = self.stop_after_frames
        worker.moveToThread(self._thread)
        self._run_requested.connect(worker.run)
        worker.result_ready.connect(self._deliver_result)
        worker.event.connect(self.event)
        worker.source_opened.connect(self.run_started)
        worker.source_failed.connect(self.run_failed)
        worker.run_finished.connect(self._on_run_finished)
        self._thread.finished.connect(worker.deleteLater)
        self._thread.start()
        self.ready.emit(startup)
        if self._pending_source is not None:
            self._start_pending()

    def _start_pending(self) -> None:
        spec, self._pending_source = self._pending_source, None
        self._running = True
        self._worker.prepare_run()
        self._run_requested.emit(spec)

    @Slot()
    def _deliver_result(self) -> None:
        if self._closed or self._worker is None:
            return
        result: FrameResult | None = self._worker.take_result()
        if result is not None:
            self.result_ready.emit(result)

    @Slot(int)
    def _on_run_finished(self, frames: int) -> None:
        self._running = False
        if self._closed:
            return
        self.run_finished.emit(frames)
        if self._pending_source is not None:
            self._start_pending()


def _build(model: str | Path | None, settings: dict) -> tuple[Pipeline, Startup]:
    """On the pool: probe the providers, make the pipeline, load ``model`` if any."""
    pipeline = Pipeline(None, **dict(settings))
    loaded, error = None, None
    if model is not None:
        try:
            loaded = pipeline.set_model(model)
        except ModelCardError as refused:
            error = str(refused)
    return pipeline, Startup(pipeline.provider_report, loaded, error)

