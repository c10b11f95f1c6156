"""The real-time engine: frames in, per-face emotions, IDs, quality and a CSV out.

Per frame: MediaPipe landmarks for every face; for each face the similarity-aligned
crop (``app.preprocess.crop_face``), its quality measures, then adaptive gamma and
normalisation (``app.preprocess.to_tensor``; the same two steps ``faces_to_batch``
chains, called one by one here because the quality measures need the crop before
gamma); one batched ONNX Runtime call for all faces; tracking and smoothing; the CSV.

Threading contract. One worker thread drives ``frames(reader)`` (or ``run``), which
yields a ``FrameResult`` per analysed frame and ``Event`` values for what happens on
the way (source ended or lost, model swapped, recording failed); nothing raises on the
worker for what a source, a model or a disk does mid-run. Any other thread may call
the controls at any time: ``set_model``, ``smoothing``, ``gamma_enabled``,
``start_recording``, ``stop_recording``, ``add_marker``, ``restart_source``, ``stop``.
A control that can fail raises in its caller (a bad model file, an unwritable CSV) and
leaves the running state untouched; what it changes applies from the next frame.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.capture import FrameReader
from app.inference import EmotionClassifier
from app.landmarks import DEFAULT_MAX_FACES, Face, FaceLandmarker
from app.model_card import ModelCardError
from app.model_library import resolve_model
from app.preprocess import crop_face, to_tensor
from app.providers import ProviderReport, probe
from app.quality import measure_face
from app.quiet import native_output_captured
from app.recorder import RecordingError
from app.recording import Recording
from app.results import (
    Event,
    EventKind,
    FaceResult,
    FrameResult,
    RecordingStatus,
    StageTimings,
)
from app.sources import Frame
from app.tracking import FaceTracker

log = logging.getLogger(__name__)

_QUIET_START_S = 2.0
"""How long MediaPipe's output stays captured after its graphs (re)start."""


@dataclass(frozen=True)
class RunSummary:
    frames: int
    faces: int
    ended_by: Event | None
    """The event that ended the run (source ended, error), None when ``stop()`` ended it."""


