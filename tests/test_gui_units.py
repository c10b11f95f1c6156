"""The GUI's parts on their own: panel placement, the timeline's numbers, status texts,
the worker's stop and newest-result handling, the model and recording controllers and
the automation over a session that never starts, and the Qt binding itself."""

from __future__ import annotations

import gc
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu, QPushButton, QToolButton, QWidget

from app.cli import build_parser
from app.face.quality import FaceQuality
from app.gui.banner import BannerArea
from app.gui.controls import OPEN_MODEL, ControlPanel
from app.gui.launch import Automation, LaunchOptions
from app.gui.model_actions import ModelActions
from app.gui.overlay import Placement
from app.gui.recording_actions import RecordingActions
from app.gui.session import Session, Startup
from app.gui.settings import AppSettings
from app.gui.status import provider_text, stage_text
from app.gui.theme import face_colour
from app.gui.timeline_data import LiveTimeline, read_timeline_csv
from app.gui.worker import PipelineWorker
from app.model.providers import NO_GPU, ProviderAttempt, ProviderReport
from app.output.annotate import draw_face
from app.output.face_layout import PanelMetrics, Rect, layout_faces, place_panels
from app.output.palette import face_colour_bgr
from app.output.timeline_csv import CsvRecorder
from app.pipeline import Pipeline
from app.results import Event, EventKind, FaceResult, Frame, FrameResult, StageTimings
from app.system.exit_codes import ExitCode
from tests.conftest import REPO_ROOT
from training.data.labels import FER2013_LABELS

METRICS = PanelMetrics(text_px=12, label_width=70, padding=8, title_height=22, row_height=18, bar_width=96,
                       value_width=40)


def face(face_id: int, box=(100, 100, 80, 80), top: int = 3) -> FaceResult:
    probabilities = np.full(7, 0.05)
    probabilities[top] = 0.7
    return FaceResult(face_id, box, {}, "mesh", FER2013_LABELS, probabilities, probabilities,
                      FaceQuality(40.0, 0.5, 1.0, 0.0, 0.0, 100.0))


def result(faces, time_s: float, index: int = 0) -> FrameResult:
    frame = Frame(np.zeros((480, 640, 3), np.uint8), index, time_s, datetime.now().astimezone(),
                  source_ms=time_s * 1000)
    return FrameResult(frame, tuple(faces), "mini_xception", FER2013_LABELS, "CPUExecutionProvider",
                       StageTimings(decode=1.0, landmarks=20.0, infer=2.5), 30.0, 0)


def inside(rect: Rect, bounds: Rect) -> bool:
    return (bounds.x <= rect.x and rect.right <= bounds.right
            and bounds.y <= rect.y and rect.bottom <= bounds.bottom)


def test_signals_keep_reference_counts():
    """PySide6 6.12.0 drops a reference to True/False at every emit(); Python 3.11 then
    aborts after a few thousand signals. The installed version must not."""

    class Sender(QObject):
        number = Signal(int)

    sender, received = Sender(), []
    sender.number.connect(received.append)
    before = sys.getrefcount(True), sys.getrefcount(None)
    for value in range(300):
        sender.number.emit(value)
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert len(received) == 300
    assert after[0] - before[0] > -50 and after[1] - before[1] > -50, (
        "this PySide6 miscounts references on emit(): install another version (see pyproject.toml)")


def test_panels_sit_beside_their_faces_inside_the_view_and_apart():
    bounds = Rect(0, 0, 1000, 600)
    size = METRICS.size(7)
    row = [Rect(60 + 230 * i, 200, 90, 90) for i in range(4)]  # four faces side by side
    panels = place_panels(row, [size] * 4, bounds, [METRICS.padding] * 4)
    for index, panel in enumerate(panels):
        assert inside(panel, bounds)
        assert not any(panel.overlap_area(other) for other in panels[index + 1:])
        assert not any(panel.overlap_area(box) for box in row)
    near_edge = Rect(900, 100, 80, 80)  # no room on the right: the panel goes left
    (panel,) = place_panels([near_edge], [size], bounds, [METRICS.padding])
    assert panel.right <= near_edge.x


def test_overlay_scales_boxes_and_fills_bars_by_probability():
    placement = Placement(0.5, 10, 20)
    (layout,) = layout_faces([face(4, top=5)], (1580, 1160), text_px=24, selected_id=4)
    overlay = placement.to_view(layout)
    assert overlay.box == Rect(60, 70, 40, 40) and overlay.selected
    assert overlay.title == "#4  surprise 70%"
    widths = [bar.fill.width / bar.track.width for bar in overlay.bars]
    assert widths == pytest.approx([0.05] * 5 + [0.7, 0.05])
    assert [bar.top for bar in overlay.bars] == [False] * 5 + [True, False]
    assert all(inside(bar.track, overlay.panel) for bar in overlay.bars)


