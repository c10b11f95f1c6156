"""The Controls dock: source, model, analysis settings, recording, and the GPU check.

A view only: it shows what the window tells it and says what the user picked through
signals; the window decides (and opens any dialog).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.face.steady import MAX_TIME_CONSTANT_S
from app.gui.combo import add_disabled, fit_popup, placeholder_combo
from app.gui.plain import plain_note, plain_tip
from app.gui.status import recording_text
from app.model.library import ModelEntry, RefusedModel
from app.results import RecordingStatus
from app.sources.base import IMAGE_EXTENSIONS
from app.sources.cameras import CameraInfo
from app.sources.stream_urls import without_credentials

VIEW_TEXTS = {"auto": "Auto (as many as keep up)", "all": "All (most accurate)",
              "mirror": "Face and mirror", "none": "One read (fastest)"}
"""The views box's entries, one per ``app.model.views.CHOICES``."""

SMOOTHING_STEP_S = 0.01
"""The smoothing slider counts hundredths of a second."""

SOURCE_ACTIONS = (("video", "Open video\u2026"), ("folder", "Open image folder\u2026"),
                  ("stream", "Open stream URL\u2026"))
OPEN_MODEL = "Open ONNX file\u2026"
"""The model box's last item, and the button of the model's messages (``ModelActions``)."""
OPEN, ASK = "open:", "ask:"
"""Source items' data: a source to open, or a kind of source to ask the user for."""
OPEN_MODEL_DATA = "\x00open-model"
TOOLTIP = Qt.ItemDataRole.ToolTipRole
RECENT_SOURCES = 6


