"""The CSV timeline's columns, each declared once: its name, what it means, how its cell
is made.

The writer (``app.output.timeline_csv``) builds every row by column name from
``TABLE``, the timeline panel (``app.gui.timeline_data``) reads the names back from it,
and README.md's column table is rendered from it (``scripts/update_readme.py``), so the
three cannot drift apart. Units are in the names; a cell is empty where its value does
not apply: face columns on a marker row, the ensemble columns of a single model, the
probabilities of a face the model gave no finite numbers for (``FaceResult.readable``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from app.results import FaceResult, FrameResult

FACE_ROW, MARKER_ROW = "face", "marker"
"""The values of ``row_type``."""
PLACEHOLDERS = ("<emotion>", "<member>")
"""A name holding one stands for a column per model label, or per ensemble member."""


@dataclass(frozen=True)
class Moment:
    """When a row happened: its wall-clock time, seconds since recording started, and
    where the source was (None where it gives no frame number or video position)."""

    wall_time: datetime
    seconds: float
    frame_index: int | None
    source_ms: float | None


class FaceRow:
    """One face of one frame, its values looked up by label and by member once for all
    their columns."""

    row_type = FACE_ROW

    def __init__(self, moment: Moment, result: FrameResult, face: FaceResult) -> None:
        self.moment, self.result, self.face = moment, result, face
        self.raw = dict(zip(face.labels, face.probabilities))
        self.smoothed = dict(zip(face.labels, face.smoothed))
        self.calibrated = {} if face.calibrated is None else dict(zip(face.labels, face.calibrated))
        self.member_tops = dict(zip(face.member_names, face.member_top_labels))
        self.raw_top = face.labels[int(np.argmax(face.probabilities))] if face.readable else ""
        """This frame's own top emotion; "" for an unreadable face."""


@dataclass(frozen=True)
class MarkerRow:
    """An event marker: its label at a moment; every face column stays empty."""

    moment: Moment
    label: str
    row_type = MARKER_ROW


Row = FaceRow | MarkerRow


@dataclass(frozen=True)
class Column:
    """``name`` may hold a placeholder (``p_<emotion>``): then ``cell`` takes the label or
    member as well as the row. ``rows``: the row types whose cell it fills."""

    name: str
    cell: Callable[..., object]
    rows: tuple[str, ...] = (FACE_ROW,)

    @property
    def placeholder(self) -> str | None:
        return next((placeholder for placeholder in PLACEHOLDERS if placeholder in self.name), None)

    def named(self, item: str) -> str:
        """The name of this column for one label or member (``p_happy``)."""
        return self.name.replace(self.placeholder, item)

    def item(self, name: str) -> str | None:
        """The label or member in a name this column makes; None for another column's (by
        the pattern alone: ``top_emotion`` fits ``top_<member>``)."""
        prefix, _, suffix = self.name.partition(self.placeholder)
        if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix + suffix):
            return name[len(prefix):len(name) - len(suffix)]
        return None


@dataclass(frozen=True)
class Group:
    """Columns explained together: one line of README.md's table."""

    meaning: str
    columns: tuple[Column, ...]
    ensembles_only: bool = False