def test_an_ensemble_face_says_how_many_members_give_the_emotion_shown():
    members = np.full((5, 7), 0.05)
    members[:4, 5] = members[4, 3] = 0.7  # four members say surprise, one happy
    ensemble = replace(face(4, top=5), member_names=tuple("abcde"), member_probabilities=members)
    (overlay,) = layout_faces([ensemble], (800, 600), text_px=12)
    assert overlay.title == "#4  surprise 70% \u00b7 4/5 agree"
    # Hysteresis still shows happy: the title and the highlighted bar follow what is shown.
    (held,) = layout_faces([replace(ensemble, shown_index=3)], (800, 600), text_px=12)
    assert held.title == "#4  happy 5% \u00b7 1/5 agree"
    assert [bar.label for bar in held.bars if bar.top] == ["happy"]
    # No member gives the emotion shown: the title says what most of them give instead.
    (apart,) = layout_faces([replace(ensemble, shown_index=0)], (800, 600), text_px=12)
    assert apart.title == "#4  angry 5% \u00b7 members: surprise 4/5"


def test_live_timeline_keeps_the_last_window_and_resets_for_other_labels():
    timeline = LiveTimeline(window_s=2.0)
    for step in range(40):  # 4 s at 10 frames/s; face 2 leaves after 1 s
        faces = [face(1)] + ([face(2, box=(300, 100, 80, 80))] if step < 10 else [])
        timeline.add(result(faces, step / 10))
    series = timeline.series(1)
    assert series.times[0] == pytest.approx(1.9) and series.times[-1] == pytest.approx(3.9)
    assert series.values.shape == (21, 7) and timeline.face_ids == [1]
    timeline.add_marker(3.9, "stimulus")
    other = result([face(1)], 4.0)
    other = FrameResult(other.frame, other.faces, "other", ("a", "b"), other.provider,
                        other.timings, 30.0, 0)
    timeline.add(other)
    assert timeline.labels == ("a", "b") and timeline.markers == ()


def test_a_recorded_csv_reads_back_per_face_with_markers(tmp_path):
    path = tmp_path / "timeline.csv"
    recorder = CsvRecorder(path, FER2013_LABELS)
    for step in range(5):
        recorder.write_frame(result([face(1), face(2, box=(300, 100, 80, 80), top=0)], step / 30, step))
    recorder.write_marker("stimulus 1", 4, 133.0)
    recorder.close()
    timeline = read_timeline_csv(path)
    assert timeline.labels == FER2013_LABELS and timeline.rows == 11
    assert sorted(timeline.faces) == [1, 2] and len(timeline.faces[2]) == 5
    assert timeline.faces[2].values[0, 0] == pytest.approx(0.7)
    assert [label for _, label in timeline.markers] == ["stimulus 1"]
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not an emotion timeline"):
        read_timeline_csv(other)


def test_status_texts():
    assert stage_text(StageTimings(decode=1.04, landmarks=20.0, infer=2.5)) == (
        "decode 1.0 \u00b7 landmarks 20.0 \u00b7 infer 2.5 = 23.5 ms")
    failed = ProviderAttempt("CUDAExecutionProvider", False,
                             "ONNX Runtime fell back to the CPU (missing libraries: libcublas.so.13)")
    report = ProviderReport("auto", "CPUExecutionProvider", (failed,), (), "1.0")
    assert provider_text(report, "CPUExecutionProvider")[0] == (
        "CPU: GPU unusable (missing libraries: libcublas.so.13)")
    no_gpu = ProviderReport("auto", "CPUExecutionProvider",
                            (ProviderAttempt("CUDAExecutionProvider", False, NO_GPU),), (), "1.0")
    assert provider_text(no_gpu, "CPUExecutionProvider")[0] == "CPU: no NVIDIA GPU found"
    on_gpu = ProviderReport("auto", "CUDAExecutionProvider", (), (), "1.0")
    assert provider_text(on_gpu, "CUDAExecutionProvider")[0] == "GPU: CUDA"
    assert provider_text(on_gpu, "CPUExecutionProvider")[0].startswith("CPU: the model's session fell back")


@pytest.fixture
def image_folder(tmp_path) -> Path:
    for index in range(5):
        cv2.imwrite(str(tmp_path / f"{index}.png"), np.full((32, 32, 3), index * 40, np.uint8))
    return tmp_path


