"""A recorded timeline CSV read back whole, by the column names ``app.output.timeline_columns``
declares: for the offline calibration (``app.output.calibrate_csv``) and the session
report (``app.output.report``)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.output.csv_cells import plain_cell
from app.output.timeline_columns import (
    FACE_ID,
    FACE_ROW,
    MARKER,
    MARKER_ROW,
    RAW,
    ROW_TYPE,
    T_SECONDS,
    header_items,
)


@dataclass(frozen=True)
class TimelineFile:
    """Every row of a timeline CSV as text cells by column name (formula guards undone)."""

    path: Path
    header: tuple[str, ...]
    labels: tuple[str, ...]
    members: tuple[str, ...]
    rows: tuple[dict[str, str], ...]

    def face_rows(self, face_id: int | None = None) -> list[dict[str, str]]:
        """The face rows, of one face or of all, in file order."""
        return [row for row in self.rows if row[ROW_TYPE.name] == FACE_ROW and row[FACE_ID.name]
                and (face_id is None or int(row[FACE_ID.name]) == face_id)]

    @property
    def face_ids(self) -> list[int]:
        return sorted({int(row[FACE_ID.name]) for row in self.face_rows()})

    @property
    def markers(self) -> list[tuple[float, str]]:
        """(t_seconds, label) of each marker row."""
        return [(number(row[T_SECONDS.name]), row.get(MARKER.name, ""))
                for row in self.rows if row[ROW_TYPE.name] == MARKER_ROW]

    def values(self, rows: list[dict[str, str]], column_name: str) -> np.ndarray:
        """(N,) numbers of one column; NaN for an empty cell."""
        return np.array([number(row.get(column_name, "")) for row in rows], np.float64)

    def probabilities(self, rows: list[dict[str, str]], prefix_column=RAW) -> np.ndarray:
        """(N, K) one probability column per label (``p_`` by default)."""
        return np.stack([self.values(rows, prefix_column.named(label)) for label in self.labels],
                        axis=1) if rows else np.empty((0, len(self.labels)))


def read_timeline(path: str | Path) -> TimelineFile:
    """A CSV ``app.output.timeline_csv`` wrote; ValueError saying why a file is not one."""
    path = Path(path).expanduser()
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            header = tuple(reader.fieldnames or ())
            rows = tuple({name: plain_cell(cell or "") for name, cell in row.items() if name is not None}
                         for row in reader)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    labels, members = header_items(header)
    missing = {ROW_TYPE.name, T_SECONDS.name, FACE_ID.name} - set(header)
    if missing or not labels:
        raise ValueError(f"{path} is not an emotion timeline (no "
                         f"{', '.join(sorted(missing)) or RAW.name} column)")
    return TimelineFile(path, header, labels, members, rows)


def number(text: str | None) -> float:
    try:
        return float(text) if text else math.nan
    except ValueError:
        return math.nan
