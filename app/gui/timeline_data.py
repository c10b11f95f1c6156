"""The numbers the timeline plots (no Qt here): a rolling window of every face's
smoothed probabilities while a source runs, and a recorded CSV read back whole.

Both give the smoothed values, the ones the overlay shows, on a time axis in seconds:
capture time while live, the CSV's ``t_seconds`` (since the recording started) after.
"""

from __future__ import annotations

import csv
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.output.csv_cells import plain_cell
from app.output.timeline_columns import FACE_ID, FACE_ROW, MARKER, MARKER_ROW, ROW_TYPE, SMOOTHED, T_SECONDS
from app.results import FrameResult
from app.system.file_names import NAME_ERRORS


@dataclass(frozen=True)
class Series:
    """One face over time: ``times`` (N,) seconds, ``values`` (N, K) probabilities."""

    times: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


@dataclass(frozen=True)
class Timeline:
    """A recorded CSV: every face's series and the markers, in one time frame."""

    path: Path
    labels: tuple[str, ...]
    faces: dict[int, Series]
    markers: tuple[tuple[float, str], ...]
    duration_s: float
    rows: int

    def main_face(self) -> int | None:
        """The face seen longest (the one to plot first)."""
        return max(self.faces, key=lambda face_id: len(self.faces[face_id]), default=None)


class LiveTimeline:
    """The last ``window_s`` seconds of each face's smoothed probabilities, and markers."""

    def __init__(self, window_s: float = 30.0) -> None:
        self.window_s = window_s
        self.labels: tuple[str, ...] = ()
        self.now = 0.0
        """Time of the newest frame."""
        self._faces: dict[int, deque[tuple[float, np.ndarray]]] = {}
        self._markers: deque[tuple[float, str]] = deque()

    @property
    def face_ids(self) -> list[int]:
        return sorted(self._faces)

    def add(self, result: FrameResult) -> None:
        if result.labels != self.labels:  # another model: other columns
            self.clear()
            self.labels = result.labels
        self.now = result.frame.monotonic_s
        for face in result.faces:
            self._faces.setdefault(face.face_id, deque()).append((self.now, face.smoothed))
        oldest = self.now - self.window_s
        for face_id in list(self._faces):
            samples = self._faces[face_id]
            while samples and samples[0][0] < oldest:
                samples.popleft()
            if not samples:
                del self._faces[face_id]
        while self._markers and self._markers[0][0] < oldest:
            self._markers.popleft()

    def add_marker(self, time_s: float, label: str) -> None:
        self._markers.append((time_s, label))

    def series(self, face_id: int) -> Series | None:
        samples = self._faces.get(face_id)
        if not samples:
            return None
        return Series(np.array([time for time, _ in samples]),
                      np.stack([values for _, values in samples]))

    @property
    def markers(self) -> tuple[tuple[float, str], ...]:
        return tuple(self._markers)

    def clear(self) -> None:
        self._faces.clear()
        self._markers.clear()


def read_timeline_csv(path: str | Path) -> Timeline:
    """A timeline CSV written by ``app.output.timeline_csv``; ValueError when the file is not one."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8", errors=NAME_ERRORS) as file:
        reader = csv.DictReader(file)
        columns = reader.fieldnames or []
        labels = tuple(label for label in map(SMOOTHED.item, columns) if label is not None)
        missing = {ROW_TYPE.name, T_SECONDS.name, FACE_ID.name} - set(columns)
        if missing or not labels:
            raise ValueError(f"{path} is not an emotion timeline (no "
                             f"{', '.join(sorted(missing)) or SMOOTHED.name} column)")
        times: dict[int, list[float]] = {}
        values: dict[int, list[list[float]]] = {}
        markers, rows, last_time = [], 0, 0.0
        for row in reader:
            rows += 1
            time = _number(row[T_SECONDS.name])
            last_time = max(last_time, time)
            if row[ROW_TYPE.name] == MARKER_ROW:
                markers.append((time, plain_cell(row.get(MARKER.name) or "")))
            elif row[ROW_TYPE.name] == FACE_ROW and row[FACE_ID.name]:
                face_id = int(row[FACE_ID.name])
                times.setdefault(face_id, []).append(time)
                values.setdefault(face_id, []).append(
                    [_number(row[SMOOTHED.named(label)]) for label in labels])
    faces = {face_id: Series(np.array(times[face_id]), np.array(values[face_id], np.float64))
             for face_id in times}
    return Timeline(path, labels, faces, tuple(markers), last_time, rows)


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