def _optional(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _probability(value: float) -> str:
    """A probability cell; empty, never "nan", where the model gave no finite number."""
    return f"{value:.6f}" if math.isfinite(value) else ""


def _by_label(values: dict[str, float], label: str) -> str:
    """A model with other labels than the recording's, or a face without a baseline (for the
    calibrated columns), leaves their cells empty."""
    return _probability(values[label]) if label in values else ""


def _valence(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else ""


def _steadiness(attribute: str) -> Callable[[FaceRow], str]:
    def cell(row: FaceRow) -> str:
        steadiness = row.result.steadiness
        return "" if steadiness is None else f"{getattr(steadiness, attribute):g}"
    return cell


def _agreement(row: FaceRow) -> str:
    if not (row.member_tops and row.raw_top):
        return ""
    return f"{row.face.agreeing_members(row.raw_top) / len(row.member_tops):.3f}"


EVERY_ROW = (FACE_ROW, MARKER_ROW)
# The columns other modules read by name; the rest are declared in TABLE alone.
ROW_TYPE = Column("row_type", lambda row: row.row_type, EVERY_ROW)
T_SECONDS = Column("t_seconds", lambda row: f"{row.moment.seconds:.3f}", EVERY_ROW)
FACE_ID = Column("face_id", lambda row: row.face.face_id)
RAW = Column("p_<emotion>", lambda row, label: _by_label(row.raw, label))
SMOOTHED = Column("smoothed_<emotion>", lambda row, label: _by_label(row.smoothed, label))
VALENCE = Column("valence", lambda row: _valence(row.face.valence))
VALENCE_SMOOTHED = Column("valence_smoothed", lambda row: _valence(row.face.smoothed_valence))
CALIBRATED = Column("calibrated_<emotion>", lambda row, label: _by_label(row.calibrated, label))
VALENCE_CALIBRATED = Column("valence_calibrated", lambda row: _valence(row.face.calibrated_valence))
BASELINE = Column("baseline", lambda row: row.face.baseline.name if row.face.baseline else "")
SHOWN = Column("top_emotion_smoothed", lambda row: row.face.top_label)
MARKER = Column("marker", lambda row: row.label, (MARKER_ROW,))
TOP_MEMBER = Column("top_<member>", lambda row, member: row.member_tops.get(member, ""))

TABLE: tuple[Group, ...] = (
    Group("`face` or `marker` (then `marker` holds the label)", (ROW_TYPE,)),
    Group("ISO 8601, milliseconds and UTC offset: when the app read the frame (what that means "
          "per source: below)",
          (Column("wall_time", lambda row: row.moment.wall_time.isoformat(timespec="milliseconds"),
                  EVERY_ROW),)),
    Group("the same moment in monotonic seconds since recording started (immune to clock changes)",
          (T_SECONDS,)),
    Group("the frame's number in the source, from 0: a video's frame number, an image's place in "
          "its folder (name order), a camera's count of frames since it opened",
          (Column("frame_index", lambda row: "" if row.moment.frame_index is None
                  else row.moment.frame_index, EVERY_ROW),)),
    Group("videos only: where the frame is in the video, in milliseconds and in seconds: its "
          "timestamp from the start of the file, as a player shows it (the decoder's, so right for "
          "variable frame rates too; kept increasing where a file repeats one)",
          (Column("source_ms", lambda row: _optional(row.moment.source_ms), EVERY_ROW),
           Column("source_s", lambda row: "" if row.moment.source_ms is None
                  else f"{row.moment.source_ms / 1000.0:.3f}", EVERY_ROW))),
    Group("image folders only: the image's file name",
          (Column("source_file", lambda row: row.result.frame.source_file or ""),)),
    Group("stable while the face stays in view; never reused in a run", (FACE_ID,)),
    Group("face box in frame pixels",
          (Column("box_x_px", lambda row: f"{row.face.box[0]:.1f}"),
           Column("box_y_px", lambda row: f"{row.face.box[1]:.1f}"),
           Column("box_w_px", lambda row: f"{row.face.box[2]:.1f}"),
           Column("box_h_px", lambda row: f"{row.face.box[3]:.1f}"))),
    Group("this frame's probabilities, in the model card's label order",
          (RAW,
           Column("top_emotion", lambda row: row.raw_top),
           Column("top_probability", lambda row: _probability(float(np.max(row.face.probabilities)))))),
    Group("the model card's test-time views that made this row's probabilities: `none` (the crop "
          "once), `mirror` (the crop and its mirror image), `all` (every view the card chose on "
          "validation data; see `--views`)",
          (Column("views", lambda row: row.face.views),)),
    Group("`1` where the model read this face in this frame; `0` where a live run's frame budget "
          "kept its last read (every face is read at least 10 times a second: `app/read_schedule.py`): "
          "then the probabilities, `views` and quality columns are that read's, made `read_age_ms` "
          "milliseconds earlier (0 for a fresh read); the box, the landmarks and `face_id` are always "
          "this frame's",
          (Column("read_fresh", lambda row: int(row.face.fresh)),
           Column("read_age_ms", lambda row: f"{row.face.read_age_ms:.0f}"))),
    Group("the per-face moving average the window shows, and the emotion it names (held by the "
          "hysteresis)",
          (SMOOTHED, SHOWN)),
    Group("valence, -1 to 1: happy minus the strongest of angry, disgust, fear and sad (a summary "
          "of the probabilities, not a measurement of its own; see [Valence](#valence)), of this "
          "frame and of the smoothed read",
          (VALENCE, VALENCE_SMOOTHED)),
    Group("calibrated faces only: this frame's probabilities corrected for the face's neutral "
          "baseline, their valence, and the baseline's name (the face and time range, or the marker, "
          "it was taken from; see [Calibration](#calibration))",
          (CALIBRATED, VALENCE_CALIBRATED, BASELINE)),
    Group("the smoothing time constant and the hysteresis those were made with",
          (Column("smoothing_s", _steadiness("time_constant_s")),
           Column("switch_margin", _steadiness("switch_margin")),
           Column("switch_hold_s", _steadiness("switch_hold_s")))),
    Group("ensembles only: the share of members whose own top emotion is `top_emotion`, and each "
          "member's top emotion",
          (Column("agreement", _agreement),
           TOP_MEMBER),
          ensembles_only=True),
    Group("model file; `mesh` or `detector` (fallback for tiny faces)",
          (Column("model", lambda row: row.result.model_name),
           Column("landmarks", lambda row: row.face.landmarks))),
    Group("quality: face size, mean brightness, adaptive gamma applied, head pose, sharpness",
          (Column("eye_distance_px", lambda row: f"{row.face.quality.eye_distance_px:.1f}"),
           Column("brightness_0to1", lambda row: f"{row.face.quality.brightness:.4f}"),
           Column("gamma", lambda row: f"{row.face.quality.gamma:.3f}"),
           Column("yaw_deg", lambda row: _optional(row.face.quality.yaw_deg)),
           Column("pitch_deg", lambda row: _optional(row.face.quality.pitch_deg)),
           Column("blur_laplacian_var", lambda row: f"{row.face.quality.blur:.1f}"))),
    Group("marker rows only: the marker's label", (MARKER,)),
)


def columns_for(labels: Sequence[str], members: Sequence[str] = ()) -> tuple[Column, ...]:
    """The columns of one recording, in header order, with names and cells made for its
    ``labels`` and, for an ensemble, its ``members`` (their columns only then)."""
    items = {"<emotion>": tuple(labels), "<member>": tuple(members)}
    columns = []
    for group in TABLE:
        if group.ensembles_only and not members:
            continue
        for column in group.columns:
            if column.placeholder is None:
                columns.append(column)
            else:
                columns += [Column(column.named(item), _bound(column.cell, item), column.rows)
                            for item in items[column.placeholder]]
    names = [column.name for column in columns]
    if len(set(names)) != len(names):  # a card's check keeps member names from doing this
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"labels {list(labels)} and members {list(members)} repeat the columns {repeated}")
    return tuple(columns)


def timeline_columns(labels: Sequence[str], members: Sequence[str] = ()) -> list[str]:
    """The header of a recording with these ``labels`` and ensemble ``members``."""
    return [column.name for column in columns_for(labels, members)]


def header_items(header: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(labels, ensemble members) of a recorded CSV's header, read back by the columns'
    patterns: ``p_<emotion>`` gives the labels, ``top_<member>`` the members."""
    labels = tuple(label for label in map(RAW.item, header) if label is not None)
    known = set(timeline_columns(labels))
    members = tuple(member for name in header if name not in known
                    for member in [TOP_MEMBER.item(name)] if member is not None)
    return labels, members


def row_cells(columns: Sequence[Column], row: Row) -> dict[str, object]:
    """Every column's cell for ``row``, by name; empty where the column is not for its type."""
    return {column.name: column.cell(row) if row.row_type in column.rows else ""
            for column in columns}


def markdown_table() -> str:
    """README.md's table: one line per group, its columns and their meaning."""
    lines = ["| column | meaning |", "| --- | --- |"]
    lines += [f"| {', '.join(f'`{column.name}`' for column in group.columns)} | {group.meaning} |"
              for group in TABLE]
    return "\n".join(lines)


def _bound(cell: Callable[[Row, str], object], item: str) -> Callable[[Row], object]:
    return lambda row: cell(row, item)
