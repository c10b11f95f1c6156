"""A Python API, as users of ``fer`` and ``deepface`` expect it.

    from app import EmotionRecognizer
    with EmotionRecognizer() as recognizer:  # the most accurate installed model
        for face in recognizer.analyze(cv2.imread("photo.jpg")):
            print(face.top_emotion, face.probabilities, face.box)

It drives the app's own ``Pipeline`` (MediaPipe landmarks, alignment, adaptive gamma,
one batched ONNX Runtime call, tracking), so a script reads faces exactly as the window
and ``--headless`` do; it runs offline. Probabilities are each frame's own softmax, not
the app's smoothed on-screen read, so a photo's result does not depend on the one
before. A recognizer belongs to the thread that uses it (MediaPipe's graphs do).

Beyond the seven probabilities: each face's ``valence``; a neutral baseline of the person
(``baseline_from_images``, ``baseline_from_video`` over a time range, or
``calibrate_csv`` on a recorded CSV) that ``calibrate`` applies to every face read after
it (``calibrated``); and ``record_video``, which records a run to a CSV and, if asked,
its HTML report (``report`` makes one from any recorded CSV).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from time import monotonic

import cv2
import numpy as np

from app.face.baseline import Baseline
from app.face.landmarks import DEFAULT_MAX_FACES
from app.model.card import ModelCardError
from app.model.library import most_accurate_installed
from app.model.providers import probe
from app.output.calibrate_csv import calibrate_csv  # noqa: F401 - part of the API
from app.output.report import RunFacts, write_report
from app.pipeline import Pipeline
from app.results import Event, EventKind, FaceResult, Frame, FrameResult, RecordingStatus
from app.sources.base import CaptureError
from app.sources.capture import FrameReader, open_reader
from app.sources.images import read_image_file

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class FaceEmotion:
    """One face in an image or frame."""

    box: tuple[float, float, float, float]
    """x, y, width, height in image pixels."""
    probabilities: dict[str, float]
    """Each emotion's probability, in the model's label order; they sum to 1."""
    top_emotion: str
    """The most probable emotion."""
    landmarks: str
    """What the face was aligned from: ``mesh`` (MediaPipe's 478-point face mesh) or
    ``detector`` (only the face detector's keypoints, when the mesh found nothing in a
    small or blurred face: a coarser alignment, so a less trustworthy reading)."""
    face_id: int
    """Stays the same across a video's frames while the face stays in view."""
    valence: float = float("nan")
    """Happy minus the strongest negative emotion, -1 to 1 (``app.face.valence``): a
    summary of ``probabilities``, not a measurement of its own; NaN for labels without
    happy or a negative emotion."""
    calibrated: dict[str, float] | None = None
    """``probabilities`` corrected for the baseline ``calibrate`` set; None without one."""
    calibrated_valence: float = float("nan")
    views: str = "all"
    """The model card's test-time views that made ``probabilities`` (``app.model.views``)."""

    @property
    def top_probability(self) -> float:
        return self.probabilities[self.top_emotion]

    def __repr__(self) -> str:
        box = ", ".join(f"{value:.0f}" for value in self.box)
        return (f"FaceEmotion(top_emotion={self.top_emotion!r}, top_probability="
                f"{self.top_probability:.2f}, valence={self.valence:+.2f}, box=({box}), "
                f"landmarks={self.landmarks!r}, "
                f"face_id={self.face_id})")


@dataclass(frozen=True, repr=False)
class FrameEmotions:
    """The faces in one frame of a video."""

    index: int
    """Frame number in the source, from 0."""
    time_s: float
    """Position in the video in seconds (for a camera or stream: since its first frame)."""
    faces: tuple[FaceEmotion, ...]

    def __repr__(self) -> str:
        return f"FrameEmotions(index={self.index}, time_s={self.time_s:.3f}, faces={list(self.faces)!r})"


class EmotionRecognizer:
    """Finds the faces in images or video and reads their emotions.

    ``model``: a name from the model library (``emotion-app --list-models``), a path to
    an ``.onnx`` file, or None for the most accurate installed model. Raises ValueError
    for an unknown name (naming the installed ones), an unusable file, or a ``provider``
    that cannot run here. ``views``: the card's test-time views to read (``auto`` and
    ``all``: every view chosen on validation data; ``mirror``; ``none``: one read per face,
    fastest). Use as a context manager, or call ``close()``, to release
    MediaPipe's graphs and the ONNX Runtime session.
    """

    def __init__(self, model: str | Path | None = None, *, provider: str = "auto",
                 max_faces: int = DEFAULT_MAX_FACES, gamma: bool = True, views: str = "auto") -> None:
        unmet = probe(provider).unmet  # ValueError for an unknown request
        if unmet:
            raise ValueError(f"{unmet}; use provider='auto' or 'cpu'")
        self._pipeline: Pipeline | None = Pipeline(
            _default_model_path() if model is None else model, provider=provider,
            max_faces=max_faces, gamma=gamma, views=views)
        classifier = self._pipeline.model
        self.model_name: str = classifier.name
        self.model_path: Path = classifier.path
        self.labels: tuple[str, ...] = tuple(classifier.labels)
        self.provider: str = classifier.provider
        self._images = 0

    def analyze(self, image: np.ndarray | str | Path) -> list[FaceEmotion]:
        """The faces in one image, largest first: a BGR (or gray) uint8 array as OpenCV
        reads it, or an image file's path. No face: an empty list."""
        pipeline = self._open_pipeline()
        frame = Frame(_as_bgr(image), self._images, monotonic(), datetime.now().astimezone())
        self._images += 1
        pipeline.reset_tracking()  # unrelated photos: no face carries over
        return list(_faces(pipeline.process(frame)))

    def analyze_video(self, source: str | Path | int) -> Iterator[FrameEmotions]:
        """Every frame of a video file, in order (``itertools.islice`` to take fewer);
        also a camera index or stream URL, read live. Raises CaptureError now when the
        source cannot be opened, and while iterating when it stops delivering frames."""
        pipeline = self._open_pipeline()
        return self._video_frames(pipeline, open_reader(source))

    def baseline_from_images(self, images: Iterable[np.ndarray | str | Path], name: str = "") -> Baseline:
        """A neutral baseline from the largest face of each image (of one person at rest);
        ValueError when no image has a face."""
        rows = [faces[0].probabilities for image in images if (faces := self.analyze(image))]
        return self._baseline(rows, name or f"{len(rows)} images")

    def baseline_from_video(self, source: str | Path, start_s: float, end_s: float) -> Baseline:
        """A neutral baseline from the largest face of each frame from ``start_s`` to ``end_s``
        seconds into a video; ValueError when none of them has a face."""
        rows = []
        for frame in self.analyze_video(source):
            if frame.time_s > end_s:
                break
            if frame.time_s >= start_s and frame.faces:
                rows.append(max(frame.faces, key=lambda face: face.box[2] * face.box[3]).probabilities)
        return self._baseline(rows, f"{Path(str(source)).name} {start_s:g}-{end_s:g} s ({len(rows)} frames)")

    def calibrate(self, baseline: Baseline | None) -> None:
        """Correct every face read from now on for ``baseline`` (its ``calibrated`` and
        ``calibrated_valence``, and the CSV ``record_video`` writes); None: stop. ValueError
        for a baseline of other labels."""
        self._open_pipeline().use_baseline(baseline)

    def record_video(self, source: str | Path | int, csv: str | Path, *, report: str | Path | None = None,
                     overwrite: bool = False, max_frames: int = 0) -> RecordingStatus:
        """Analyse a video (or ``max_frames`` of a camera or stream) into a timeline CSV, as
        ``emotion-app --headless`` does, and write its HTML report to ``report`` if given.
        Raises RecordingError for an unwritable or existing CSV, CaptureError for a source
        that cannot be opened."""
        pipeline = self._open_pipeline()
        reader = open_reader(source)
        try:
            pipeline.start_recording(csv, overwrite)
        except Exception:
            reader.close()
            raise
        frames, results = 0, self._video_frames(pipeline, reader)
        try:
            for frames, _ in enumerate(results, start=1):
                if max_frames and frames >= max_frames:
                    break
        finally:
            results.close()  # ends the run: its landmark thread, the reader
            status = pipeline.stop_recording()
        if report is not None and status is not None:
            write_report(status.path, report, RunFacts(source=str(source), model_path=self.model_path,
                                                       frames=frames))
        return status

    def _baseline(self, rows: list[dict[str, float]], name: str) -> Baseline:
        values = [[row[label] for label in self.labels] for row in rows]
        if not values:
            raise ValueError(f"no face to take the baseline {name!r} from")
        return Baseline.from_probabilities(values, self.labels, name)

    def close(self) -> None:
        """Release MediaPipe's graphs and the ONNX Runtime session; safe to call twice."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.close()

    def __enter__(self) -> EmotionRecognizer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._pipeline is None else self.provider
        return f"EmotionRecognizer(model={self.model_name!r}, {state})"

    def _open_pipeline(self) -> Pipeline:
        if self._pipeline is None:
            raise RuntimeError("this EmotionRecognizer is closed")
        return self._pipeline

    @staticmethod
    def _video_frames(pipeline: Pipeline, reader: FrameReader) -> Iterator[FrameEmotions]:
        items = pipeline.frames(reader, threading.Event())
        first_s: float | None = None
        try:
            for item in items:
                if isinstance(item, Event):
                    _check(item)
                    continue
                frame = item.frame
                first_s = frame.monotonic_s if first_s is None else first_s
                time_s = (frame.source_ms / 1000.0 if frame.source_ms is not None
                          else frame.monotonic_s - first_s)
                yield FrameEmotions(frame.index, time_s, tuple(_faces(item)))
        finally:
            items.close()  # releases the landmarker the run started
            reader.close()


def report(csv: str | Path, out: str | Path, source: str | None = None) -> Path:
    """The HTML report of a recorded timeline CSV (``emotion-app report``); ValueError for a
    file that is not one."""
    return write_report(csv, out, RunFacts(source=source))


def _check(event: Event) -> None:
    """Raise for the events that end a video run badly; log a truncated file's end."""
    if event.kind is EventKind.ERROR:
        raise RuntimeError(event.message)
    if event.kind is EventKind.SOURCE_LOST:
        raise CaptureError(event.message)
    if event.kind is EventKind.SOURCE_ENDED and event.details.get("ended_early"):
        log.warning("%s", event.message)


def _faces(result: FrameResult) -> Iterator[FaceEmotion]:
    for face in result.faces:
        yield _face(face)


def _face(face: FaceResult) -> FaceEmotion:
    probabilities = {label: float(value) for label, value in zip(face.labels, face.probabilities)}
    top = face.labels[int(np.argmax(face.probabilities))]
    calibrated = (None if face.calibrated is None
                  else {label: float(value) for label, value in zip(face.labels, face.calibrated)})
    return FaceEmotion(tuple(float(value) for value in face.box), probabilities, top,
                       face.landmarks, face.face_id, face.valence, calibrated, face.calibrated_valence,
                       face.views)


def _default_model_path() -> Path:
    try:
        return most_accurate_installed().path
    except ModelCardError as error:  # the API's contract: ValueError for what the caller chose
        raise ValueError(str(error)) from None


def _as_bgr(image: np.ndarray | str | Path) -> np.ndarray:
    """A BGR uint8 (H, W, 3) array from what a caller may hand over."""
    if isinstance(image, (str, Path)):
        path = Path(image).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such image file")
        read = read_image_file(path, cv2.IMREAD_COLOR)
        if read is None:
            raise ValueError(f"{path}: not an image OpenCV can read")
        return read
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array or a file path, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (as cv2.imread gives), got {image.dtype}")
    channels = 1 if image.ndim == 2 else image.shape[2] if image.ndim == 3 else 0
    conversions = {1: cv2.COLOR_GRAY2BGR, 3: None, 4: cv2.COLOR_BGRA2BGR}
    if channels not in conversions or min(image.shape[:2]) < 1:
        raise ValueError(f"image must be gray (H, W), BGR (H, W, 3) or BGRA (H, W, 4), got shape "
                         f"{image.shape}")
    conversion = conversions[channels]
    return np.ascontiguousarray(image) if conversion is None else cv2.cvtColor(image, conversion)
