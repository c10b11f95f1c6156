"""What a session report says about each face of a timeline CSV: frames seen and missing,
low-quality frames, the emotion shown, mean valence, baselines; and the run's time axis.

Low quality (``QUALITY``) is judged from the CSV's quality columns with fixed, stated
limits: a face whose eyes are under ``SMALL_EYE_DISTANCE_PX`` apart is small; one turned
more than ``TURNED_DEG`` in yaw or pitch is turned away; one whose sharpness is under
``BLURRED_SHARE`` of that face's median is blurred (the blur figure depends on the
model's input size, so it is judged against the face's own frames).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from app.face.valence import valence
from app.output.timeline_columns import MARKER_ROW, ROW_TYPE, SMOOTHED, T_SECONDS
from app.output.timeline_file import TimelineFile, number

SMALL_EYE_DISTANCE_PX = 20.0
TURNED_DEG = 30.0
BLURRED_SHARE = 0.25
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FaceSummary:
    face_id: int
    frames_seen: int
    frames_missing: int
    """Frames of the run without a row for this face."""
    quality_counts: dict[str, int]
    """Low-quality reason -> frames, and any of them."""
    shown: Counter
    """Emotion shown (``top_emotion_smoothed``) -> frames."""
    mean_valence: float
    """Of the smoothed read (as ``valence_smoothed``, made again so older CSVs have it
    too); NaN when the labels give none."""
    baselines: tuple[str, ...]


def face_summaries(timeline: TimelineFile) -> list[FaceSummary]:
    frames = run_frames(timeline)
    return [_summary(timeline, face_id, frames) for face_id in timeline.face_ids]


def _summary(timeline: TimelineFile, face_id: int, frames: int) -> FaceSummary:
    rows = timeline.face_rows(face_id)
    seen = len({row.get("frame_index") or row[T_SECONDS.name] for row in rows})
    eyes = timeline.values(rows, "eye_distance_px")
    turned = np.fmax(np.abs(timeline.values(rows, "yaw_deg")), np.abs(timeline.values(rows, "pitch_deg")))
    blur = timeline.values(rows, "blur_laplacian_var")
    median_blur = float(np.nanmedian(blur)) if np.isfinite(blur).any() else math.nan
    with np.errstate(invalid="ignore"):
        reasons = {f"small (eyes under {SMALL_EYE_DISTANCE_PX:g} px apart)": eyes < SMALL_EYE_DISTANCE_PX,
                   f"turned away (yaw or pitch over {TURNED_DEG:g} degrees)": turned > TURNED_DEG,
                   f"blurred (sharpness under {BLURRED_SHARE:.0%} of the face's median)":
                       blur < BLURRED_SHARE * median_blur}
    counts = {reason: int(flags.sum()) for reason, flags in reasons.items()}
    counts["any of these"] = int(np.logical_or.reduce(list(reasons.values())).sum()) if rows else 0
    valences = np.asarray(valence(timeline.probabilities(rows, SMOOTHED), timeline.labels))
    return FaceSummary(
        face_id, seen, max(frames - seen, 0), counts,
        Counter(row.get("top_emotion_smoothed") or UNREADABLE for row in rows),
        float(np.nanmean(valences)) if np.isfinite(valences).any() else math.nan,
        tuple(sorted({row.get("baseline", "") for row in rows} - {""})))


def run_frames(timeline: TimelineFile) -> int:
    """Frames the run spans: by frame number where the CSV has one, else distinct times."""
    indices = [number(row.get("frame_index")) for row in timeline.rows]
    indices = [index for index in indices if math.isfinite(index)]
    if indices:
        return int(max(indices) - min(indices)) + 1
    return len({row[T_SECONDS.name] for row in timeline.face_rows()})


def time_axis(timeline: TimelineFile, rows: list[dict[str, str]] | None) -> tuple[np.ndarray, str]:
    """(times, what they are) of ``rows``, or of the markers when None: the position in the
    video (``source_s``) when every face row has one, else ``t_seconds`` since recording
    started."""
    faces = timeline.face_rows()
    video = bool(faces) and all(row.get("source_s") for row in faces)
    column, basis = ("source_s", "position in the video") if video else (T_SECONDS.name, "t_seconds")
    if rows is None:
        rows = [row for row in timeline.rows if row[ROW_TYPE.name] == MARKER_ROW]
    return timeline.values(rows, column), basis


