"""What the pipeline hands out: one ``FrameResult`` per analysed frame, and ``Event``s.

Plain frozen values, safe to pass from the worker thread to a GUI thread (the frame
image is not written to after the result is made). Nothing here refers back to the
pipeline's internals.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from app.face.baseline import Baseline
from app.face.quality import FaceQuality
from app.face.steady import Steadiness
from app.face.valence import valence

UNREADABLE = "\u2014"
"""Shown instead of a percentage where the model gave no finite number (NaN, infinity)."""


def percent_text(value: float, missing: str = UNREADABLE) -> str:
    """"87%", or ``missing`` for a value that is not a finite number (an unreadable face)."""
    return f"{value:.0%}" if math.isfinite(value) else missing


class EventKind(str, Enum):
    SOURCE_ENDED = "source_ended"
    """A video or image folder has no more frames; the run ends. ``details``: source,
    frames, ``ended_early`` (True when a video stopped decoding before its last frame)."""
    SOURCE_LOST = "source_lost"
    """A camera or stream stopped delivering frames; ``Pipeline.restart_source()`` reopens it."""
    SOURCE_RESTARTED = "source_restarted"
    MODEL_CHANGED = "model_changed"
    """A swap took effect; ``details``: name, path, provider."""
    RECORDING_STARTED = "recording_started"
    RECORDING_STOPPED = "recording_stopped"
    """``details``: path, rows."""
    RECORDING_FAILED = "recording_failed"
    """Writing the CSV failed (disk full, drive gone); recording stopped, the rows written
    before the failure are kept. ``details``: path, rows."""
    ERROR = "error"
    """An unexpected failure on the worker thread; the run ends."""


@dataclass(frozen=True)
class Event:
    kind: EventKind
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    monotonic_s: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Frame:
    image: np.ndarray
    """BGR uint8 (H, W, 3); gray images are read as three equal channels."""
    index: int
    """0-based count of frames this source delivered (for a video: the frame number)."""
    monotonic_s: float
    """``time.monotonic()`` when the frame was captured."""
    wall_time: datetime
    """Wall-clock capture time, timezone-aware (local zone)."""
    source_ms: float | None = None
    """Position in a video file, in milliseconds; None for cameras, streams and images."""
    source_file: str | None = None
    """File name, for frames from an image folder."""
    decode_ms: float = 0.0
    """Time spent reading and decoding this frame."""


@dataclass(frozen=True)
class FaceResult:
    face_id: int
    """Stable while the face stays in view; never reused within a run."""
    box: tuple[float, float, float, float]
    """x, y, width, height in frame pixels."""
    anchors: Mapping[str, tuple[float, float]]
    landmarks: str
    """``mesh`` (478-point face mesh) or ``detector`` (keypoints only)."""
    labels: tuple[str, ...]
    probabilities: np.ndarray
    """Raw softmax of this frame's logits, in ``labels`` order; all NaN when the model gave
    non-finite outputs for this face (``readable`` False)."""
    smoothed: np.ndarray
    """Per-face exponential moving average of ``probabilities`` (equal when smoothing is 0);
    all NaN for an unreadable frame, which leaves the average as it was."""
    quality: FaceQuality
    shown_index: int | None = None
    """Index of the emotion shown, held by hysteresis (``app.face.steady``); None: the top smoothed."""
    member_names: tuple[str, ...] = ()
    """An ensemble's members; () for a single model."""
    member_probabilities: np.ndarray | None = None
    """(M, K) each member's raw probabilities for this frame, in ``labels`` order."""
    baseline: Baseline | None = None
    """The face's neutral baseline (``app.face.baseline``); None: not calibrated."""
    calibrated: np.ndarray | None = None
    """This frame's ``probabilities`` corrected for ``baseline``; None when not calibrated."""
    calibrated_smoothed: np.ndarray | None = None
    """The steady read of ``calibrated``, which the window shows for a calibrated face."""
    calibrated_shown: int | None = None
    calibrating: bool = False
    """A baseline is being recorded from this face's frames."""
    views: str = "none"
    """The test-time views setting that produced ``probabilities`` (``app.model.views.SETTINGS``)."""
    fresh: bool = True
    """Whether the model read this face in this frame; False live when the schedule
    (``app.read_schedule``) kept its last read: then ``probabilities``, ``quality`` and
    ``views`` are that read's, ``read_age_ms`` old."""
    read_age_ms: float = 0.0

    @property
    def readable(self) -> bool:
        """False when the model's outputs for this face were not finite numbers (NaN,
        infinity): no emotion is shown for it, and "\u2014" instead of each percentage."""
        return bool(np.isfinite(self.probabilities).all() and np.isfinite(self.smoothed).all())

    @property
    def shown_values(self) -> np.ndarray:
        """What the face's panel shows: the calibrated steady read once calibrated, else
        ``smoothed``."""
        return self.smoothed if self.calibrated_smoothed is None else self.calibrated_smoothed

    @property
    def shown_top_index(self) -> int:
        if self.calibrated_smoothed is None:
            return self.top_index
        if self.calibrated_shown is None:
            return int(np.argmax(self.calibrated_smoothed))
        return self.calibrated_shown

    @property
    def calibrated_valence(self) -> float:
        """The valence of ``calibrated``; NaN when not calibrated."""
        return math.nan if self.calibrated is None else valence(self.calibrated, self.labels)

    @property
    def valence(self) -> float:
        """This frame's valence, -1 to 1 (``app.face.valence``); NaN when unreadable."""
        return valence(self.probabilities, self.labels)

    @property
    def smoothed_valence(self) -> float:
        """The valence of the smoothed read."""
        return valence(self.smoothed, self.labels)

    @property
    def top_index(self) -> int:
        return int(np.argmax(self.smoothed)) if self.shown_index is None else self.shown_index

    @property
    def top_label(self) -> str:
        """The emotion shown: the smoothed top one, changed only past the hysteresis; ""
        for an unreadable face."""
        return self.labels[self.top_index] if self.readable else ""

    @property
    def top_probability(self) -> float:
        """The smoothed probability of the emotion shown; NaN for an unreadable face."""
        return float(self.smoothed[self.top_index]) if self.readable else math.nan

    @property
    def member_top_labels(self) -> tuple[str, ...]:
        """Each member's own top emotion this frame ("" for a member whose outputs were not
        finite); () for a single model."""
        if self.member_probabilities is None:
            return ()
        return tuple(self.labels[int(np.argmax(row))] if np.isfinite(row).all() else ""
                     for row in self.member_probabilities)

    def agreeing_members(self, label: str) -> int:
        """How many members' own top emotion this frame is ``label`` (0 for "")."""
        return sum(top == label for top in self.member_top_labels) if label else 0

    @property
    def agreement_text(self) -> str:
        """"4/5 agree": members whose own top emotion this frame is the one shown. When none
        is, what most of them give instead ("members: happy 2/3"): the read is changing or
        unsure, so the emotion named is worth less than the bars. "" for a single model or
        an unreadable face."""
        tops = self.member_top_labels
        if not tops or not self.readable:
            return ""
        agreeing = self.agreeing_members(self.top_label)
        if agreeing:
            return f"{agreeing}/{len(tops)} agree"
        given = [label for label in self.labels if label in tops]
        if not given:  # no member gave numbers
            return f"0/{len(tops)} agree"
        most = max(given, key=tops.count)  # the first in label order on a tie
        return f"members: {most} {tops.count(most)}/{len(tops)}"


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds per stage for one frame; ``align`` includes gamma and quality."""

    decode: float = 0.0
    landmarks: float = 0.0
    align: float = 0.0
    infer: float = 0.0
    track: float = 0.0
    csv: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, stage) for stage in STAGES)


STAGES: tuple[str, ...] = tuple(stage.name for stage in fields(StageTimings))
"""The stage names, in pipeline order."""


@dataclass(frozen=True)
class RecordingStatus:
    path: Path
    rows: int
    elapsed_s: float


@dataclass(frozen=True)
class FrameResult:
    frame: Frame
    """The analysed frame: ``image`` for display, ``index``, times, ``source_ms``."""
    faces: tuple[FaceResult, ...]
    model_name: str
    labels: tuple[str, ...]
    provider: str
    timings: StageTimings
    fps: float
    """Frames analysed per second over the last second or so."""
    dropped_frames: int
    """Frames the capture thread replaced before they could be analysed, since the start."""
    recording: RecordingStatus | None = None
    steadiness: Steadiness | None = None
    """The smoothing and hysteresis the faces' steady reads were made with."""


@dataclass(frozen=True)
class RunSummary:
    frames: int
    faces: int
    ended_by: Event | None
    """The event that ended the run (source ended, error), None when a stop ended it."""
