"""The Timeline dock: the selected face's probabilities over the last seconds, and after
a recording, the whole CSV.

The live tab follows the face the user picked (in its list, or by clicking the face in
the video) while it stays in view, and otherwise the lowest ID present. The recording
tab reads the finished CSV back (what was written, not what was shown), so it is also
a check that the file holds what the session saw.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.timeline_data import LiveTimeline, Timeline
from app.gui.timeline_plot import TimelinePlot
from app.results import FrameResult


class TimelinePanel(QWidget):
    face_selected = Signal(int)
    """The user picked a face in the live list."""

    def __init__(self, window_s: float = 30.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live = LiveTimeline(window_s)
        self.selected_face: int | None = None
        self.recorded: Timeline | None = None
        self._chosen_face: int | None = None  # the user's pick, kept while it is in view
        self.live_plot = TimelinePlot("No face yet: the selected face's emotions over the last "
                                      f"{window_s:.0f} seconds appear here.")
        self.recording_plot = TimelinePlot("Record (Ctrl+R) to see a whole recording here.")
        self.live_faces, self.recorded_faces = QComboBox(), QComboBox()
        for box in (self.live_faces, self.recorded_faces):
            box.setMinimumContentsLength(8)
        self.recording_label = QLabel("No recording yet")
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._page(self.live_faces, QLabel(f"last {window_s:.0f} s, smoothed"),
                                    self.live_plot), "Live")
        self.tabs.addTab(self._page(self.recorded_faces, self.recording_label, self.recording_plot),
                         "Last recording")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.live_faces.activated.connect(self._on_live_face_chosen)
        self.recorded_faces.activated.connect(lambda _: self._plot_recording())
        self.clear_live()

    def add_result(self, result: FrameResult) -> None:
        self.live.add(result)
        present = self.live.face_ids
        if self._chosen_face in present:
            self.selected_face = self._chosen_face
        else:
            self._chosen_face = None
            self.selected_face = min((face.face_id for face in result.faces),
                                     default=present[0] if present else None)
        _fill(self.live_faces, present, self.selected_face)
        series = self.live.series(self.selected_face) if self.selected_face is not None else None
        now = self.live.now
        self.live_plot.set_data(self.live.labels, series, (now - self.live.window_s, now),
                                self.live.markers, relative=True)

    def add_marker(self, label: str) -> None:
        self.live.add_marker(self.live.now, label)

    def select_face(self, face_id: int) -> None:
        """The user picked ``face_id`` (e.g. by clicking it in the video)."""
        self._chosen_face = self.selected_face = face_id

    def clear_live(self) -> None:
        self.live.clear()
        self.live_plot.set_data(self.live.labels, None, (0.0, self.live.window_s))

    def show_recording(self, timeline: Timeline) -> None:
        """Plot a finished recording and bring its tab forward."""
        self.recorded = timeline
        main = timeline.main_face()
        _fill(self.recorded_faces, sorted(timeline.faces), main)
        markers = len(timeline.markers)
        self.recording_label.setText(
            f"{timeline.path.name}: {timeline.duration_s:.1f} s, {timeline.rows} rows"
            + (f", {markers} marker{'s' * (markers != 1)}" if markers else ""))
        self.recording_label.setToolTip(str(timeline.path))
        self._plot_recording()
        self.tabs.setCurrentIndex(1)

    def _plot_recording(self) -> None:
        timeline = self.recorded
        if timeline is None:
            return
        face_id = self.recorded_faces.currentData()
        series = timeline.faces.get(face_id) if face_id is not None else None
        if series is None:
            self.recording_plot.set_empty_text("The recording holds no face rows.")
        self.recording_plot.set_data(timeline.labels, series, (0.0, max(timeline.duration_s, 1.0)),
                                     timeline.markers, relative=False)

    def _on_live_face_chosen(self, index: int) -> None:
        face_id = self.live_faces.itemData(index)
        if face_id is not None:
            self.select_face(face_id)
            self.face_selected.emit(face_id)

    @staticmethod
    def _page(faces: QComboBox, note: QLabel, plot: TimelinePlot) -> QWidget:
        page = QWidget()
        header = QHBoxLayout()
        header.setContentsMargins(8, 4, 8, 0)
        header.addWidget(QLabel("Face"))
        header.addWidget(faces)
        header.addSpacing(12)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        header.addWidget(note, 1)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(plot, 1)
        return page


def _fill(box: QComboBox, face_ids: list[int], selected: int | None) -> None:
    """Face IDs as ``#n`` items (rebuilt only when they change), ``selected`` current."""
    if [box.itemData(index) for index in range(box.count())] != face_ids:
        box.clear()
        for face_id in face_ids:
            box.addItem(f"#{face_id}", face_id)
    box.setEnabled(bool(face_ids))
    if selected is not None:
        box.setCurrentIndex(max(box.findData(selected), 0))
