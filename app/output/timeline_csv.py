"""The CSV timeline: one row per face per analysed frame, and event markers.

The columns, what each means and how its cell is made: ``app.output.timeline_columns``.

Each frame's rows go to the operating system in one unbuffered write, so a crash of
the app loses nothing already analysed; every frame, with faces or without, checks
whether a second has passed since the last sync, so a power cut loses at most about a
second of rows. When a write fails (disk full, drive removed), the file is cut back to
its last complete row, recording stops and the error says so: what was written before
stays readable; when even the header cannot be written, no file is left behind. An
existing file is never replaced unless the caller says so. Text cells are guarded
against spreadsheet formulas (``app.output.csv_cells``).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import logging
import os
import stat
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from app.output.csv_cells import safe_cell
from app.output.timeline_columns import FaceRow, MarkerRow, Moment, columns_for, row_cells
from app.results import FrameResult
from app.system.file_names import NAME_ERRORS
from app.system.output_files import create_output

log = logging.getLogger(__name__)


class RecordingError(RuntimeError):
    """The CSV cannot be written: an unwritable path at the start, or a failure mid-run."""


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
        self._columns = columns_for(self.labels, self.members)
        self.columns = [column.name for column in self._columns]
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
                self._write([dict(zip(self.columns, self.columns))], count=False)
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
        moment = Moment(frame.wall_time, frame.monotonic_s - self.started_monotonic, frame.index,
                        frame.source_ms)
        rows = []
        for face in result.faces:
            row = FaceRow(moment, result, face)
            self._warn_unknown(row)
            rows.append(row_cells(self._columns, row))
        with self._lock:
            if self._fd is None and self.error is None:  # closed meanwhile: nothing to report
                return 0
            self._write(rows)
        return len(rows)

    def write_marker(self, label: str, frame_index: int | None = None,
                     source_ms: float | None = None) -> None:
        """An event marker at the current time (e.g. "stimulus 3 shown")."""
        moment = Moment(datetime.now().astimezone(), time.monotonic() - self.started_monotonic,
                        frame_index, source_ms)
        with self._lock:
            self._write([row_cells(self._columns, MarkerRow(moment, label))])

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

    def _warn_unknown(self, row: FaceRow) -> None:
        """Once per recording: a face's labels or members that have no column here (a
        model other than the one the header was made for); their values are left out."""
        unknown = set(row.raw) - set(self.labels) - self._warned_labels
        if unknown:
            log.warning("labels %s are not columns of %s; their values are not recorded",
                        sorted(unknown), self.path)
            self._warned_labels |= unknown
        if not self.members:
            return
        unknown = set(row.member_tops) - set(self.members) - self._warned_members
        if unknown:
            log.warning("members %s are not columns of %s; their top emotions are not recorded",
                        sorted(unknown), self.path)
            self._warned_members |= unknown

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

    def _write(self, rows: list[dict[str, object]], count: bool = True) -> None:
        """Hand the rows (cells by column name) to the OS in one write; on failure cut back
        and stop."""
        if self._fd is None:
            raise RecordingError(f"recording to {self.path} has stopped"
                                 + (f": {self.error}" if self.error else ""))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, self.columns, lineterminator="\n")
        writer.writerows([{name: safe_cell(cell) for name, cell in row.items()} for row in rows])
        data = buffer.getvalue().encode("utf-8", NAME_ERRORS)  # file names byte for byte
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
    """Open ``path`` for writing: a new file, or (``overwrite``) one in place of an existing
    file, never written through a link (``app.system.output_files.create_output``). A
    device or pipe (``/dev/full``, a FIFO) is opened as it is."""
    try:
        return create_output(path, overwrite)
    except OSError as error:
        if error.errno == errno.EEXIST and os.path.islink(path):
            reason = "a link is there (the app never writes through one; remove it or name its target)"
        elif error.errno == errno.EEXIST:
            reason = "the file already exists (its rows are kept; choose another name)"
        elif error.errno == errno.ENOENT:
            reason = f"the folder {path.parent} does not exist"
        else:
            reason = error.strerror or str(error)
        raise RecordingError(f"cannot record to {path}: {reason}") from None
