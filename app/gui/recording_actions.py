"""Recording, for the main window: start (Ctrl+R asks for the CSV path), stop, markers
(M numbers them, Shift+M asks for a label), the elapsed time and rows on show, and the
whole CSV plotted once it is closed.

The CSV itself is the pipeline's (``app.output.recording``), reached through ``Session``:
opened on this thread, so an unwritable path is refused here with its reason, and closed
when the recording stops or the window closes. What there is to show goes out through
signals, so this class needs no widget but the banner and a parent for its dialogs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMenu, QWidget

from app.gui import dialogs
from app.gui.banner import BannerArea
from app.gui.menus import add_action
from app.gui.session import Session
from app.gui.settings import AppSettings
from app.gui.timeline_data import read_timeline_csv
from app.output.timeline_csv import RecordingError
from app.results import Event, EventKind, RecordingStatus


class RecordingActions(QObject):
    status_changed = Signal(object)
    """The recording's ``RecordingStatus`` to show, or None: not recording."""
    note = Signal(str, int)
    """A passing note for the status bar, and how many milliseconds it stays."""
    marker_added = Signal(str)
    """A marker's label, written to the CSV."""
    recorded = Signal(object)
    """The closed CSV read back (``app.gui.timeline_data.Timeline``), to plot."""

    def __init__(self, session: Session, settings: AppSettings, banner: BannerArea,
                 dialog_parent: QWidget) -> None:
        super().__init__()
        self.session = session
        self.settings = settings
        self.banner = banner
        self.dialog_parent = dialog_parent
        """What the save and marker dialogs open over."""
        self.markers = 0
        """Markers added to the current recording."""
        self._timer = QTimer(self)
        self._timer.setInterval(500)  # elapsed time keeps moving when no frame arrives
        self._timer.timeout.connect(self._refresh)
        session.event.connect(self._on_event)

    @property
    def status(self) -> RecordingStatus | None:
        return self.session.recording

    def fill_menu(self, menu: QMenu) -> None:
        """The Recording menu's actions and their shortcuts."""
        add_action(menu, "Start / stop &recording", self.toggle, "Ctrl+R")
        add_action(menu, "Add &marker", lambda: self.add_marker(), "M")
        add_action(menu, "Add marker with &label\u2026", self.ask_marker, "Shift+M")

    def toggle(self) -> None:
        if self.status is not None:
            self.stop()
            return
        path = dialogs.choose_csv_path(self.dialog_parent, self._suggested_path())
        if path:
            self.start(path)

    def start(self, path: str | Path, overwrite: bool = True) -> bool:
        """Record to ``path``; False (and a message saying why) when it cannot. An existing
        file is replaced (the save dialog asked first) unless ``overwrite`` is False."""
        if not self.session.is_ready:
            self.banner.show_message("recording", "The analysis is still starting; record in a moment.",
                                     "warning")
            return False
        try:
            actual = self.session.start_recording(path, overwrite)
        except RecordingError as error:
            self.banner.show_message("recording", f"Not recording: {error}", "error")
            return False
        self.banner.clear("recording")
        self.markers = 0
        self.settings.recording_folder = str(actual.parent)
        self.status_changed.emit(self.status)
        self._timer.start()
        self.note.emit(f"Recording to {actual}", 5000)
        return True

    def stop(self) -> RecordingStatus | None:
        """Close the CSV and plot it; its final status, None when nothing was recording."""
        final = self.session.stop_recording()
        self._stopped()
        if final is not None:
            self.note.emit(f"Recorded {final.rows:,} rows to {final.path}", 8000)
            self._plot(final.path)
        return final

    def add_marker(self, label: str | None = None) -> bool:
        """A marker row in the CSV now, labelled ``label`` or "marker N"."""
        if self.status is None:
            self.note.emit("Start a recording (Ctrl+R) to add markers.", 5000)
            return False
        label = label or f"marker {self.markers + 1}"
        try:
            self.session.add_marker(label)
        except RecordingError as error:  # the recording failed meanwhile; its event follows
            self.banner.show_message("recording", str(error), "error")
            return False
        self.markers += 1
        self.marker_added.emit(label)
        self.note.emit(f"Marker \u201c{label}\u201d added", 3000)
        return True

    def ask_marker(self) -> None:
        if self.status is None:
            self.add_marker()  # says why not
            return
        label = dialogs.ask_marker_label(self.dialog_parent, f"marker {self.markers + 1}")
        if label:
            self.add_marker(label)

    def close(self) -> None:
        self._timer.stop()

    def _on_event(self, event: Event) -> None:
        """Writing failed mid-run (disk full, drive gone): what was written is kept."""
        if event.kind is not EventKind.RECORDING_FAILED:
            return
        self._stopped()
        self.banner.show_message("recording", event.message, "error")
        path = event.details.get("path")
        if path is not None and event.details.get("rows"):
            self._plot(path)

    def _stopped(self) -> None:
        self._timer.stop()
        self.status_changed.emit(None)

    def _refresh(self) -> None:
        status = self.status
        if status is None:
            self._stopped()
        else:
            self.status_changed.emit(status)

    def _plot(self, path: Path) -> None:
        self.session.background.call(
            lambda: read_timeline_csv(path), self.recorded.emit,
            lambda error: self.banner.show_message(
                "recording", f"The recording is saved, but cannot be plotted: {error}", "warning"),
            what=f"reading {path}")

    def _suggested_path(self) -> Path:
        folder = Path(self.settings.recording_folder or Path.home())
        if not folder.is_dir():
            folder = Path.home()
        return folder / f"emotions_{datetime.now():%Y%m%d_%H%M%S}.csv"