def test_the_worker_hands_over_only_the_newest_result(qapp, image_folder):
    """Nobody takes results while the run goes: one notice, the newest result, the rest
    counted as replaced rather than queued."""
    worker = PipelineWorker(Pipeline(None, provider="cpu"))
    notices = []
    worker.result_ready.connect(lambda: notices.append(1))
    worker.run(str(image_folder))
    assert notices == [1] and worker.frames_analysed == 5
    assert worker.take_result().frame.index == 4 and worker.take_result() is None
    assert worker.results_replaced == 4


class _LateStopPipeline(Pipeline):
    """A stop that arrives just after the run ended by itself (the user pressing Stop as
    the video ends): the worker still believes the run is going."""

    worker: PipelineWorker

    def frames(self, reader, stop=None):
        yield from super().frames(reader, stop)
        self.worker.request_stop()


def test_a_stop_racing_the_end_of_a_run_does_not_end_the_next_one(qapp, image_folder):
    pipeline = _LateStopPipeline(None, provider="cpu")
    worker = pipeline.worker = PipelineWorker(pipeline)
    worker.run(str(image_folder))
    assert worker.frames_analysed == 5
    worker.prepare_run()
    worker.run(str(image_folder))
    assert worker.frames_analysed == 5


def test_a_stop_before_the_run_starts_ends_that_run_and_not_the_next(qapp, image_folder):
    worker = PipelineWorker(Pipeline(None, provider="cpu"))
    opened = []
    worker.source_opened.connect(opened.append)
    worker.prepare_run()
    worker.request_stop()  # e.g. the window closed while the run was on its way
    worker.run(str(image_folder))
    assert worker.frames_analysed == 0 and opened == []
    worker.prepare_run()
    worker.run(str(image_folder))
    assert worker.frames_analysed == 5


def test_a_face_has_one_colour_in_the_window_and_in_annotated_videos():
    for face_id in range(1, 9):
        colour = face_colour(face_id)
        assert face_colour_bgr(face_id) == (colour.blue(), colour.green(), colour.red())
    canvas = np.zeros((300, 400, 3), np.uint8)
    (layout,) = layout_faces([face(3, box=(40, 60, 100, 100))], (400, 300), text_px=10)
    draw_face(canvas, layout)
    assert tuple(canvas[60, 90]) == face_colour_bgr(3)  # the box's top edge


def test_command_line_choices_override_remembered_ones_only_when_given():
    parse = build_parser().parse_args
    plain = LaunchOptions.from_args(parse([]))
    assert plain.smoothing is None and plain.gamma is None and plain.views is None and not plain.automated
    chosen = LaunchOptions.from_args(parse(["--smoothing", "0.5", "--no-gamma", "--views", "none",
                                            "--screenshot", "a.png"]))
    assert chosen.smoothing == 0.5 and chosen.gamma is False and chosen.views == "none" and chosen.automated


def test_a_message_action_runs_without_the_buttons_argument(qapp):
    banner, calls = BannerArea(), []
    banner.show_message("source", "cannot open", "error",
                        ("Open video", lambda kind="video": calls.append(kind)))
    assert banner.messages == {"source": "cannot open"} and banner.levels == {"source": "error"}
    banner.findChild(QPushButton).click()
    assert calls == ["video"]
    banner.clear("source")
    assert banner.messages == {} and banner.isHidden()
    with pytest.raises(ValueError, match="valid"):
        banner.show_message("x", "text", "fatal")


def test_a_message_goes_with_its_cross_and_outlives_nothing(qtbot):
    """Its row is deleted later; the banner may be gone by then (it crashed: the cross's
    slot held the banner's last reference, destroying it from inside its own child)."""
    banner = BannerArea()
    banner.show_message("camera", "No camera found", "info")
    banner.findChild(QToolButton).click()
    assert banner.messages == {} and banner.isHidden()
    banner.show_message("model", "No model", "warning")
    banner.clear("model")
    del banner
    gc.collect()
    qtbot.wait(20)  # the rows' deferred deletes run


@pytest.fixture
def idle_session(qapp):
    """A session whose pipeline is never built: what the controllers do before it is."""
    session = Session(provider="cpu")
    yield session
    session.shutdown()


def menu_entries(fill) -> list[tuple[str, str]]:
    menu = QMenu()
    fill(menu)
    return [(action.text(), action.shortcut().toString()) for action in menu.actions()]


