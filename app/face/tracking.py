"""Stable face IDs across frames, a steady read per face (``app.face.steady``), and the
analysed frame rate.

Matching: each new box is paired with an existing track greedily, best pair first,
by intersection over union; a pair that barely overlaps still matches when the box
centres are close relative to the face's size (a fast head turn, or frames dropped by
a slow model). A track that finds no box is kept for ``grace_s`` seconds, so a face
the detector misses for a few frames keeps its ID; after that it is forgotten, and a
face that comes back gets a new ID. Only an analysed frame that misses a face counts:
a pause in the analysis itself (MediaPipe starting its graphs, frames dropped under
load) keeps the ID of a face still where it was. IDs count up and are never reused within a run.

Each track keeps its face's ``SteadyRead``: the smoothed probabilities and the emotion
shown, steadied as ``steadiness`` says (time constant, switch margin and hold). A track
may also keep a neutral baseline (``app.face.baseline``), recorded over its own next
frames after ``calibrate``; from then on its probabilities are also corrected for it and
steadied in a second ``SteadyRead``. A face whose ID changes is a new track: uncalibrated.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from app.face.baseline import Baseline
from app.face.steady import Steadiness, SteadyRead

Box = tuple[float, float, float, float]
log = logging.getLogger(__name__)


@dataclass
class Track:
    face_id: int
    box: Box
    last_seen_s: float
    read: SteadyRead = field(default_factory=SteadyRead)
    baseline: Baseline | None = None
    calibrated_read: SteadyRead = field(default_factory=SteadyRead)
    calibration: Calibration | None = None
    """A baseline being recorded."""

    last_read: object = None
    """What the caller kept of the face's last model read (``app.face_reading``: a
    ``FaceRead``), for the frames in which it is not read again; None before one."""


@dataclass
class Calibration:
    """A neutral baseline being recorded from a track's frames for ``seconds``."""

    seconds: float
    labels: tuple[str, ...]
    started_s: float | None = None
    rows: list[np.ndarray] = field(default_factory=list)

    def add(self, probabilities: np.ndarray, time_s: float, face_id: int) -> Baseline | None:
        """Take a frame; the baseline once ``seconds`` have passed (None before, or when no
        frame of them was readable: then it goes on)."""
        self.started_s = time_s if self.started_s is None else self.started_s
        if np.isfinite(probabilities).all():
            self.rows.append(np.asarray(probabilities, np.float64))
        if time_s - self.started_s < self.seconds or not self.rows:
            return None
        return Baseline.from_probabilities(
            self.rows, self.labels, f"face {face_id}, {self.started_s:.2f}-{time_s:.2f} s "
                                    f"({len(self.rows)} frames)")


class TrackedFace(NamedTuple):
    face_id: int
    smoothed: np.ndarray
    shown: int | None
    """Index of the emotion shown (hysteresis applied); None before a readable frame."""
    baseline: Baseline | None = None
    calibrated: np.ndarray | None = None
    """This frame's probabilities corrected for ``baseline``; None without one."""
    calibrated_smoothed: np.ndarray | None = None
    calibrated_shown: int | None = None
    calibrating: bool = False