class ControlPanel(QWidget):
    source_chosen = Signal(str)
    """A camera index, or a file, folder or URL opened before."""
    source_action = Signal(str)
    """``video``, ``folder`` or ``stream``: ask the user for one."""
    stop_clicked = Signal()
    model_chosen = Signal(str)
    """A model file's path."""
    open_model_clicked = Signal()
    smoothing_changed = Signal(float)
    """The smoothing time constant in seconds (0: off)."""
    gamma_toggled = Signal(bool)
    views_chosen = Signal(str)
    """A test-time views setting (``app.model.views.CHOICES``)."""
    record_clicked = Signal()
    marker_clicked = Signal()
    gpu_check_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cameras: list[CameraInfo] | None = None
        """None until the cameras were looked for."""
        self.recent_sources: list[str] = []
        self.source_box = placeholder_combo("Choose a source\u2026")
        self.stop_button = QPushButton("Stop")
        self.source_state = plain_note("Nothing playing")
        self.model_box = placeholder_combo("No model")
        self.model_state = plain_note("")
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, round(MAX_TIME_CONSTANT_S / SMOOTHING_STEP_S))
        self.smoothing.setSingleStep(5)
        self.smoothing.setPageStep(10)
        self.smoothing_value = QLabel()
        self.smoothing_value.setMinimumWidth(44)
        self.gamma = QCheckBox("Adaptive gamma")
        self.views = QComboBox()
        for setting, text in VIEW_TEXTS.items():
            self.views.addItem(text, setting)
        self.record_button = QPushButton("\u25cf  Record")
        self.marker_button = QPushButton("Add marker")
        self.recording_state = plain_note("Not recording")
        self.gpu_button = QPushButton("GPU check\u2026")
        self._layout_sections()
        self._connect()
        self.set_cameras(None)
        self.set_models([], [])
        self.set_recording(None)
        self.set_running(False)

    # What the window shows.

    def set_cameras(self, cameras: list[CameraInfo] | None) -> None:
        self.cameras = cameras
        self._fill_sources(self.source_box.currentData())

    def show_source(self, spec: str | None) -> None:
        """Select ``spec`` (remembered among recent sources unless it is a listed camera);
        None selects nothing."""
        if spec is None:
            self._fill_sources(None)
            return
        listed = {str(camera.index) for camera in self.cameras or ()}
        if spec not in listed:
            self.recent_sources = [spec, *[s for s in self.recent_sources if s != spec]][:RECENT_SOURCES]
        self._fill_sources(OPEN + spec)

    def forget_source(self, spec: str | None) -> None:
        """Drop a source that failed to open from the recent ones."""
        self.recent_sources = [s for s in self.recent_sources if s != spec]
        self._fill_sources(None)

    def set_running(self, running: bool, state: str | None = None) -> None:
        self.stop_button.setEnabled(running)
        if state is not None:
            self.source_state.setText(state)

    def set_models(self, entries: list[ModelEntry], refused: list[RefusedModel],
                   extra: dict[str, str] | None = None, speeds: dict[str, str] | None = None) -> None:
        """The installed models in the order given, each with its speed here (``speeds``:
        path -> text), refused files (greyed, with the reason), and files the user opened
        (``extra``: path -> label)."""
        current = self.model_box.currentData()
        box = self.model_box
        box.clear()
        for entry in entries:
            speed = (speeds or {}).get(str(entry.path))
            label = f"{entry.label} \u00b7 {speed}" if speed else entry.label
            box.addItem(label, str(entry.path))
            tip = f"{label}\n{entry.card.dataset}\n{entry.path}"
            box.setItemData(box.count() - 1, plain_tip(tip), TOOLTIP)
        for path, label in (extra or {}).items():
            box.addItem(label, path)
        if not entries and not extra:
            add_disabled(box, "No models installed in models_onnx/",
                          "Train and export one with emotion-train, or open an ONNX file.")
        for item in refused:
            add_disabled(box, f"{item.path.name} (not usable)", item.reason)
        box.insertSeparator(box.count())
        box.addItem(OPEN_MODEL, OPEN_MODEL_DATA)
        fit_popup(box)
        self.select_model(current)

    def select_model(self, path: str | None) -> None:
        index = self.model_box.findData(path) if path else -1
        self.model_box.setCurrentIndex(index)

    def set_model_state(self, text: str, details: str = "") -> None:
        self.model_state.setText(text)
        self.model_state.setToolTip(plain_tip(details))

    def set_recording(self, status: RecordingStatus | None) -> None:
        recording = status is not None
        self.record_button.setText("\u25a0  Stop recording" if recording else "\u25cf  Record")
        self.marker_button.setEnabled(recording)
        if status is None:
            self.recording_state.setText("Not recording")
            self.recording_state.setToolTip("")
            return
        self.recording_state.setText(f"{recording_text(status)} \u00b7 {status.path.name}")
        self.recording_state.setToolTip(str(status.path))

    # Internals.

    def _layout_sections(self) -> None:
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_box, 1)
        source_row.addWidget(self.stop_button)
        smoothing_row = QHBoxLayout()
        smoothing_row.addWidget(QLabel("Smoothing"))
        smoothing_row.addWidget(self.smoothing, 1)
        smoothing_row.addWidget(self.smoothing_value)
        self.smoothing.setToolTip("Time constant of a per-face moving average of the probabilities, "
                                  "in seconds: off shows each frame's raw values; longer is steadier "
                                  "but slower to react. The emotion named changes only once another "
                                  "clearly leads for a moment.")
        self.gamma.setToolTip("Correct each face's lighting with adaptive gamma, as the model's "
                              "card asks (off: compare the raw crop).")
        views_row = QHBoxLayout()
        views_row.addWidget(QLabel("Views"))
        views_row.addWidget(self.views, 1)
        self.views.setToolTip("How many test-time views of each face the model reads: all those "
                              "its card chose on validation data (the most accurate, slowest), "
                              "the face and its mirror image, or one read (fastest). Auto: as many "
                              "as keep up with a live source, all of them for a video read in full.")
        record_row = QHBoxLayout()
        record_row.addWidget(self.record_button, 1)
        record_row.addWidget(self.marker_button, 1)
        self.record_button.setToolTip("Record the emotion timeline to a CSV file (Ctrl+R)")
        self.marker_button.setToolTip("Add a numbered event marker row to the CSV (M; "
                                      "Shift+M asks for a label)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(10)
        for title, rows in (("Source", [source_row, self.source_state]),
                            ("Model", [self.model_box, self.model_state]),
                            ("Analysis", [smoothing_row, self.gamma, views_row]),
                            ("Recording", [record_row, self.recording_state])):
            group = QGroupBox(title)
            group_layout = QVBoxLayout(group)
            for row in rows:
                (group_layout.addLayout if isinstance(row, QHBoxLayout) else group_layout.addWidget)(row)
            layout.addWidget(group)
        layout.addStretch(1)
        layout.addWidget(self.gpu_button)

    def _connect(self) -> None:
        self.source_box.activated.connect(self._on_source_activated)
        self.model_box.activated.connect(self._on_model_activated)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.gamma.toggled.connect(self.gamma_toggled)
        self.views.activated.connect(lambda index: self.views_chosen.emit(self.views.itemData(index)))
        self.record_button.clicked.connect(self.record_clicked)
        self.marker_button.clicked.connect(self.marker_clicked)
        self.gpu_button.clicked.connect(self.gpu_check_clicked)

    def set_views(self, setting: str) -> None:
        index = self.views.findData(setting)
        self.views.setCurrentIndex(max(index, 0))

    def set_smoothing(self, seconds: float) -> None:
        self.smoothing.setValue(round(seconds / SMOOTHING_STEP_S))
        self._show_smoothing(self.smoothing.value())

    def _on_smoothing(self, value: int) -> None:
        self._show_smoothing(value)
        self.smoothing_changed.emit(value * SMOOTHING_STEP_S)

    def _show_smoothing(self, value: int) -> None:
        self.smoothing_value.setText("off" if value == 0 else f"{value * SMOOTHING_STEP_S:.2f} s")

    def _fill_sources(self, selected) -> None:
        box = self.source_box
        box.clear()
        if self.cameras is None:
            add_disabled(box, "Looking for cameras\u2026", "")
        elif not self.cameras:
            add_disabled(box, "No camera found", "No camera delivered a frame on this machine; "
                          "open a video, an image folder or a stream instead.")
        for camera in self.cameras or ():
            box.addItem(camera.label, OPEN + str(camera.index))
        if self.recent_sources:
            box.insertSeparator(box.count())
        for spec in self.recent_sources:
            box.addItem(_source_label(spec), OPEN + spec)
            box.setItemData(box.count() - 1, plain_tip(without_credentials(spec)), TOOLTIP)
        box.insertSeparator(box.count())
        for kind, text in SOURCE_ACTIONS:
            box.addItem(text, ASK + kind)
        fit_popup(box)
        box.setCurrentIndex(box.findData(selected) if selected else -1)

    def _on_source_activated(self, index: int) -> None:
        data = self.source_box.itemData(index) or ""
        if data.startswith(OPEN):
            self.source_chosen.emit(data.removeprefix(OPEN))
        elif data.startswith(ASK):
            self.source_action.emit(data.removeprefix(ASK))

    def _on_model_activated(self, index: int) -> None:
        data = self.model_box.itemData(index)
        if data == OPEN_MODEL_DATA:
            self.open_model_clicked.emit()
        elif isinstance(data, str):
            self.model_chosen.emit(data)


def source_name(spec: str) -> str:
    """A file's or folder's name; a URL (without credentials) or a camera's name."""
    if "://" in spec or not spec:
        return without_credentials(spec)
    return Path(spec).name or spec


def _source_label(spec: str) -> str:
    if "://" in spec:
        return f"Stream: {without_credentials(spec)}"
    if spec.isdigit():
        return f"Camera {spec}"
    path = Path(spec)
    kind = ("Folder" if path.is_dir() else "Image" if path.suffix.lower() in IMAGE_EXTENSIONS
            else "Video")
    return f"{kind}: {path.name}"
