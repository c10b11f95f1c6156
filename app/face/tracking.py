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
shown, steadied as ``steadiness`` says (time constant, switch margin and hold).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from app.face.steady import Steadiness, SteadyRead

Box = tuple[float, float, float, float]


@dataclass
class Track:
    face_id: int
    box: Box
    last_seen_s: float
    read: SteadyRead = field(default_factory=SteadyRead)
    last_read: object = None
    """What the caller kept of the face's last model read (``app.face_reading``: a
    ``FaceRead``), for the frames in which it is not read again; None before one."""


class TrackedFace(NamedTuple):
    face_id: int
    smoothed: np.ndarray
    shown: int | None
    """Index of the emotion shown (hysteresis applied); None before a readable frame."""


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

    def update(self, boxes: Sequence[Box], probabilities: np.ndarray,
               time_s: float) -> list[TrackedFace]:
        """(face ID, smoothed probabilities, emotion shown) for each box, in the order given."""
        if len(boxes) != len(probabilities):
            raise ValueError(f"{len(boxes)} boxes but {len(probabilities)} probability rows")
        return [self.read(track, probs, time_s)
                for track, probs in zip(self.assign(boxes, time_s), probabilities)]

    def assign(self, boxes: Sequence[Box], time_s: float) -> list[Track]:
        """The track of each box, in the order given (new ones for new faces): the IDs,
        before any read, so that a live run can choose whose read to refresh."""
        assigned = self._match(boxes)  # before expiring: a pause in the analysis is no miss
        matched = {id(track) for track in assigned.values()}
        self._tracks = [t for t in self._tracks
                        if id(t) in matched or time_s - t.last_seen_s <= self.grace_s]
        tracks = []
        for index, box in enumerate(boxes):
            track = assigned.get(index)
            if track is None:
                track = Track(next(self._ids), tuple(box), time_s)
                self._tracks.append(track)
            track.box, track.last_seen_s = tuple(box), time_s
            tracks.append(track)
        return tracks

    def read(self, track: Track, probabilities: np.ndarray, time_s: float) -> TrackedFace:
        """A new read of ``track``'s face: its steady read moves on."""
        smoothed, shown = track.read.update(probabilities, time_s, self._steadiness)
        return TrackedFace(track.face_id, smoothed, shown)

    @staticmethod
    def held(track: Track, classes: int) -> TrackedFace:
        """``track``'s steady read as it stands, for a frame in which it is not read (all
        NaN while it has had no readable frame)."""
        steady = track.read
        smoothed = np.full(classes, np.nan) if steady.smoothed is None else steady.smoothed.copy()
        return TrackedFace(track.face_id, smoothed, steady.shown)

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
