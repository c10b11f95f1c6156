"""The real-time engine: frames in, per-face emotions, IDs, quality and a CSV out.

Per frame: MediaPipe landmarks for every face (tracked from the frame before in a
continuous source, ``app.face.landmarks``); for each face the similarity-aligned
crop (``app.face.preprocess.crop_face``) and its quality measures, then adaptive gamma and
normalisation of all crops (``app.face.preprocess.crops_to_batch``; two steps, because
the quality measures need the crop before gamma); one batched ONNX Runtime call for all
faces; tracking and smoothing; the CSV.

``frames`` overlaps the stages: the landmarks run a frame ahead on a thread of their own
(``app.landmark_thread``), the rest (``app.face_reading``) on the worker; ``process``
runs every stage of one frame on the calling thread.

Threading contract. One worker thread drives ``frames(reader, stop)`` (or ``run``),
yielding a ``FrameResult`` per analysed frame and ``Event``s for what happens on the way
(source ended or lost, model swapped, recording failed); nothing raises on the worker
for what a source, a model or a disk does mid-run. ``stop`` is that run's own token:
set from any thread, before or during the run, it ends that run and no other. Any
thread may call the controls at any time (``set_model``, ``steadiness``,
``gamma_enabled``, ``views``, ``start_recording``, ``stop_recording``, ``add_marker``, ``calibrate``,
``restart_source``, ``stop``); one that can fail raises in its caller (a bad model
file, an unwritable CSV) and leaves the running state untouched; what it changes
applies from the next frame.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from app.face.baseline import DEFAULT_SECONDS, Baseline
from app.face.confirmation import FaceConfirmation
from app.face.landmarks import DEFAULT_MAX_FACES, Face, FaceLandmarker, QuietLandmarker
from app.face.preprocess import PreprocessSpec
from app.face.steady import Steadiness
from app.face.tracking import FaceTracker, FrameRate
from app.face_reading import read_faces
from app.landmark_thread import Landmarked, LandmarkFailure, LandmarkThread
from app.model.inference import EmotionClassifier
from app.model.library import resolve_model
from app.model.providers import ProviderReport, probe
from app.model.views import checked_choice
from app.output.recording import Recording
from app.output.timeline_csv import RecordingError
from app.read_schedule import ReadSchedule
from app.results import (
    Event,
    EventKind,
    FaceResult,
    Frame,
    FrameResult,
    RecordingStatus,
    RunSummary,
    StageTimings,
)
from app.sources.capture import FrameReader

log = logging.getLogger(__name__)


class Pipeline:
    """Analyses frames with one emotion model; see the module docstring for threading.

    ``model``: a name from the model library, an ``.onnx`` path, or None (frames pass
    through unanalysed until ``set_model``). ``steadiness``: smoothing and hysteresis of
    each face's read (default: ``app.face.steady``'s measured defaults). ``views``: the
    model card's test-time views to read (``app.model.views.CHOICES``; ``auto``: all of them
    for a source read frame by frame, as many as the frame budget allows for a live one).
    Raises ModelCardError for a bad model and ValueError for a ``max_faces`` below 1 or an
    unknown ``views``.
    """

    def __init__(self, model: str | Path | None = None, *, provider: str = "auto",
                 max_faces: int = DEFAULT_MAX_FACES, steadiness: Steadiness | None = None,
                 gamma: bool = True, views: str = "auto",
                 landmarker_factory: Callable[[int], FaceLandmarker] = QuietLandmarker) -> None:
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        self.provider_report: ProviderReport = probe(provider)
        self.max_faces = max_faces
        self._views = checked_choice(views)
        self.gamma_enabled = gamma
        """Apply adaptive gamma when the model's card asks for it (set from any thread)."""
        self._landmarker_factory = landmarker_factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._tracker = FaceTracker(steadiness)
        self._model: EmotionClassifier | None = None
        self._specs: dict[bool, PreprocessSpec] = {}  # by gamma_enabled: as the card says, or off
        if model is not None:
            self._use(self.load_model(model))
        self._pending_model: EmotionClassifier | None = None
        self._events: deque[Event] = deque()
        self._recording = Recording(self._events.append)
        self._run_stop: threading.Event | None = None
        self._reader: FrameReader | None = None
        self._continuous = True
        self._schedule: ReadSchedule | None = None
        """Live runs only: which faces are read in a frame, over how many views."""
        self._frame_rate = FrameRate()
        self._last_frame: Frame | None = None

    # Controls: any thread.

    @property
    def model(self) -> EmotionClassifier | None:
        """The model analysing frames now (a swap shows here once it took effect)."""
        return self._model

    def set_model(self, name_or_path: str | Path) -> EmotionClassifier:
        """Load, check and test-run a model; it replaces the current one from the next
        frame. Raises ModelCardError (the current model keeps running)."""
        classifier = self.load_model(name_or_path)
        self.use_model(classifier)
        return classifier

    def use_model(self, classifier: EmotionClassifier) -> None:
        """Analyse with a model ``load_model`` gave from the next frame on; apart from
        loading, so a caller loading several at once can use the one it asked for last."""
        with self._lock:
            self._pending_model = classifier

    def load_model(self, name_or_path: str | Path) -> EmotionClassifier:
        """Load, check and test-run a model without using it; raises ModelCardError."""
        classifier = EmotionClassifier(resolve_model(name_or_path),
                                       self.provider_report.session_providers, self.max_faces)
        classifier.test_run(min(2, self.max_faces))
        return classifier

    @property
    def views(self) -> str:
        """The test-time views asked for (``app.model.views.CHOICES``); set from any thread,
        applies from the next frame; ValueError for an unknown setting."""
        return self._views

    @views.setter
    def views(self, value: str) -> None:
        self._views = checked_choice(value)

    @property
    def steadiness(self) -> Steadiness:
        return self._tracker.steadiness

    @steadiness.setter
    def steadiness(self, value: Steadiness) -> None:
        self._tracker.steadiness = value

    def start_recording(self, path: str | Path, overwrite: bool = False) -> Path:
        """Record the timeline to a new CSV (replacing any recording in progress). Raises
        RecordingError for an unwritable path, an existing file unless ``overwrite``, or
        when no model is loaded."""
        model = self._pending_model or self._model
        if model is None:
            raise RecordingError("choose a model before recording: the CSV's columns are its labels")
        return self._recording.start(path, model.labels, overwrite, model.member_names)

    def stop_recording(self) -> RecordingStatus | None:
        """Close the CSV; returns its final status, None when nothing was recording."""
        return self._recording.stop()

    @property
    def recording(self) -> RecordingStatus | None:
        return self._recording.status

    def add_marker(self, label: str) -> None:
        """An event-marker row in the CSV now; raises RecordingError when not recording."""
        frame = self._last_frame
        self._recording.add_marker(label, frame and frame.index, frame and frame.source_ms)

    def calibrate(self, face_id: int, seconds: float = DEFAULT_SECONDS) -> None:
        """Record face ``face_id``'s neutral baseline over its next ``seconds`` of frames;
        from then on its read is also corrected for it (``app.face.baseline``). The face
        keeps it while it keeps its ID, and for this model only. Raises RuntimeError with
        no model loaded, ValueError for negative seconds."""
        model = self._pending_model or self._model
        if model is None:
            raise RuntimeError("choose a model before calibrating: a baseline is in its labels")
        self._tracker.calibrate(face_id, seconds, model.labels)

    def use_baseline(self, baseline: Baseline | None) -> None:
        """Correct every face for ``baseline`` from now on (None: stop); ValueError when its
        labels are not the model's. The face IDs' own calibrations are replaced."""
        model = self._pending_model or self._model
        if baseline is not None and (model is None or tuple(baseline.labels) != tuple(model.labels)):
            raise ValueError(f"the baseline's labels ({', '.join(baseline.labels)}) are not the model's "
                             f"({', '.join(model.labels) if model else 'no model loaded'})")
        self._tracker.use_baseline(baseline)

    def restart_source(self) -> None:
        """Reopen the source being read (after SOURCE_LOST); raises CaptureError."""
        if self._reader is None:
            raise RuntimeError("no source is being read")
        self._reader.restart()

    def stop(self) -> None:
        """End the run in progress after its current frame; later runs are not affected.
        To stop a run that may not have started yet, set the token given to ``frames``."""
        stop = self._run_stop
        if stop is not None:
            stop.set()

    def drain_events(self) -> list[Event]:
        """Events not yet delivered (``frames`` delivers them itself)."""
        return [self._events.popleft() for _ in range(len(self._events))]

    def close(self) -> None:
        """Stop recording, release this thread's landmarker and let go of the model (its
        ONNX Runtime session and threads): a closed window keeps nothing running."""
        self.stop_recording()
        self.close_landmarker()
        with self._lock:
            self._model = self._pending_model = None

    # The worker thread.

    def frames(self, reader: FrameReader,
               stop: threading.Event | None = None) -> Iterator[FrameResult | Event]:
        """Analyse ``reader``'s frames until it ends or ``stop`` is set (already set: the
        run ends at once); yields results and events.

        Stays on a lost camera (after SOURCE_LOST) until ``restart_source`` or a stop.
        """
        stop = threading.Event() if stop is None else stop
        self._reader, self._run_stop, self._continuous = reader, stop, reader.source.continuous
        self._schedule = ReadSchedule(1.0 / reader.source.fps if reader.source.fps else None) \
            if reader.keeps_newest else None
        self._tracker.reset()
        self._frame_rate.clear()
        landmarks = LandmarkThread(reader, self._landmarks_if_analysed, stop, self.close_landmarker)
        try:
            yield from self._analysed(landmarks, stop)
            yield from self.drain_events()
        finally:
            landmarks.close()
            self._reader = self._run_stop = self._schedule = None
            self.close_landmarker()

    def _analysed(self, landmarks: LandmarkThread,
                  stop: threading.Event) -> Iterator[FrameResult | Event]:
        while not stop.is_set():
            yield from self.drain_events()
            item = landmarks.next()
            if isinstance(item, Event):
                yield item
                if item.kind is EventKind.SOURCE_ENDED:
                    return
            elif item is not None:
                try:
                    if isinstance(item, LandmarkFailure):
                        raise item.error
                    result = self._classify(item)
                except Exception as error:  # reported as a value, not raised on the worker
                    log.exception("analysing frame %d failed", item.frame.index)
                    yield Event(EventKind.ERROR, f"analysing frame {item.frame.index} failed: {error}")
                    return
                yield from self.drain_events()
                yield result

    def run(self, reader: FrameReader, on_result: Callable[[FrameResult], None] | None = None,
            on_event: Callable[[Event], None] | None = None,
            stop: threading.Event | None = None) -> RunSummary:
        """``frames`` with callbacks; returns counts and the event that ended the run."""
        frames = faces = 0
        ended_by = None
        for item in self.frames(reader, stop):
            if isinstance(item, Event):
                if item.kind in (EventKind.SOURCE_ENDED, EventKind.ERROR):
                    ended_by = item
                if on_event:
                    on_event(item)
            else:
                frames, faces = frames + 1, faces + len(item.faces)
                if on_result:
                    on_result(item)
        return RunSummary(frames, faces, ended_by)

    def process(self, frame: Frame, dropped_frames: int = 0) -> FrameResult:
        """Analyse one frame, all stages on the calling thread (``frames`` overlaps them)."""
        start = time.perf_counter()
        faces = self._landmarks_if_analysed(frame)
        landmarks_ms = (time.perf_counter() - start) * 1000.0
        return self._classify(Landmarked(frame, faces, landmarks_ms, dropped_frames))

    def _landmarks_if_analysed(self, frame: Frame) -> list[Face] | None:
        """The frame's faces, or None while no model is loaded (nothing to analyse them)."""
        if self._model is None and self._pending_model is None:
            return None
        landmarker = self._landmarker()
        faces = landmarker.follow(frame.image) if self._continuous else landmarker.detect(frame.image)
        return self._local.confirmation.admit(faces, self._continuous)

    def _classify(self, landmarked: Landmarked) -> FrameResult:
        """Everything after the landmarks: crops, quality, the model, tracking, the CSV."""
        self._apply_pending_model()
        frame, dropped_frames = landmarked.frame, landmarked.dropped_frames
        self._last_frame = frame
        model = self._model
        timings = StageTimings(decode=frame.decode_ms, landmarks=landmarked.landmarks_ms)
        faces: tuple[FaceResult, ...] = ()
        if model is not None:
            if not self._continuous:
                self._tracker.reset()
            found = landmarked.faces or []
            views, schedule = self._views_now(model, len(found)), self._schedule
            reads = model.card.views.reads(views)
            choose = None
            if schedule is not None:
                schedule.observe_frame(frame.source_ms / 1000.0 if frame.source_ms is not None
                                       else frame.monotonic_s)  # the tracker's clock
                choose = lambda ages: schedule.choose(ages, reads)  # noqa: E731
            faces, timings = read_faces(frame, found, model, self._specs[bool(self.gamma_enabled)],
                                        self._tracker, timings, views, choose)
            if schedule is not None:
                schedule.observe(reads * sum(face.fresh for face in faces), timings.infer)
        result = FrameResult(frame, faces, model.path.stem if model else "",
                             model.labels if model else (),
                             model.provider if model else self.provider_report.provider,
                             timings, self._frame_rate.tick(), dropped_frames,
                             steadiness=self._tracker.steadiness)
        return self._recording.write(result)

    def reset_tracking(self) -> None:
        """Forget the faces seen so far, before a frame unrelated to the last (another
        photo) given to ``process``; IDs go on counting."""
        self._tracker.reset()
        self._landmarker().forget()
        self._local.confirmation.reset()

    def close_landmarker(self) -> None:
        landmarker, self._local.landmarker = getattr(self._local, "landmarker", None), None
        if landmarker is not None:
            landmarker.close()

    # Internals.

    def _views_now(self, model: EmotionClassifier, faces: int) -> str:
        """The concrete setting for this frame: ``auto`` is every view unless the frames
        come live (a camera, or a video played in real time): then the schedule's choice."""
        views = self._views
        if views != "auto":
            return views
        return "all" if self._schedule is None else self._schedule.views(model.card.views, faces)

    def _use(self, model: EmotionClassifier) -> None:
        self._model = model
        self._specs = {True: model.spec, False: dataclasses.replace(model.spec, gamma=False)}

    def _apply_pending_model(self) -> None:
        with self._lock:
            pending, self._pending_model = self._pending_model, None
        if pending is not None:
            self._use(pending)
            self._tracker.reset_smoothing()
            self._tracker.uncalibrate()  # a baseline is one model's read of a face
            self._events.append(Event(
                EventKind.MODEL_CHANGED, f"now running {pending.name} on {pending.provider}",
                {"name": pending.name, "path": pending.path, "provider": pending.provider}))

    def _landmarker(self) -> FaceLandmarker:
        local = self._local
        if getattr(local, "landmarker", None) is None:  # graphs belong to their thread
            local.landmarker = self._landmarker_factory(self.max_faces)
            local.confirmation = FaceConfirmation()  # and what they have seen, too
        return local.landmarker
