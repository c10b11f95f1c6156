"""The recording in progress, shared by the worker (rows) and a GUI (start, stop, markers).

Starting opens the CSV in the caller's thread, so an unwritable path raises there and
the worker never sees it; a failure while the worker writes stops the recording and
becomes a ``RECORDING_FAILED`` event instead of an exception on the worker. A recording
stopped by the user while the worker is writing a frame is not a failure: the frame's
rows are simply not written, and exactly one of ``RECORDING_STOPPED`` or
``RECORDING_FAILED`` ends every recording.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from app.output.timeline_csv import CsvRecorder, RecordingError
from app.results import Event, EventKind, FrameResult, RecordingStatus


class Recording:
    """Holds at most one ``CsvRecorder``; every method is thread-safe."""

    def __init__(self, post_event: Callable[[Event], None]) -> None:
        self._post_event = post_event
        self._lock = threading.Lock()
        self._recorder: CsvRecorder | None = None

    @property
    def status(self) -> RecordingStatus | None:
        recorder = self._recorder
        return None if recorder is None else _status(recorder)

    def start(self, path: str | Path, labels: Sequence[str], overwrite: bool = False,
              members: Sequence[str] = ()) -> Path:
        """A new CSV with columns for ``labels`` (and an ensemble's ``members``), replacing
        any recording in progress. An existing file is refused unless ``overwrite``."""
        recorder = CsvRecorder(path, labels, overwrite=overwrite, members=members)
        with self._lock:
            previous, self._recorder = self._recorder, recorder
        self._finish(previous)
        self._post_event(Event(EventKind.RECORDING_STARTED, f"recording to {recorder.path}",
                               {"path": recorder.path}))
        return recorder.path

    def stop(self) -> RecordingStatus | None:
        """Close the CSV; its final status, or None when nothing was recording."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        return self._finish(recorder)

    def add_marker(self, label: str, frame_index: int | None, source_ms: float | None) -> None:
        recorder = self._recorder
        if recorder is None:
            raise RecordingError("not recording: start a recording to add markers")
        try:
            recorder.write_marker(label, frame_index, source_ms)
        except RecordingError:
            self._failed(recorder)
            raise

    def write(self, result: FrameResult) -> FrameResult:
        """Record a frame's rows; the result gains the CSV time and the recording status."""
        recorder = self._recorder
        if recorder is None:
            return result
        start = time.perf_counter()
        try:
            recorder.write_frame(result)
        except RecordingError:
            self._failed(recorder)
            return result
        if not recorder.recording:  # stopped meanwhile
            return result
        timings = dataclasses.replace(result.timings, csv=(time.perf_counter() - start) * 1000.0)
        return dataclasses.replace(result, timings=timings, recording=_status(recorder))

    def _failed(self, recorder: CsvRecorder) -> None:
        """A write raised: report it, unless the recorder was closed normally meanwhile or
        another thread took it over (``stop`` then reports how it ended)."""
        with self._lock:
            owned = self._recorder is recorder
            if owned:
                self._recorder = None
        if owned and recorder.failure is not None:
            self._post_failure(recorder)

    def _finish(self, recorder: CsvRecorder | None) -> RecordingStatus | None:
        """Close a recorder this thread took over, and say how its recording ended."""
        if recorder is None:
            return None
        try:
            recorder.close()
        except RecordingError:
            pass  # recorder.failure says why
        if recorder.failure is not None:  # the final sync, or a write just before, failed
            self._post_failure(recorder)
        else:
            self._post_event(Event(EventKind.RECORDING_STOPPED,
                                   f"recorded {recorder.rows} rows to {recorder.path}",
                                   {"path": recorder.path, "rows": recorder.rows}))
        return _status(recorder)

    def _post_failure(self, recorder: CsvRecorder) -> None:
        self._post_event(Event(EventKind.RECORDING_FAILED, recorder.failure,
                               {"path": recorder.path, "rows": recorder.rows}))


def _status(recorder: CsvRecorder) -> RecordingStatus:
    return RecordingStatus(recorder.path, recorder.rows, recorder.elapsed_s)
