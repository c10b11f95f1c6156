"""What a headless run saw, told at its end: the faces (track IDs, and with several, where
each mostly was in the frame), each face's share of frames per emotion shown, the frames
without a face, and (for ``--plot``) each face's
probabilities over time.

``RunTally`` is fed the very ``FrameResult``s the CSV records (``Pipeline.process``
writes a frame's rows before handing the result on), so the summary, the plot and the
file agree without a second pass. The emotion counted is the one shown, the CSV's
``top_emotion_smoothed`` (smoothed and held by the hysteresis, as the window names it);
the probabilities kept are the smoothed ones the window's timeline plots.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.output.timeline_columns import FACE_ID, FACE_ROW, ROW_TYPE, SHOWN
from app.results import FrameResult

log = logging.getLogger(__name__)

UNREADABLE = "unreadable"
"""The share of a face's frames where the model gave no finite numbers (``FaceResult.readable``)."""

TIME_AXES = {
    "video": "video time (s, the CSV's source_s)",
    "folder": "image number (the CSV's frame_index)",
    "live": "seconds since the first frame",
}
"""The plot's horizontal axis for each kind of source (cameras and streams: ``live``)."""
MOST_FACES_LISTED = 20
"""More faces than this (an image folder of crowds) are summed up in one line."""


@dataclass
class FaceTally:
    """One face ID: the frames it was seen in, and what was shown for it."""

    face_id: int
    frames: int = 0
    shown: Counter = field(default_factory=Counter)
    """Frames per emotion shown."""
    times: list[float] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    """Smoothed probabilities per frame, kept only when a plot is wanted."""
    centre_sum: np.ndarray = field(default_factory=lambda: np.zeros(2))
    """Sum over its frames of the box centre as a fraction of the frame's width and height."""

    @property
    def position(self) -> str:
        """Where the face mostly was in the frame: "top left", "centre", "bottom right"..."""
        x, y = self.centre_sum / max(self.frames, 1)
        row = "top" if y < 1 / 3 else "bottom" if y > 2 / 3 else ""
        column = "left" if x < 1 / 3 else "right" if x > 2 / 3 else ""
        return " ".join(filter(None, (row, column))) or "centre"

    def shares(self) -> list[tuple[str, float]]:
        """(emotion, share of this face's frames), most frequent first."""
        return [(label, count / self.frames) for label, count in self.shown.most_common()]


class RunTally:
    """Counts a run's results as they come; keeps each face's series when ``keep_series``."""

    def __init__(self, source_kind: str, keep_series: bool = False) -> None:
        self.axis = source_kind if source_kind in ("video", "folder") else "live"
        self.keep_series = keep_series
        self.labels: tuple[str, ...] = ()
        self.frames = 0
        self.frames_without_face = 0
        self.faces: dict[int, FaceTally] = {}
        self._first_monotonic: float | None = None
        self._other_labels_seen = False

    @property
    def axis_title(self) -> str:
        return TIME_AXES[self.axis]

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        if not result.faces:
            self.frames_without_face += 1
            return
        if not self.labels:
            self.labels = result.labels
        elif result.labels != self.labels:  # headless runs one model; never mix two in a series
            if not self._other_labels_seen:
                log.warning("the model's labels changed mid-run; faces after the change are "
                            "not in the summary or the plot (they are in the CSV)")
                self._other_labels_seen = True
            return
        time_s = self._time(result)
        for face in result.faces:
            tally = self.faces.setdefault(face.face_id, FaceTally(face.face_id))
            tally.frames += 1
            height, width = result.frame.image.shape[:2]
            x, y, box_width, box_height = face.box
            tally.centre_sum += ((x + box_width / 2) / width, (y + box_height / 2) / height)
            tally.shown[face.top_label if face.readable else UNREADABLE] += 1
            if self.keep_series and face.readable:  # a gap in the plot, not a NaN in its line
                tally.times.append(time_s)
                tally.values.append(np.asarray(face.smoothed, np.float32))

    def _time(self, result: FrameResult) -> float:
        """Where the frame sits on the plot's axis: as the CSV's ``source_s`` for a video."""
        frame = result.frame
        if self.axis == "video" and frame.source_ms is not None:
            return frame.source_ms / 1000.0
        if self.axis == "folder":
            return float(frame.index)
        if self._first_monotonic is None:
            self._first_monotonic = frame.monotonic_s
        return frame.monotonic_s - self._first_monotonic

    def seen_longest(self, count: int) -> list[FaceTally]:
        """The ``count`` faces seen in the most frames, in ID order."""
        longest = sorted(self.faces.values(), key=lambda face: (-face.frames, face.face_id))[:count]
        return sorted(longest, key=lambda face: face.face_id)


def summary_text(tally: RunTally, most_listed: int = MOST_FACES_LISTED) -> str:
    """The end-of-run summary, e.g. ``face 1: 812 frames, happy 61%, neutral 30%``."""
    ids = sorted(tally.faces)
    id_text = ", ".join(map(str, ids[:most_listed])) + (", ..." if len(ids) > most_listed else "")
    faces = f"{len(ids)} face{'s' * (len(ids) != 1)} seen" + (
        f" (ID{'s' * (len(ids) != 1)} {id_text})" if ids else "")
    lines = [f"{tally.frames} frame{'s' * (tally.frames != 1)} analysed: {faces}, "
             f"{tally.frames_without_face} frame{'s' * (tally.frames_without_face != 1)} "
             "without a face."]
    if ids:
        lines.append("Emotion shown (smoothed, as the window names it), share of each face's frames:")
    listed = tally.seen_longest(most_listed)
    lines += [_face_line(face, face.position if len(ids) > 1 else "") for face in listed]
    if len(ids) > len(listed):
        rest = len(ids) - len(listed)
        lines.append(f"... and {rest} more face{'s' * (rest != 1)} seen in fewer frames (all are "
                     "in the CSV).")
    return "\n".join(lines)


def _face_line(face: FaceTally, where: str = "") -> str:
    """``face 1 (top left): 812 frames, happy 61%, neutral 30%``; ``where`` says which is which."""
    shares = ", ".join(f"{label} {share:.0%}" for label, share in face.shares())
    place = f" ({where})" if where else ""
    return f"face {face.face_id}{place}: {face.frames} frame{'s' * (face.frames != 1)}, {shares}"


def recorded_face_lines(path: str | Path, most_listed: int = MOST_FACES_LISTED) -> list[str]:
    """The summary's line for each face of a recorded timeline CSV (``emotion-app batch``
    prints them per file, as ``--headless`` prints its summary), from its face rows'
    ``top_emotion_smoothed``; the faces seen in the most rows, in ID order."""
    faces: dict[int, FaceTally] = {}
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            if row.get(ROW_TYPE.name) != FACE_ROW or not row.get(FACE_ID.name):
                continue
            face = faces.setdefault(int(row[FACE_ID.name]), FaceTally(int(row[FACE_ID.name])))
            face.frames += 1
            face.shown[row.get(SHOWN.name) or UNREADABLE] += 1
    longest = sorted(faces.values(), key=lambda face: (-face.frames, face.face_id))[:most_listed]
    return [_face_line(face) for face in sorted(longest, key=lambda face: face.face_id)]