class FaceTracker:
    """Assigns IDs to the boxes of successive frames and steadies their probabilities.

    ``update`` belongs to one thread (the pipeline's worker); ``steadiness`` may be set
    from any thread (one attribute write) and applies from the next update.
    """

    def __init__(self, steadiness: Steadiness | None = None, grace_s: float = 1.0,
                 min_iou: float = 0.2, max_centre_shift: float = 0.8) -> None:
        self.steadiness = Steadiness() if steadiness is None else steadiness
        self.grace_s = grace_s
        self.min_iou = min_iou
        self.max_centre_shift = max_centre_shift
        """Largest centre distance, as a fraction of the larger box side, that still matches."""
        self._tracks: list[Track] = []
        self._ids = itertools.count(1)
        self._calibrations: deque[tuple[int, float, tuple[str, ...]]] = deque()
        """Requests from other threads, taken at the next update."""
        self.preset_baseline: Baseline | None = None
        """A baseline every face starts with (``use_baseline``): one person's footage."""
        self._preset_request: tuple[Baseline | None] | None = None

    @property
    def steadiness(self) -> Steadiness:
        return self._steadiness

    @steadiness.setter
    def steadiness(self, value: Steadiness) -> None:
        if not isinstance(value, Steadiness):
            raise TypeError(f"steadiness must be a Steadiness, got {type(value).__name__}")
        self._steadiness = value

    def reset(self) -> None:
        """Forget every face (a new source, or frames that are not a sequence); IDs go on
        counting, so an ID names one face in a whole recording."""
        self._tracks = []

    def reset_smoothing(self) -> None:
        """Keep the IDs but restart every steady read and forget the last reads (another
        model's probabilities)."""
        for track in self._tracks:
            track.read.restart()
            track.last_read = None

    def calibrate(self, face_id: int, seconds: float, labels: Sequence[str]) -> None:
        """Record face ``face_id``'s neutral baseline over its next ``seconds`` (any thread;
        a face no longer tracked then is ignored, with a log line)."""
        if not (isinstance(seconds, (int, float)) and seconds >= 0):
            raise ValueError(f"seconds must be 0 or more, got {seconds!r}")
        self._calibrations.append((int(face_id), float(seconds), tuple(labels)))

    def uncalibrate(self) -> None:
        """Forget every baseline (another model's labels), the preset one too."""
        self.preset_baseline = None
        for track in self._tracks:
            track.baseline, track.calibration = None, None
            track.calibrated_read.restart()

    def use_baseline(self, baseline: Baseline | None) -> None:
        """Correct every face, those in view and those to come, for ``baseline`` from the next
        update (any thread); None: no baseline."""
        self._preset_request = (baseline,)

    def _take_preset(self) -> None:
        request, self._preset_request = self._preset_request, None
        if request is None:
            return
        self.preset_baseline = request[0]
        for track in self._tracks:
            track.baseline, track.calibration = request[0], None
            track.calibrated_read.restart()

    def update(self, boxes: Sequence[Box], probabilities: np.ndarray,
               time_s: float) -> list[TrackedFace]:
        """(face ID, smoothed probabilities, emotion shown, and the calibrated read of a
        calibrated face) for each box, in the order given."""
        if len(boxes) != len(probabilities):
            raise ValueError(f"{len(boxes)} boxes but {len(probabilities)} probability rows")
        return [self.read(track, probs, time_s)
                for track, probs in zip(self.assign(boxes, time_s), probabilities)]

    def assign(self, boxes: Sequence[Box], time_s: float) -> list[Track]:
        """The track of each box, in the order given (new ones for new faces): the IDs,
        before any read, so that a live run can choose whose read to refresh."""
        self._take_preset()
        self._take_calibrations()
        assigned = self._match(boxes)  # before expiring: a pause in the analysis is no miss
        matched = {id(track) for track in assigned.values()}
        self._tracks = [t for t in self._tracks
                        if id(t) in matched or time_s - t.last_seen_s <= self.grace_s]
        tracks = []
        for index, box in enumerate(boxes):
            track = assigned.get(index)
            if track is None:
                track = Track(next(self._ids), tuple(box), time_s, baseline=self.preset_baseline)
                self._tracks.append(track)
            track.box, track.last_seen_s = tuple(box), time_s
            tracks.append(track)
        return tracks

    def read(self, track: Track, probabilities: np.ndarray, time_s: float) -> TrackedFace:
        """A new read of ``track``'s face: its steady read (and its calibrated one) moves on."""
        smoothed, shown = track.read.update(probabilities, time_s, self._steadiness)
        return TrackedFace(track.face_id, smoothed, shown, *self._calibrated(track, probabilities, time_s))

    @staticmethod
    def held(track: Track, classes: int) -> TrackedFace:
        """``track``'s steady reads as they stand, for a frame in which it is not read (all
        NaN while it has had no readable frame; no calibrated frame, as nothing was read)."""
        def kept(steady: SteadyRead) -> np.ndarray:
            return np.full(classes, np.nan) if steady.smoothed is None else steady.smoothed.copy()

        calibrated = track.baseline is not None
        return TrackedFace(track.face_id, kept(track.read), track.read.shown, track.baseline, None,
                           kept(track.calibrated_read) if calibrated else None,
                           track.calibrated_read.shown if calibrated else None,
                           track.calibration is not None)

    def _calibrated(self, track: Track, probabilities: np.ndarray, time_s: float) -> tuple:
        """(baseline, corrected frame, its steady read, its emotion shown, still recording)."""
        if track.calibration is not None:
            baseline = track.calibration.add(probabilities, time_s, track.face_id)
            if baseline is not None:
                track.baseline, track.calibration = baseline, None
                track.calibrated_read.restart()
                log.info("face %d calibrated: %s", track.face_id, baseline.describe())
        if track.baseline is None or len(track.baseline.labels) != len(probabilities):
            return None, None, None, None, track.calibration is not None
        corrected = track.baseline.correct(probabilities)
        smoothed, shown = track.calibrated_read.update(corrected, time_s, self._steadiness)
        return track.baseline, corrected, smoothed, shown, track.calibration is not None

    def _take_calibrations(self) -> None:
        while self._calibrations:
            face_id, seconds, labels = self._calibrations.popleft()
            track = next((track for track in self._tracks if track.face_id == face_id), None)
            if track is None:
                log.warning("face %d is no longer in view: not calibrated", face_id)
                continue
            track.calibration = Calibration(seconds, labels)

    def _match(self, boxes: Sequence[Box]) -> dict[int, Track]:
        """Greedy assignment, best (lowest cost) pair first."""
        candidates = []
        for box_index, box in enumerate(boxes):
            for track in self._tracks:
                cost = self._cost(box, track.box)
                if cost is not None:
                    candidates.append((cost, box_index, track.face_id, track))
        candidates.sort(key=lambda item: item[:3])
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for _, box_index, face_id, track in candidates:
            if box_index not in assigned and face_id not in used:
                assigned[box_index] = track
                used.add(face_id)
        return assigned

    def _cost(self, box: Box, previous: Box) -> float | None:
        """0..1 from overlap, 1..2 from centre distance; None when too far apart."""
        overlap = iou(box, previous)
        if overlap >= self.min_iou:
            return 1.0 - overlap
        shift = centre_distance(box, previous) / max(box[2], box[3], previous[2], previous[3], 1e-6)
        if shift <= self.max_centre_shift:
            return 1.0 + shift / self.max_centre_shift
        return None


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, width, height) boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    return intersection / (a[2] * a[3] + b[2] * b[3] - intersection)


def centre_distance(a: Box, b: Box) -> float:
    return float(np.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2))


class FrameRate:
    """Frames completed per second over about the last second."""

    def __init__(self) -> None:
        self._times: deque[float] = deque(maxlen=64)

    def clear(self) -> None:
        self._times.clear()

    def tick(self) -> float:
        """Count a completed frame now; the rate including it."""
        times = self._times
        times.append(time.monotonic())
        while len(times) > 2 and times[-1] - times[0] > 1.0:
            times.popleft()
        span = times[-1] - times[0]
        return (len(times) - 1) / span if span > 0 else 0.0
