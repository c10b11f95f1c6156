"""Recording, for the main window: start (Ctrl+R asks for the CSV path), stop, markers
(M numbers them, Shift+M asks for a label), the elapsed time and rows on show, and the
whole CSV plotted once it is closed.

The CSV itself is the pipeline's (``app.recording``): opened on this thread, so an
unwritable path is refused here with its reason, and closed when the recording stops
or the window closes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer

from app.gui import dialogs
from app.gui.status import recording_text
from app.gui.timeline_data import read_timeline_csv
from app.pipeline import Pipeline
from app.recorder import RecordingError
from app.results import Event, RecordingStatus

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow


class RecordingActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.markers = 0
        """Markers added to the current recording."""
        self._timer = QTimer(window)
        self._timer.setInterval(500)  # elapsed time keeps moving when no frame arrives
        self._timer.timeout.connect(self._refresh)

    @property
    def pipeline(self) -> Pipeline | None:
        return self.window.session.pipeline

    @property
    def status(self) -> RecordingStatus | None:
        return self.pipeline.recording if self.pipeline else None

    def toggle(self) -> None:
        if self.status is not None:
            self.stop()
            return
        path = dialogs.choose_csv_path(self.window, self._suggested_path())
        if path:
            self.start(path)

    def start(self, path: str | Path, overwrite: bool = True) -> bool:
        """Record to ``path``; False (and a message saying why) when it cannot. An existing
        file is replaced (the save dialog asked first) unless ``overwrite`` is False."""
        banner = self.window.banner
        if self.pipeline is None:
            banner.show_message("recording", "The analysis is still starting; record in a moment.",
                                "warning")
            return False
        try:
            actual = self.pipeline.start_recording(path, overwrite)
        except RecordingError as error:
            banner.show_message("recording", f"Not recording: {error}", "error")
            return False
        banner.clear("recording")
        self.markers = 0
        self.window.settings.recording_folder = str(actual.parent)
        self._show(self.status)
        self._timer.start()
        self.window.statusBar().showMessage(f"Recording to {actual}", 5000)
        return True

    def stop(self) -> RecordingStatus | None:
        """Close the CSV and plot it; its final status, None when nothing was recording."""
        final = self.pipeline.stop_recording() if self.pipeline else None
        self._stopped()
        if final is not None:
            self.window.statusBar().showMessage(f"Recorded {final.rows:,} rows to {final.path}", 8000)
            self._plot(final.path)
        return final

    def add_marker(self, label: str | None = None) -> bool:
        """A marker row in the CSV now, labelled ``label`` or "marker N"."""
        if self.status is None:
            self.window.statusBar().showMessage("Start a recording (Ctrl+R) to add markers.", 5000)
            return False
        label = label or f"marker {self.markers + 1}"
        try:
            self.pipeline.add_marker(label)
        except RecordingError as error:  # the recording failed meanwhile; its event follows
            self.window.banner.show_message("recording", str(error), "error")
            return False
        self.markers += 1
        self.window.timeline.add_marker(label)
        self.window.statusBar().showMessage(f"Marker \u201c{label}\u201d added", 3000)
        return True

    def ask_marker(self) -> None:
        if self.status is None:
            self.add_marker()  # says why not
            return
        label = dialogs.ask_marker_label(self.window, f"marker {self.markers + 1}")
        if label:
            self.add_marker(label)

    def failed(self, event: Event) -> None:
        """Writing failed mid-run (disk full, drive gone): what was written is kept."""
        self._stopped()
        self.window.banner.show_message("recording", event.message, "error")
        path = event.details.get("path")
        if path is not None and event.details.get("rows"):
            self._plot(path)

    def close(self) -> None:
        self._timer.stop()

    def _stopped(self) -> None:
        self._timer.stop()
        self._show(None)

    def _refresh(self) -> None:
        status = self.status
        if status is None:
            self._stopped()
        else:
            self._show(status)

    def _show(self, status: RecordingStatus | None) -> None:
        self.window.controls.set_recording(status)
        self.window.view.set_recording_text(recording_text(status) if status else None)

    def _plot(self, path: Path) -> None:
        window = self.window
        window.session.background.call(
            lambda: read_timeline_csv(path), window.timeline.show_recording,
            lambda error: window.banner.show_message(
                "recording", f"The recording is saved, but cannot be plotted: {error}", "warning"),
            what=f"reading {path}")

    def _suggested_path(self) -> Path:
        folder = Path(self.window.settings.recording_folder or Path.home())
        if not folder.is_dir():
            folder = Path.home()
        return folder / f"emotions_{datetime.now():%Y%m%d_%H%M%S}.csv"
