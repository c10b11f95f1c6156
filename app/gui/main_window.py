"""The main window: video with per-face bars in the middle, controls on the right, the
timeline below, messages above the video and figures in the status bar.

A thin view: the pipeline and its threads live in ``Session``; this class wires the
widgets to it, turns its signals into what the user sees, and remembers choices. The
model and recording controllers get the session and the widgets they fill, never the
window, and ``Automation`` ends a scripted run by watching the session. What a menu or
button does without a dialog can be called directly, as the tests do: ``open_source``,
``models.choose``, ``recording.start``, ``recording.add_marker``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QVBoxLayout, QWidget

from app.face.baseline import DEFAULT_SECONDS
from app.face.steady import MAX_TIME_CONSTANT_S, Steadiness
from app.gui import dialogs
from app.gui.banner import BannerArea
from app.gui.controls import ControlPanel, source_name
from app.gui.launch import Automation, LaunchOptions
from app.gui.menus import build_menus
from app.gui.model_actions import ModelActions
from app.gui.recording_actions import RecordingActions
from app.gui.session import Session, Startup
from app.gui.settings import AppSettings
from app.gui.status import StatusPanel, recording_text
from app.gui.timeline_panel import TimelinePanel
from app.gui.video_view import VideoView
from app.model.providers import ProviderReport
from app.model.views import CHOICES as VIEW_CHOICES
from app.results import Event, EventKind, FrameResult, RecordingStatus
from app.system.logs import log_file

TITLE = "Emotion Live"
CALIBRATION_SECONDS = DEFAULT_SECONDS
SCRIPTED_SIZE = (1280, 800)
"""Scripted runs ignore the remembered geometry, so screenshots come out alike."""


class MainWindow(QMainWindow):
    def __init__(self, options: LaunchOptions | None = None,
                 settings: AppSettings | None = None) -> None:
        super().__init__()
        self.options = options = options or LaunchOptions()
        self.settings = settings = settings or AppSettings.default()
        self.report: ProviderReport | None = None
        self.result: FrameResult | None = None
        """The newest result shown."""
        self.source_spec: str | None = None
        """The source chosen last."""
        self._ready = self._cameras_known = False
        smoothing = min(max(settings.smoothing_s if options.smoothing is None else options.smoothing,
                            0.0), MAX_TIME_CONSTANT_S)
        gamma = settings.gamma if options.gamma is None else options.gamma
        steadiness = Steadiness(smoothing, options.switch_margin, options.switch_hold_s)
        views = options.views or (settings.views if settings.views in VIEW_CHOICES else "auto")
        self.session = session = Session(options.provider, options.max_faces, steadiness, gamma, self,
                                         views)
        self.view, self.banner, self.controls = VideoView(), BannerArea(), ControlPanel()
        self.timeline = TimelinePanel()
        self.status = StatusPanel(self.statusBar())
        self.models = ModelActions(session, settings, self.controls, self.banner, dialog_parent=self,
                                   model=options.model, model_dirs=options.model_dirs)
        self.recording = RecordingActions(session, settings, self.banner, dialog_parent=self)
        self.controls.set_smoothing(smoothing)
        self.controls.gamma.setChecked(gamma)
        self.controls.set_views(views)
        self._layout()
        build_menus(self)
        self._connect()
        self.automation = Automation(self, options, session)  # after _connect: see Automation
        self.setWindowTitle(TITLE)
        self.resize(*SCRIPTED_SIZE)
        if not options.automated:
            self.restoreGeometry(settings.geometry)
        self.restoreState(settings.window_state)

    @property
    def exit_code(self) -> int:
        return self.automation.exit_code

    def start(self) -> None:
        """Build the pipeline, look for cameras and list the models (all off this thread)."""
        self.view.set_placeholder("Starting\u2026", "Checking ONNX Runtime's providers and "
                                  "loading the model.")
        self.models.start()
        self.session.find_cameras()

    # What the user does.

    def open_source(self, spec: str | Path) -> None:
        """Analyse a camera index, video file, image folder or stream URL."""
        spec = self.source_spec = str(spec)
        self.controls.show_source(spec)
        self.controls.set_running(True, f"Opening {source_name(spec)}\u2026")
        for key in ("source", "camera"):
            self.banner.clear(key)
        self.settings.last_source = spec
        self.timeline.clear_live()
        self.session.open_source(spec)

    def stop_source(self) -> None:
        self.session.stop_source()

    def ask_source(self, kind: str = "video") -> None:
        """Ask for a ``video``, image ``folder`` or ``stream`` URL, and open it."""
        spec = dialogs.ask_source(self, kind, self.settings.last_source)
        if spec:
            self.open_source(spec)
        else:  # cancelled: the box shows what plays again
            self.controls.show_source(self.source_spec)

    def calibrate_face(self, face_id: int | None = None, seconds: float = CALIBRATION_SECONDS) -> bool:
        """Record the neutral baseline of ``face_id`` (default: the selected face) over its
        next ``seconds``; False, with the reason in the status bar, when there is no face."""
        face_id = self.timeline.selected_face if face_id is None else face_id
        if face_id is None:
            self.statusBar().showMessage("No face to calibrate: wait for a face, or click one.", 5000)
            return False
        try:
            self.session.calibrate(face_id, seconds)
        except RuntimeError as error:
            self.statusBar().showMessage(f"Cannot calibrate: {error}.", 5000)
            return False
        self.statusBar().showMessage(
            f"Calibrating face #{face_id}: hold a neutral face for {seconds:g} s. The baseline belongs "
            "to this face ID: a face that leaves the view and gets a new ID is uncalibrated again.", 12000)
        return True

    def show_gpu_check(self) -> None:
        if self.report is None:
            self.statusBar().showMessage("Still probing the providers; try again in a moment.", 4000)
            return
        model = self.session.model
        self.gpu_dialog = dialogs.GpuCheckDialog(self.report, model and model.provider, self)
        self.gpu_dialog.show()

    # Session signals.

    def _on_ready(self, startup: Startup) -> None:
        self._ready = True
        self.report = startup.report
        self.status.show_provider(self.report)
        if self.report.unmet:  # --provider cuda on a machine where it cannot run
            self.banner.show_message("provider", f"{self.report.unmet}. The models run on the CPU.",
                                     "error", ("GPU check\u2026", self.show_gpu_check))
        self.models.show_startup(startup)
        scripted = self.options.automated  # a scripted run stops at bad input, as --headless does
        if startup.model_error and scripted:
            self.view.set_placeholder("The model could not be loaded", "See the message above.")
            return
        refused = self.options.csv and not self.recording.start(self.options.csv, self.options.overwrite)
        if refused and scripted:
            return
        if self.options.source:
            self.open_source(self.options.source)
        self._show_idle()

    def _on_startup_failed(self, message: str) -> None:
        self.banner.show_message("startup", f"The analysis could not start: {message} "
                                 f"(details in {log_file()})", "error")

    def _on_cameras(self, cameras: list) -> None:
        self._cameras_known = True
        self.controls.set_cameras(cameras)
        if not cameras and not (self.options.source or self.source_spec):
            self.banner.show_message("camera", "No camera found on this machine. Open a video, an "
                                     "image folder or a stream URL to analyse instead.", "info",
                                     ("Open video\u2026", self.ask_source))
        self._show_idle()

    def _on_result(self, result: FrameResult) -> None:
        self.result = result
        self.timeline.add_result(result)
        self.view.set_selected_face(self.timeline.selected_face)
        self.view.show_result(result)
        self.status.show_result(result, self.report)
        if result.recording is not None:
            self._show_recording(result.recording)

    def _on_event(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.SOURCE_ENDED:
            frames = event.details.get("frames")
            self.controls.set_running(False, "Finished" + (
                f" after {frames} frame{'s' * (frames != 1)}" if frames else ""))
            if event.details.get("ended_early"):  # failed part-way, as --headless says with 1
                self.banner.show_message("source", f"{event.message}.", "warning",
                                         ("Open video\u2026", self.ask_source))
        elif kind is EventKind.SOURCE_LOST:
            self.banner.show_message("source", f"{event.message}. Reconnect it, then press "
                                     "Reconnect.", "warning", ("Reconnect", self.session.restart_source))
        elif kind is EventKind.SOURCE_RESTARTED:
            self.banner.clear("source")
            self.statusBar().showMessage(event.message, 4000)
        elif kind is EventKind.MODEL_CHANGED:
            self.statusBar().showMessage(event.message[:1].upper() + event.message[1:], 5000)
        elif kind is EventKind.ERROR:
            self.banner.show_message("source", f"The analysis stopped: {event.message} "
                                     f"(details in {log_file()})", "error")

    def _on_run_started(self, name: str) -> None:
        self.controls.set_running(True, f"Playing {source_name(name)}")
        self.setWindowTitle(f"{source_name(name)} \u2014 {TITLE}")

    def _on_run_failed(self, message: str) -> None:
        self.controls.forget_source(self.source_spec)
        self.controls.set_running(False, "Could not open the source")
        self.banner.show_message("source", message, "error", ("Open video\u2026", self.ask_source))
        if self.result is None:
            self.view.set_placeholder("Cannot open the source",
                                      "Choose another one in the Source box or the File menu.")

    def _on_run_finished(self, frames: int) -> None:
        if not self.session.running:
            self.controls.set_running(False)

    def _on_restart_failed(self, message: str) -> None:
        self.banner.show_message("source", f"Still no frames: {message}", "warning",
                                 ("Reconnect", self.session.restart_source))

    # Internals.

    def _layout(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)
        self.docks: dict[str, QDockWidget] = {}
        for title, widget, area in (("Controls", self.controls, Qt.DockWidgetArea.RightDockWidgetArea),
                                    ("Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"{title.lower()}-dock")  # saveState() needs names
            dock.setWidget(widget)
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QDockWidget.DockWidgetFeature.DockWidgetClosable)
            self.addDockWidget(area, dock)
            self.docks[title] = dock
        self.resizeDocks([self.docks["Timeline"]], [230], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["Controls"]], [360], Qt.Orientation.Horizontal)

    def _connect(self) -> None:
        session, controls, recording = self.session, self.controls, self.recording
        for signal, slot in ((session.ready, self._on_ready),
                             (session.startup_failed, self._on_startup_failed),
                             (session.cameras_found, self._on_cameras),
                             (session.result_ready, self._on_result), (session.event, self._on_event),
                             (session.run_started, self._on_run_started),
                             (session.run_failed, self._on_run_failed),
                             (session.run_finished, self._on_run_finished),
                             (session.restart_failed, self._on_restart_failed),
                             (controls.source_chosen, self.open_source),
                             (controls.stop_clicked, self.stop_source),
                             (controls.smoothing_changed, self._set_smoothing),
                             (controls.gamma_toggled, self._set_gamma),
                             (controls.views_chosen, self._set_views),
                             (controls.record_clicked, recording.toggle),
                             (controls.marker_clicked, lambda: recording.add_marker()),
                             (controls.gpu_check_clicked, self.show_gpu_check),
                             (recording.status_changed, self._show_recording),
                             (recording.note, self.statusBar().showMessage),
                             (recording.marker_added, self.timeline.add_marker),
                             (recording.recorded, self.timeline.show_recording),
                             (self.view.face_clicked, self.timeline.select_face),
                             (self.timeline.face_selected, self.view.set_selected_face)):
            signal.connect(slot)
        controls.source_action.connect(self.ask_source)

    def _set_smoothing(self, value: float) -> None:
        self.session.set_smoothing(value)
        self.settings.smoothing_s = value

    def _set_gamma(self, enabled: bool) -> None:
        self.session.set_gamma(enabled)
        self.settings.gamma = enabled

    def _set_views(self, setting: str) -> None:
        self.session.set_views(setting)
        self.settings.views = setting

    def _show_recording(self, status: RecordingStatus | None) -> None:
        self.controls.set_recording(status)
        self.view.set_recording_text(recording_text(status) if status else None)

    def _show_idle(self) -> None:
        """Say what to do next while nothing plays."""
        if not (self._ready and self._cameras_known) or self.source_spec is not None:
            return
        title = "No camera found" if self.controls.cameras == [] else "Choose a source"
        self.view.set_placeholder(title, "Pick a camera, or open a video, an image folder or a "
                                  "stream URL, in the Source box on the right or the File menu.")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Stop the worker cooperatively and close the CSV before the window goes."""
        if not self.options.automated:  # a scripted run's fixed layout is not the user's
            self.settings.geometry = self.saveGeometry()
            self.settings.window_state = self.saveState()
        self.settings.sync()
        self.recording.close()
        self.session.shutdown()
        super().closeEvent(event)