class Pipeline:
    """Analyses frames with one emotion model; see the module docstring for threading.

    ``model``: a name from the model library, an ``.onnx`` path, or None (frames pass
    through unanalysed until ``set_model``). Raises ModelCardError for a bad model.
    """

    def __init__(self, model: str | Path | None = None, *, provider: str = "auto",
                 max_faces: int = DEFAULT_MAX_FACES, smoothing: float = 0.6, gamma: bool = True,
                 landmarker_factory: Callable[[int], FaceLandmarker] = FaceLandmarker) -> None:
        self.provider_report: ProviderReport = probe(provider)
        self.max_faces = max_faces
        self.gamma_enabled = gamma
        """Apply adaptive gamma when the model's card asks for it (set from any thread)."""
        self._landmarker_factory = landmarker_factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._tracker = FaceTracker(smoothing)
        self._model = self._load_model(model) if model is not None else None
        self._pending_model: EmotionClassifier | None = None
        self._events: deque[Event] = deque()
        self._recording = Recording(self._events.append)
        self._stopping = threading.Event()
        self._reader: FrameReader | None = None
        self._continuous = True
        self._completions: deque[float] = deque(maxlen=64)
        self._last_frame: Frame | None = None

    # Controls: any thread.

    @property
    def model(self) -> EmotionClassifier | None:
        """The model analysing frames now (a swap shows here once it took effect)."""
        return self._model

    def set_model(self, name_or_path: str | Path) -> EmotionClassifier:
        """Load, check and test-run a model; it replaces the current one from the next
        frame. Raises ModelCardError (the current model keeps running)."""
        classifier = self._load_model(name_or_path)
        with self._lock:
            self._pending_model = classifier
        return classifier

    @property
    def smoothing(self) -> float:
        return self._tracker.strength

    @smoothing.setter
    def smoothing(self, strength: float) -> None:
        self._tracker.strength = strength

    def start_recording(self, path: str | Path) -> Path:
        """Record the timeline to a new CSV (replacing any recording in progress).
        Raises RecordingError for an unwritable path, or when no model is loaded."""
        model = self._pending_model or self._model
        if model is None:
            raise RecordingError("choose a model before recording: the CSV's columns are its labels")
        return self._recording.start(path, model.labels)

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

    def restart_source(self) -> None:
        """Reopen the source being read (after SOURCE_LOST); raises CaptureError."""
        if self._reader is None:
            raise RuntimeError("no source is being read")
        self._reader.restart()

    def stop(self) -> None:
        """End the run in progress after its current frame (a run about to start ends at
        once, so closing a window before its worker got going cannot hang)."""
        self._stopping.set()

    def drain_events(self) -> list[Event]:
        """Events not yet delivered (``frames`` delivers them itself)."""
        events = []
        while self._events:
            events.append(self._events.popleft())
        return events

    def close(self) -> None:
        """Stop recording and release this thread's landmarker."""
        self.stop_recording()
        self.close_landmarker()

    # The worker thread.

    def frames(self, reader: FrameReader) -> Iterator[FrameResult | Event]:
        """Analyse ``reader``'s frames until it ends or ``stop()``; yields results and events.

        Stays on a lost camera (after SOURCE_LOST) until ``restart_source`` or ``stop``.
        """
        self._reader, self._continuous = reader, reader.source.continuous
        self._tracker.reset()
        self._completions.clear()
        try:
            yield from self._analysed(reader)
            yield from self.drain_events()
        finally:
            self._reader = None
            self._stopping.clear()  # the stop was for this run; the next one starts afresh
            self.close_landmarker()

    def _analysed(self, reader: FrameReader) -> Iterator[FrameResult | Event]:
        while not self._stopping.is_set():
            yield from self.drain_events()
            item = reader.next(timeout=0.1)
            if isinstance(item, Event):
                yield item
                if item.kind is EventKind.SOURCE_ENDED:
                    return
            elif item is not None:
                try:
                    result = self.process(item, reader.dropped_frames)
                except Exception as error:  # reported as a value, not raised on the worker
                    log.exception("analysing frame %d failed", item.index)
                    yield Event(EventKind.ERROR, f"analysing frame {item.index} failed: {error}")
                    return
                yield from self.drain_events()
                yield result

    def run(self, reader: FrameReader, on_result: Callable[[FrameResult], None] | None = None,
            on_event: Callable[[Event], None] | None = None) -> RunSummary:
        """``frames`` with callbacks; returns counts and the event that ended the run."""
        frames = faces = 0
        ended_by = None
        for item in self.frames(reader):
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
        """Analyse one frame (on the worker thread)."""
        self._apply_pending_model()
        self._last_frame = frame
        model = self._model
        timings = StageTimings(decode=frame.decode_ms)
        faces: tuple[FaceResult, ...] = ()
        if model is not None:
            faces, timings = self._analyse(frame, model, timings)
        self._completions.append(time.monotonic())
        result = FrameResult(frame, faces, model.path.stem if model else "",
                             model.labels if model else (),
                             model.provider if model else self.provider_report.provider,
                             timings, self._fps(), dropped_frames)
        return self._recording.write(result)

    def _analyse(self, frame: Frame, model: EmotionClassifier,
                 timings: StageTimings) -> tuple[tuple[FaceResult, ...], StageTimings]:
        image = frame.image
        landmarker = self._landmarker()
        start = time.perf_counter()
        faces = self._detect(landmarker, image)
        landmarked = time.perf_counter()
        spec = model.spec if self.gamma_enabled else dataclasses.replace(model.spec, gamma=False)
        batch = np.empty((len(faces), spec.channels, *spec.input_size), np.float32)
        qualities = []
        for index, face in enumerate(faces):
            crop = crop_face(image, face.anchors, spec)
            batch[index], gamma = to_tensor(crop, spec)
            qualities.append(measure_face(face.anchors, face.mesh, crop, gamma,
                                          (image.shape[1], image.shape[0])))
        aligned = time.perf_counter()
        probabilities = model.probabilities(batch)
        inferred = time.perf_counter()
        if not self._continuous:
            self._tracker.reset()
        tracked = self._tracker.update([face.box for face in faces], probabilities,
                                       _track_time(frame))
        results = tuple(
            FaceResult(face_id, face.box, {name: (float(point[0]), float(point[1]))
                                           for name, point in face.anchors.items()},
                       face.source, model.labels, probs, smoothed, quality)
            for face, probs, (face_id, smoothed), quality
            in zip(faces, probabilities, tracked, qualities)
        )
        timings = dataclasses.replace(
            timings, landmarks=_ms(start, landmarked), align=_ms(landmarked, aligned),
            infer=_ms(aligned, inferred), track=_ms(inferred, time.perf_counter()))
        return results, timings

    def close_landmarker(self) -> None:
        landmarker = getattr(self._local, "landmarker", None)
        if landmarker is not None:
            landmarker.close()
            self._local.landmarker = None

    # Internals.

    def _load_model(self, name_or_path: str | Path) -> EmotionClassifier:
        path = resolve_model(name_or_path)
        classifier = EmotionClassifier(path, self.provider_report.session_providers)
        height, width = classifier.spec.input_size
        try:  # a file can pass the card check and still fail to run
            classifier.probabilities(np.zeros((2, classifier.spec.channels, height, width), np.float32))
        except Exception as error:
            raise ModelCardError(f"{path}: the model does not run: {str(error).strip()[:300]}") from None
        return classifier

    def _apply_pending_model(self) -> None:
        with self._lock:
            pending, self._pending_model = self._pending_model, None
        if pending is not None:
            self._model = pending
            self._tracker.reset_smoothing()
            self._events.append(Event(
                EventKind.MODEL_CHANGED, f"now running {pending.name} on {pending.provider}",
                {"name": pending.name, "path": pending.path, "provider": pending.provider}))

    def _landmarker(self) -> FaceLandmarker:
        local = self._local
        if getattr(local, "landmarker", None) is None:  # graphs belong to their thread
            with native_output_captured() as captured:
                local.landmarker = self._landmarker_factory(self.max_faces)
            local.mesh_started, local.quiet_until = False, time.monotonic() + _QUIET_START_S
            log.debug("MediaPipe said while starting:\n%s", captured.text.rstrip())
        return local.landmarker

    def _detect(self, landmarker: FaceLandmarker, image: np.ndarray) -> list[Face]:
        """Landmarks, with MediaPipe's start-up lines kept off the terminal: its graphs
        start lazily (the mesh's only once a face is seen), and their threads print as
        they do, so detection stays wrapped until the mesh ran and a moment passed."""
        local = self._local
        if local.mesh_started and time.monotonic() > local.quiet_until:
            return landmarker.detect(image)
        with native_output_captured() as captured:
            faces = landmarker.detect(image)
        if not local.mesh_started and any(face.mesh is not None for face in faces):
            local.mesh_started, local.quiet_until = True, time.monotonic() + _QUIET_START_S
        if captured.text.strip():
            log.debug("MediaPipe said:\n%s", captured.text.rstrip())
        return faces

    def _fps(self) -> float:
        times = self._completions
        while len(times) > 2 and times[-1] - times[0] > 1.0:
            times.popleft()
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


def _track_time(frame: Frame) -> float:
    """Video time for files (so batch runs track in the video's time), else capture time."""
    return frame.source_ms / 1000.0 if frame.source_ms is not None else frame.monotonic_s


def _ms(start: float, end: float) -> float:
    return (end - start) * 1000.0
