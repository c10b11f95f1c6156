"""Calibration after the fact: a recorded timeline CSV corrected for each face's neutral
baseline, taken from a time range or from the seconds after a marker.

Each face gets its own baseline, from its own rows in the range (``app.face.baseline``,
the same correction the window applies live). The output is the same CSV, every row and
raw cell kept, with the calibrated columns filled (``calibrated_<emotion>``,
``valence_calibrated``) and ``baseline`` naming where the baseline came from. It is
written beside and renamed into place, so a failure leaves no half file.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from app.face.baseline import DEFAULT_SECONDS, Baseline
from app.face.valence import valence
from app.output.csv_cells import safe_cell
from app.output.timeline_columns import (
    BASELINE,
    CALIBRATED,
    FACE_ID,
    FACE_ROW,
    ROW_TYPE,
    T_SECONDS,
    VALENCE_CALIBRATED,
    timeline_columns,
)
from app.output.timeline_file import TimelineFile, number, read_timeline
from app.system.output_files import write_bytes_staged

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimeRange:
    """Where a baseline comes from, in the CSV's ``t_seconds``, and how the CSV names it."""

    start_s: float
    end_s: float
    name: str


def baseline_range(timeline: TimelineFile, start_s: float | None = None, end_s: float | None = None,
                   marker: str | None = None, seconds: float = DEFAULT_SECONDS) -> TimeRange:
    """The range ``start_s`` to ``end_s``, or the ``seconds`` after the first marker labelled
    ``marker``; ValueError for a missing marker, an empty range, or both or neither given."""
    if (marker is None) == (start_s is None or end_s is None):
        raise ValueError("give a time range (--from and --to, in t_seconds) or a marker "
                         "(--marker LABEL), not both")
    if marker is not None:
        times = [time for time, label in timeline.markers if label == marker]
        if not times:
            labels = sorted({label for _, label in timeline.markers})
            raise ValueError(f"{timeline.path} has no marker {marker!r} (its markers: "
                             f"{', '.join(map(repr, labels)) or 'none'})")
        if not seconds > 0:
            raise ValueError(f"--seconds must be more than 0, got {seconds}")
        return TimeRange(times[0], times[0] + seconds, f"marker {marker!r} + {seconds:g} s")
    if not end_s > start_s:
        raise ValueError(f"the range must end after it starts, got {start_s:g} to {end_s:g} s")
    return TimeRange(start_s, end_s, f"t {start_s:g}-{end_s:g} s")


def face_baselines(timeline: TimelineFile, span: TimeRange) -> dict[int, Baseline]:
    """Each face's baseline from its own readable rows in ``span``; ValueError when no face
    has one there."""
    baselines = {}
    for face_id in timeline.face_ids:
        rows = [row for row in timeline.face_rows(face_id)
                if span.start_s <= number(row[T_SECONDS.name]) <= span.end_s]
        try:
            baselines[face_id] = Baseline.from_probabilities(
                timeline.probabilities(rows), timeline.labels,
                f"{span.name} (face {face_id}, {len(rows)} frames)")
        except ValueError:
            continue
    if not baselines:
        raise ValueError(f"no face of {timeline.path} has a readable row from {span.start_s:g} to "
                         f"{span.end_s:g} s (t_seconds): nothing to take a baseline from")
    return baselines


def calibrated_text(timeline: TimelineFile, baselines: dict[int, Baseline]) -> str:
    """The CSV with each face's rows corrected by its baseline (faces without one as they were)."""
    header = timeline_columns(timeline.labels, timeline.members)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, restval="", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for original in timeline.rows:
        row = dict(original)
        face = original[ROW_TYPE.name] == FACE_ROW and original[FACE_ID.name]
        baseline = baselines.get(int(original[FACE_ID.name])) if face else None
        if baseline is not None:
            corrected = baseline.correct(timeline.probabilities([row])[0])
            row.update({CALIBRATED.named(label): f"{value:.6f}" if value == value else ""
                        for label, value in zip(timeline.labels, corrected)})
            score = valence(corrected, timeline.labels)
            row[VALENCE_CALIBRATED.name] = f"{score:.4f}" if score == score else ""
            row[BASELINE.name] = baseline.name
        writer.writerow({name: safe_cell(cell) for name, cell in row.items()})
    return buffer.getvalue()


def calibrate_csv(path: str | Path, out: str | Path, span: TimeRange | None = None, *,
                  overwrite: bool = False, **range_options) -> dict[int, Baseline]:
    """Write ``path`` calibrated to ``out``; the baselines used, by face. ``span`` or
    ``range_options`` (``baseline_range``'s) say where the baselines come from. ValueError
    for a bad CSV or range, or an existing ``out`` without ``overwrite``; OSError when
    writing fails (an earlier ``out`` stays whole)."""
    timeline = read_timeline(path)
    out = Path(out).expanduser()
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists (pass --overwrite to replace it)")
    span = span or baseline_range(timeline, **range_options)
    baselines = face_baselines(timeline, span)
    for face_id in sorted(set(timeline.face_ids) - set(baselines)):
        log.warning("face %d has no readable row in %s: its rows stay uncalibrated", face_id, span.name)
    write_bytes_staged(out, calibrated_text(timeline, baselines).encode("utf-8"))
    return baselines
