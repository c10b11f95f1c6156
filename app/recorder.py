"""The CSV timeline: one row per face per analysed frame, and event markers.

Columns (units in the names; empty cells where a value does not apply):

- ``row_type``: ``face`` or ``marker``; ``marker``: the marker's label.
- ``wall_time`` (ISO 8601 with milliseconds and the UTC offset), ``t_seconds``
  (monotonic seconds since recording started): when the app read the frame, i.e. its
  capture for a camera or stream, processing time for a video; ``frame_index``: the
  frame's number in the source from 0 (a video's frame, a folder's image in name order);
  ``source_ms``, ``source_s``: a video frame's timestamp from the start of the file (the
  decoder's, as players show it, right for variable frame rates), in ms and in s; empty
  for cameras, streams and folders; ``source_file``: the image's name in a folder.
- ``face_id``; ``box_x_px, box_y_px, box_w_px, box_h_px``: the face box in frame pixels.
- ``p_<label>``: the model's probability for each label (raw, this frame only), in the
  model card's label order; ``top_emotion``, ``top_probability``: their maximum. All
  empty for a face the model gave no finite numbers for (``FaceResult.readable``).
- ``smoothed_<label>``, ``top_emotion_smoothed``: the per-face moving average the app
  displays (equal to the raw values when smoothing is off) and the emotion shown, which
  changes only past the hysteresis; ``smoothing_s``, ``switch_margin``,
  ``switch_hold_s``: the time constant and hysteresis they were made with (``app.steady``).
- Ensembles only: ``agreement``, the share of members whose own top emotion this frame
  is ``top_emotion``, and ``top_<member>``, each member's top emotion.
- ``model``; ``landmarks`` (``mesh`` or ``detector``); quality: ``eye_distance_px``,
  ``brightness_0to1``, ``gamma``, ``yaw_deg``, ``pitch_deg``, ``blur_laplacian_var``
  (see ``app.quality``).

Each frame's rows go to the operating system in one unbuffered write, so a crash of
the app loses nothing already analysed; every frame, with faces or without, checks
whether a second has passed since the last sync, so a power cut loses at most about a
second of rows. When a write fails (disk full, drive removed), the file is cut back to
its last complete row, recording stops and the error says so: what was written before
stays readable; when even the header cannot be written, no file is left behind. An
existing file is never replaced unless the caller says so. Text cells are guarded
against spreadsheet formulas (``app.csv_cells``).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import logging
import math
import os
import stat
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from app.csv_cells import safe_cell
from app.results import FrameResult

log = logging.getLogger(__name__)

QUALITY_COLUMNS = ("eye_distance_px", "brightness_0to1", "gamma", "yaw_deg", "pitch_deg",
                   "blur_laplacian_var")
STEADINESS_COLUMNS = ("smoothing_s", "switch_margin", "switch_hold_s")


class RecordingError(RuntimeError):
    """The CSV cannot be written: an unwritable path at the start, or a failure mid-run."""


def timeline_columns(labels: Sequence[str], members: Sequence[str] = ()) -> list[str]:
    """The header; ``members``: an ensemble's member names (their columns only then)."""
    return [
        "row_type", "wall_time", "t_seconds", "frame_index", "source_ms", "source_s", "source_file",
        "face_id", "box_x_px", "box_y_px", "box_w_px", "box_h_px",
        *(f"p_{label}" for label in labels), "top_emotion", "top_probability",
        *(f"smoothed_{label}" for label in labels), "top_emotion_smoothed", *STEADINESS_COLUMNS,
        *(("agreement", *(f"top_{member}" for member in members)) if members else ()),
        "model", "landmarks", *QUALITY_COLUMNS, "marker",
    ]