def test_recording_goes_through_the_session_and_says_what_it_cannot_do(idle_session, tmp_path):
    banner = BannerArea()
    recording = RecordingActions(idle_session, AppSettings.at(tmp_path / "settings.ini"), banner,
                                 dialog_parent=QWidget())
    notes, shown = [], []
    recording.note.connect(lambda text, _ms: notes.append(text))
    recording.status_changed.connect(shown.append)
    assert menu_entries(recording.fill_menu) == [
        ("Start / stop &recording", "Ctrl+R"), ("Add &marker", "M"),
        ("Add marker with &label\u2026", "Shift+M")]
    assert not recording.start(tmp_path / "timeline.csv")
    assert banner.messages["recording"] == "The analysis is still starting; record in a moment."
    assert not recording.add_marker() and notes == ["Start a recording (Ctrl+R) to add markers."]
    assert recording.stop() is None and shown == [None]
    idle_session.event.emit(Event(EventKind.RECORDING_FAILED, "cannot write: disk full"))
    assert banner.messages["recording"] == "cannot write: disk full" and shown == [None, None]


def test_the_model_controller_fills_its_box_menu_and_messages(idle_session, tmp_path):
    banner, controls = BannerArea(), ControlPanel()
    models = ModelActions(idle_session, AppSettings.at(tmp_path / "settings.ini"), controls, banner,
                          dialog_parent=QWidget(), model_dirs=(tmp_path,))
    assert menu_entries(models.fill_menu) == [("Open ONNX &model\u2026", ""), ("&Refresh model list", "")]
    controls.model_chosen.emit(str(tmp_path / "some.onnx"))  # before the pipeline is built
    message = banner.messages["model"]
    assert "the pipeline is still starting" in message and message.endswith("No model is running.")
    assert banner.findChild(QPushButton).text() == OPEN_MODEL
    assert controls.model_box.itemText(controls.model_box.count() - 1) == OPEN_MODEL
    assert controls.model_box.isEnabled()


def cpu_startup(error: str | None = None) -> Startup:
    return Startup(ProviderReport("cpu", "CPUExecutionProvider", (), (), "1.0"), None, error)


def test_the_automation_ends_a_scripted_run_by_what_the_session_says(idle_session, qtbot, tmp_path):
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    options = LaunchOptions(source="clip.mp4", quit_after_frames=5, screenshot=str(tmp_path / "s.png"))
    automation = Automation(window, options, idle_session)
    assert idle_session.stop_after_frames == 5 and automation.exit_code == ExitCode.OK
    idle_session.ready.emit(cpu_startup())
    idle_session.cameras_found.emit([])
    idle_session.event.emit(Event(EventKind.SOURCE_LOST, "camera 0 lost"))
    assert automation.exit_code == ExitCode.FAILED and not automation.finished  # a source to end
    idle_session.run_failed.emit("cannot open clip.mp4")
    assert automation.exit_code == ExitCode.BAD_INPUT
    idle_session.run_finished.emit(5)
    qtbot.waitUntil(lambda: automation.screenshot_saved is not None)
    assert automation.screenshot_saved == (tmp_path / "s.png").resolve() and not window.isVisible()


def test_the_automation_stops_at_bad_input_and_without_a_source_once_idle(idle_session, qtbot, tmp_path):
    scripted = LaunchOptions(source="clip.mp4", quit_after_frames=1)
    refused = Automation(QWidget(), replace(scripted, csv=str(tmp_path / "t.csv")), idle_session)
    idle = Automation(QWidget(), LaunchOptions(screenshot=str(tmp_path / "s.png")), idle_session)
    plain = Automation(QWidget(), LaunchOptions(), idle_session)  # not scripted: counts, never ends
    idle_session.ready.emit(cpu_startup())
    assert refused.finished and refused.exit_code == ExitCode.BAD_INPUT  # --csv not recording
    assert not idle.finished and idle.exit_code == ExitCode.OK
    idle_session.cameras_found.emit([])
    assert idle.finished and not plain.finished
    idle_session.startup_failed.emit("no landmarker")
    assert plain.exit_code == ExitCode.BAD_INPUT and not plain.finished
    qtbot.waitUntil(lambda: idle.screenshot_saved is not None)


def test_a_scripted_run_stops_at_a_model_that_does_not_load(idle_session, qtbot):
    automation = Automation(QWidget(), LaunchOptions(source="clip.mp4", quit_after_frames=1), idle_session)
    idle_session.ready.emit(cpu_startup("not an emotion model"))
    assert automation.finished and automation.exit_code == ExitCode.BAD_INPUT
    qtbot.wait(50)  # the window closes


def test_the_window_modules_do_not_import_the_command_line():
    """app.cli imports app.gui to run the window: the other way round would be a cycle."""
    code = "import sys, app.gui, app.gui.main_window; assert 'app.cli' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=120)