class CsvRecorder:
    """Writes one timeline CSV; thread-safe (frames from the worker, markers from a GUI)."""

    def __init__(self, path: str | Path, labels: Sequence[str], sync_interval_s: float = 1.0,
                 overwrite: bool = False, members: Sequence[str] = ()) -> None:
        """Create the CSV; raises RecordingError when it cannot, or when ``path`` is an
        existing file and ``overwrite`` is False (its rows are kept). ``members``: an
        ensemble's member names, for the agreement columns."""
        self.path = Path(path).expanduser()
        self.labels = tuple(labels)
        self.members = tuple(members)
        self.columns = timeline_columns(self.labels, self.members)
        self.rows = 0
        self.error: str | None = None
        """The operating system's reason when writing failed (see ``failure``)."""
        self.started_monotonic = time.monotonic()
        self.sync_interval_s = sync_interval_s
        self._lock = threading.Lock()
        self._warned_labels: set[str] = set()
        self._warned_members: set[str] = set()
        self._fd: int | None = _create(self.path, overwrite)
        self._regular_file = stat.S_ISREG(os.fstat(self._fd).st_mode)
        self._good_size = 0
        self._errno: int | None = None
        self._last_sync = time.monotonic()
        self._unsynced = False
        try:
            with self._lock:
                self._write([self.columns], count=False)
        except RecordingError:
            raise RecordingError(self._start_failure()) from None

    @property
    def recording(self) -> bool:
        return self._fd is not None

    @property
    def failure(self) -> str | None:
        """Why and after how many rows writing stopped; None while it works, or after a
        normal ``close``."""
        if self.error is None:
            return None
        return (f"recording to {self.path} stopped after {self.rows} rows: {self.error}; "
                "the rows written before are kept")

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    def write_frame(self, result: FrameResult) -> int:
        """One row per face; returns the number of rows written: 0 for a frame without
        faces, or once the recording was closed. Raises RecordingError when writing fails."""
        if not result.faces:
            with self._lock:  # rows may have stopped coming; the sync must not
                if self._fd is not None:
                    self._sync_if_due()
            return 0
        frame = result.frame
        head = self._time_columns(frame.wall_time.isoformat(timespec="milliseconds"),
                                  frame.monotonic_s, frame.index, frame.source_ms, frame.source_file)
        rows = []
        for face in result.faces:
            raw = self._by_label(face.labels, face.probabilities)
            smoothed = self._by_label(face.labels, face.smoothed)
            quality = face.quality
            rows.append([
                "face", *head, face.face_id, *(f"{value:.1f}" for value in face.box),
                *raw, _raw_top(face), _probability(float(np.max(face.probabilities))),
                *smoothed, face.top_label,
                *_steadiness_cells(result), *self._member_cells(face),
                result.model_name, face.landmarks, f"{quality.eye_distance_px:.1f}",
                f"{quality.brightness:.4f}", f"{quality.gamma:.3f}", _optional(quality.yaw_deg),
                _optional(quality.pitch_deg), f"{quality.blur:.1f}", "",
            ])
        with self._lock:
            if self._fd is None and self.error is None:  # closed meanwhile: nothing to report
                return 0
            self._write(rows)
        return len(rows)

    def write_marker(self, label: str, frame_index: int | None = None,
                     source_ms: float | None = None) -> None:
        """An event marker at the current time (e.g. "stimulus 3 shown")."""
        head = self._time_columns(datetime.now().astimezone().isoformat(timespec="milliseconds"),
                                  time.monotonic(), frame_index, source_ms, None)
        empty = [""] * (len(self.columns) - len(head) - 2)
        with self._lock:
            self._write([["marker", *head, *empty, label]])

    def close(self) -> None:
        """Sync and close; safe to call twice. Raises RecordingError if the final sync fails."""
        with self._lock:
            if self._fd is None:
                return
            try:
                if self._regular_file:
                    os.fsync(self._fd)
            except OSError as error:
                self._fail(error)
            os.close(self._fd)
            self._fd = None
        log.info("recorded %d rows to %s", self.rows, self.path)

    def _time_columns(self, wall_time: str, monotonic_s: float, frame_index: int | None,
                      source_ms: float | None, source_file: str | None) -> list:
        return [wall_time, f"{monotonic_s - self.started_monotonic:.3f}",
                "" if frame_index is None else frame_index, _optional(source_ms),
                "" if source_ms is None else f"{source_ms / 1000.0:.3f}", source_file or ""]

    def _by_label(self, labels: Sequence[str], values: np.ndarray) -> list[str]:
        """Values in the header's label order; a model with other labels leaves gaps."""
        by_label = dict(zip(labels, values))
        unknown = set(by_label) - set(self.labels) - self._warned_labels
        if unknown:
            log.warning("labels %s are not columns of %s; their values are not recorded",
                        sorted(unknown), self.path)
            self._warned_labels |= unknown
        return [_probability(by_label[label]) if label in by_label else "" for label in self.labels]

    def _member_cells(self, face) -> list[str]:
        """``agreement`` and ``top_<member>``, when this recording has member columns."""
        if not self.members:
            return []
        tops = dict(zip(face.member_names, face.member_top_labels))
        unknown = set(tops) - set(self.members) - self._warned_members
        if unknown:
            log.warning("members %s are not columns of %s; their top emotions are not recorded",
                        sorted(unknown), self.path)
            self._warned_members |= unknown
        raw_top = _raw_top(face)
        agreement = f"{face.agreeing_members(raw_top) / len(tops):.3f}" if tops and raw_top else ""
        return [agreement, *(tops.get(member, "") for member in self.members)]

    def _start_failure(self) -> str:
        """Why the header could not be written; the file (created or emptied for this
        recording) is removed, so nothing is left that a retry would refuse to replace."""
        if self._regular_file:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
        gone = self._regular_file and not self.path.exists()
        full = (" (the disk is full: free some space or record to another drive)"
                if self._errno in (errno.ENOSPC, errno.EDQUOT) else "")
        return (f"cannot record to {self.path}: {self.error}{full}; nothing was recorded"
                + (" and no file was left behind" if gone else ""))

    def _write(self, rows: list[list], count: bool = True) -> None:
        """Hand the rows to the OS in one write; on failure cut back and stop."""
        if self._fd is None:
            raise RecordingError(f"recording to {self.path} has stopped"
                                 + (f": {self.error}" if self.error else ""))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([map(safe_cell, row) for row in rows])
        data = buffer.getvalue().encode("utf-8")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as error:
            self._fail(error)
        self._good_size += len(data)
        self._unsynced = True
        if count:
            self.rows += len(rows)
        self._sync_if_due()

    def _sync_if_due(self) -> None:
        """fsync when rows were written and a sync interval has passed since the last one."""
        if not (self._unsynced and self._regular_file):
            return
        if time.monotonic() - self._last_sync < self.sync_interval_s:
            return
        try:
            os.fsync(self._fd)
        except OSError as error:
            self._fail(error)
        self._last_sync, self._unsynced = time.monotonic(), False

    def _fail(self, error: OSError):
        """Cut the file back to its last complete row, close it, and raise (logged once
        rows were written; a failure at the start is the caller's to report)."""
        self.error, self._errno = str(error.strerror or error), error.errno
        fd, self._fd = self._fd, None
        if fd is not None:
            if self._regular_file:
                try:
                    os.ftruncate(fd, self._good_size)
                except OSError:
                    log.warning("could not cut %s back to its last complete row", self.path)
            try:
                os.close(fd)
            except OSError:
                pass
        if self._good_size:
            log.error("%s", self.failure)
        raise RecordingError(self.failure) from None


def _create(path: Path, overwrite: bool) -> int:
    """Open ``path`` for writing: a new file, or (``overwrite``) an existing one emptied.
    A device or pipe (``/dev/full``, a FIFO) is opened as it is."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)
    special = path.exists() and not path.is_file()
    flags |= os.O_TRUNC if overwrite or special else os.O_EXCL
    try:
        return os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno == errno.EEXIST:
            reason = "the file already exists (its rows are kept; choose another name)"
        elif error.errno == errno.ENOENT:
            reason = f"the folder {path.parent} does not exist"
        else:
            reason = error.strerror or str(error)
        raise RecordingError(f"cannot record to {path}: {reason}") from None


def _probability(value: float) -> str:
    """A probability cell; empty, never "nan", where the model gave no finite number."""
    return f"{value:.6f}" if math.isfinite(value) else ""


def _raw_top(face) -> str:
    """This frame's own top emotion; "" for an unreadable face."""
    return face.labels[int(np.argmax(face.probabilities))] if face.readable else ""


def _optional(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _steadiness_cells(result: FrameResult) -> list[str]:
    steadiness = result.steadiness
    if steadiness is None:
        return [""] * len(STEADINESS_COLUMNS)
    return [f"{steadiness.time_constant_s:g}", f"{steadiness.switch_margin:g}",
            f"{steadiness.switch_hold_s:g}"]
