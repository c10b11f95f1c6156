"""The desktop window end to end, offscreen: real footage, real MediaPipe, real ONNX
models, the real worker thread. Settings go to a temporary file, never the user's."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage

from app.cli import build_parser
from app.gui import run
from app.gui.launch import LaunchOptions
from app.gui.main_window import MainWindow
from app.gui.overlay import qrect
from app.gui.settings import SETTINGS_ENV, AppSettings
from app.gui.theme import emotion_colour
from app.model import library as model_library
from app.model import providers
from app.output.timeline_columns import timeline_columns
from app.pipeline import Pipeline
from app.sources.capture import open_reader
from app.sources.video import CameraSource
from tests.camera_fakes import CameraSequence, FakeCamera
from tests.conftest import REPO_ROOT
from tests.onnx_fixtures import fer_card, linear_model, write_ensemble, write_model
from training.data.labels import FER2013_LABELS

WAIT_MS = 60_000
"""Generous: the machine is shared, and MediaPipe and a model start in each window."""


@pytest.fixture(autouse=True)
def no_camera_and_own_settings(monkeypatch, tmp_path):
    """Whatever this machine has: no camera (the common case), and settings in tmp."""
    monkeypatch.setattr("app.gui.session.list_cameras", lambda **_: [])
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "settings.ini"))


@pytest.fixture(scope="session")
def second_model(tmp_path_factory) -> Path:
    """Another random-init Mini-Xception (other weights, other card figures)."""
    torch = pytest.importorskip("torch", reason="exporting a model needs the train extra")
    from training.export import export_onnx
    from training.models import build_model

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("models") / "mini_xception_seed1.onnx"
    card = fer_card(architecture="mini_xception", metrics={"val_accuracy": 0.25})
    return export_onnx(build_model("mini_xception"), card, path)


@pytest.fixture
def make_window(qtbot, tmp_path):
    """``make_window(**LaunchOptions)``: a started, shown window; closed afterwards."""
    windows = []
    empty = tmp_path / "no_models"
    empty.mkdir()

    def make(**options) -> MainWindow:
        options.setdefault("model_dirs", (empty,))
        window = MainWindow(LaunchOptions(**options), AppSettings.at(tmp_path / "settings.ini"))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.start()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def wait_for_faces(qtbot, window, model_name=None):
    def shown():
        result = window.result
        return (result is not None and len(result.faces) > 0
                and (model_name is None or result.model_name == model_name))
    qtbot.waitUntil(shown, timeout=WAIT_MS)
    return window.result


def close_to(pixel: QColor, colour: QColor, tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(
        (pixel.red(), pixel.green(), pixel.blue()), (colour.red(), colour.green(), colour.blue())))


def test_the_window_opens_without_a_camera_or_model_and_says_so(qtbot, make_window, tmp_path,
                                                                mini_xception_onnx):
    window = make_window()
    qtbot.waitUntil(lambda: "camera" in window.banner.messages and window.report is not None,
                    timeout=WAIT_MS)
    assert "No camera found" in window.banner.messages["camera"]
    assert "No emotion model installed" in window.banner.messages["model"]
    sources = [window.controls.source_box.itemText(i) for i in range(window.controls.source_box.count())]
    assert sources[0] == "No camera found"
    assert {"Open video\u2026", "Open image folder\u2026", "Open stream URL\u2026"} <= set(sources)
    models = [window.controls.model_box.itemText(i) for i in range(window.controls.model_box.count())]
    assert models[0].startswith("No models installed") and models[-1] == "Open ONNX file\u2026"
    assert window.view.placeholder[0] == "No camera found"
    assert window.status.fields["provider"].startswith(("CPU", "GPU", "accelerator"))
    window.show_gpu_check()
    assert "Running on: " in window.gpu_dialog.report_text.toPlainText()
    window.gpu_dialog.close()
    assert not window.recording.start(tmp_path / "timeline.csv")  # no model: no columns
    assert "choose a model" in window.banner.messages["recording"]
    window.models.choose(mini_xception_onnx)  # "Open ONNX file..." with a good file
    qtbot.waitUntil(lambda: "model" not in window.banner.messages, timeout=WAIT_MS)
    assert window.controls.model_box.currentData() == str(mini_xception_onnx)
    assert "mini_xception" in window.controls.model_box.currentText()


def test_models_are_listed_off_the_gui_thread_and_an_unusable_provider_is_said(
        qtbot, make_window, mini_xception_onnx, monkeypatch):
    """Reading a card opens an ONNX Runtime session (seconds for a large model): never on
    the window's thread. And --provider cuda where it cannot run: a message, not silence."""
    threads = []
    real_read_card = model_library.read_card

    def recording_read_card(path):
        threads.append(threading.current_thread())
        return real_read_card(path)

    monkeypatch.setattr(model_library, "read_card", recording_read_card)
    monkeypatch.setattr(providers, "nvidia_driver_loaded", lambda: False)
    providers.probe.cache_clear()
    try:
        window = make_window(model_dirs=(mini_xception_onnx.parent,), provider="cuda")
        qtbot.waitUntil(lambda: window.models.path == str(mini_xception_onnx), timeout=WAIT_MS)
    finally:
        providers.probe.cache_clear()
    assert threads and threading.main_thread() not in threads
    assert "mini_xception" in window.controls.model_box.currentText()
    message = window.banner.messages["provider"]
    assert "--provider cuda cannot run here (no NVIDIA GPU found)" in message
    assert "run on the CPU" in message and window.exit_code == 2


def test_a_video_plays_with_bars_for_the_face(qtbot, make_window, media_dir, mini_xception_onnx):
    window = make_window(source=str(media_dir / "pyfeat_single_face.mp4"),
                         model=str(mini_xception_onnx))
    result = wait_for_faces(qtbot, window)
    (face,) = window.view.overlay
    assert [bar.label for bar in face.bars] == list(FER2013_LABELS)
    assert [bar.top for bar in face.bars].count(True) == 1
    top = next(bar for bar in face.bars if bar.top)
    assert top.label == result.faces[0].top_label and face.title.startswith(f"#{face.face_id}")
    assert sum(bar.probability for bar in face.bars) == pytest.approx(1.0, abs=1e-3)
    view_rect = window.view.rect()
    assert view_rect.contains(qrect(face.panel).toRect()) and not face.panel.overlap_area(face.box)
    # The pixels show it: the top bar is filled in its emotion's colour, a track is dark.
    image = window.view.grab().toImage()
    ratio = image.devicePixelRatio()
    fill_centre = QPointF(*top.fill.center) * ratio
    assert close_to(image.pixelColor(fill_centre.toPoint()), emotion_colour(top.label, face.bars.index(top)))
    empty_end = QPointF(*top.track.center) + QPointF(top.track.width / 2 - 3, 0)
    assert image.pixelColor((empty_end * ratio).toPoint()).lightness() < 100 or top.probability > 0.95
    qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton, pos=QPointF(*face.box.center).toPoint())
    assert window.timeline.selected_face == face.face_id
    fields = window.status.fields
    assert fields["faces"] == "1 face" and re.fullmatch(r"\d+\.\d fps", fields["fps"])
    assert fields["views"].startswith("views ")
    assert "landmarks" in fields["stages"] and "infer" in fields["stages"]
    qtbot.waitUntil(lambda: not window.session.running, timeout=WAIT_MS)  # plays to the end
    assert window.controls.source_state.text().startswith("Finished after")
    assert window.timeline.live.series(window.timeline.selected_face) is not None


def test_a_fresh_window_starts_on_the_most_accurate_model_and_shows_its_agreement(
        qtbot, make_window, media_dir, mini_xception_onnx, tmp_path):
    """The first file by name is the weakest, as dcrnet is; the ensemble's card has the best
    test figure, so a window with no remembered model starts on it and says "k/2 agree"."""
    folder = tmp_path / "models"
    folder.mkdir()
    write_model(folder / "a_weakest.onnx", linear_model(seed=3), fer_card(metrics={"val_accuracy": 0.2}))
    probe = write_model(tmp_path / "probe.onnx", linear_model(), fer_card(metrics={"val_accuracy": 0.3}))
    ensemble = write_ensemble(folder / "ensemble.onnx", [mini_xception_onnx, probe],
                              metrics={"test_accuracy": 0.6})
    window = make_window(model_dirs=(folder,), source=str(media_dir / "pyfeat_single_face.mp4"))
    result = wait_for_faces(qtbot, window)
    assert window.models.path == str(ensemble) and result.model_name == "ensemble"
    assert window.controls.model_box.currentData() == str(ensemble)
    # The menu labels the selection split's figure and the held-out one, side by side.
    assert "val not measured, test 60.0%" in window.controls.model_box.currentText()
    box = window.controls.model_box
    weakest = next(box.itemText(index) for index in range(box.count()) if "a_weakest" in box.itemText(index))
    assert "val 20.0%, test not measured" in weakest
    (face,) = window.view.overlay
    assert re.search(r"\u00b7 ([12]/2 agree|members: \w+ [12]/2)$", face.title), face.title
    assert result.faces[0].member_names == ("mini_xception", "probe")


def test_the_model_menu_lists_the_most_accurate_first_each_with_its_speed_here(
        qtbot, make_window, tmp_path):
    """Ordered by the card's accuracy, not by file name; each line gains the model's time
    per face measured on this machine, once measured (off the window's thread)."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name, accuracy in (("a_weakest", 0.2), ("b_best", 0.6), ("c_middle", 0.4)):
        write_model(folder / f"{name}.onnx", linear_model(seed=len(name)),
                    fer_card(metrics={"val_accuracy": accuracy}))
    window = make_window(model_dirs=(folder,))
    box = window.controls.model_box

    def lines() -> list[str]:
        return [box.itemText(index) for index in range(box.count()) if box.itemData(index)
                and str(box.itemData(index)).endswith(".onnx")]

    qtbot.waitUntil(lambda: len(lines()) == 3 and all("ms/face here" in line for line in lines()),
                    timeout=WAIT_MS)
    assert [line.split(" ")[0] for line in lines()] == ["b_best", "c_middle", "a_weakest"]
    assert all(re.search(r"val \d+\.\d%.* \u00b7 \d+(\.\d)? ms/face here$", line) for line in lines())


def test_models_switch_mid_run_off_the_gui_thread(qtbot, make_window, media_dir, mini_xception_onnx,
                                                  second_model, monkeypatch):
    window = make_window(source=str(media_dir / "fer_woman2.mp4"), model=str(mini_xception_onnx))
    before = wait_for_faces(qtbot, window, "mini_xception")
    loading_threads = []
    original = Pipeline.load_model

    def recording_load_model(pipeline, path):
        loading_threads.append(threading.current_thread())
        return original(pipeline, path)

    monkeypatch.setattr(Pipeline, "load_model", recording_load_model)
    window.models.choose(second_model)
    after = wait_for_faces(qtbot, window, "mini_xception_seed1")
    assert loading_threads and loading_threads[0] is not threading.main_thread()
    assert window.session.running and after.frame.index > before.frame.index  # the same run
    assert window.controls.model_box.currentData() == str(second_model)
    assert window.settings.model == str(second_model)
    assert "mini_xception_seed1" in window.controls.model_box.currentText()


def test_a_bad_model_file_shows_why_and_the_running_model_goes_on(qtbot, make_window, media_dir,
                                                                   mini_xception_onnx, tmp_path):
    window = make_window(source=str(media_dir / "fer_woman2.mp4"), model=str(mini_xception_onnx))
    wait_for_faces(qtbot, window)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x00" * 64)
    foreign = write_model(tmp_path / "foreign.onnx", linear_model())
    for bad, reason in ((foreign, "not an emotion model"), (corrupt, "not a readable ONNX model")):
        window.models.choose(bad)
        qtbot.waitUntil(lambda bad=bad: str(bad) in window.banner.messages.get("model", ""),
                        timeout=WAIT_MS)
        message = window.banner.messages["model"]
        assert reason in message and "mini_xception.onnx keeps running" in message
        assert window.controls.model_box.currentData() == str(mini_xception_onnx)
        assert window.controls.model_box.isEnabled()
        seen = window.result.frame.index
        qtbot.waitUntil(lambda seen=seen: window.result.frame.index > seen, timeout=WAIT_MS)
        assert window.result.model_name == "mini_xception" and window.result.faces


def test_source_trouble_shows_a_message_and_the_window_goes_on(qtbot, make_window, monkeypatch,
                                                                mini_xception_onnx, single_face_image,
                                                                tmp_path):
    """An undecodable video, then a camera unplugged mid-run and plugged back in."""
    cameras = CameraSequence(FakeCamera(single_face_image, frames=8, interval_s=0.03),
                             FakeCamera(single_face_image, frames=1_000, interval_s=0.03))

    def open_fake_camera(spec, realtime=False):
        if spec != "0":
            return open_reader(spec, realtime)
        camera = CameraSource(0, open_capture=cameras, lost_after_s=0.3)
        camera.open()
        return open_reader(camera)

    monkeypatch.setattr("app.gui.worker.open_reader", open_fake_camera)
    window = make_window(model=str(mini_xception_onnx))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    window.open_source(broken)
    qtbot.waitUntil(lambda: "source" in window.banner.messages, timeout=WAIT_MS)
    assert str(broken) in window.banner.messages["source"]
    assert window.view.placeholder[0] == "Cannot open the source"
    window.open_source("0")
    wait_for_faces(qtbot, window)
    assert "source" not in window.banner.messages
    qtbot.waitUntil(lambda: window.banner.levels.get("source") == "warning", timeout=WAIT_MS)
    assert "camera 0" in window.banner.messages["source"] and window.session.running
    window.session.restart_source()  # what the message's Reconnect button does
    qtbot.waitUntil(lambda: "source" not in window.banner.messages, timeout=WAIT_MS)
    seen = window.result.frame.index
    qtbot.waitUntil(lambda: window.result.frame.index != seen and bool(window.result.faces),
                    timeout=WAIT_MS)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        return header, list(reader)


def test_recording_writes_a_csv_with_rows_and_markers(qtbot, make_window, media_dir,
                                                      mini_xception_onnx, tmp_path):
    window = make_window(source=str(media_dir / "fer_woman2.mp4"), model=str(mini_xception_onnx))
    wait_for_faces(qtbot, window)
    assert not window.recording.start(tmp_path / "missing" / "timeline.csv")
    assert "does not exist" in window.banner.messages["recording"]
    path = tmp_path / "timeline.csv"
    assert window.recording.start(path)
    assert "recording" not in window.banner.messages
    qtbot.waitUntil(lambda: (window.recording.status.rows if window.recording.status else 0) >= 5,
                    timeout=WAIT_MS)
    window.activateWindow()
    qtbot.keyClick(window.view, Qt.Key.Key_M)  # the marker shortcut: a numbered marker
    assert window.recording.markers == 1
    assert window.recording.add_marker("stimulus shown")
    qtbot.waitUntil(lambda: bool(re.search(r"\d+ rows", window.controls.recording_state.text())),
                    timeout=WAIT_MS)
    final = window.recording.stop()
    assert window.controls.recording_state.text() == "Not recording"
    header, rows = read_csv(path)
    assert header == timeline_columns(FER2013_LABELS)
    assert len(rows) == final.rows
    markers = [row[-1] for row in rows if row[0] == "marker"]
    assert markers == ["marker 1", "stimulus shown"]
    faces = [row for row in rows if row[0] == "face"]
    assert len(faces) >= 5 and all(len(row) == len(header) for row in rows)
    qtbot.waitUntil(lambda: window.timeline.recorded is not None, timeout=WAIT_MS)
    recorded = window.timeline.recorded
    assert recorded.rows == final.rows and len(recorded.markers) == 2
    assert len(recorded.faces[recorded.main_face()]) == len(faces)
    assert not window.recording.add_marker()  # not recording: says so, adds nothing
    assert len(read_csv(path)[1]) == final.rows


def test_closing_mid_run_while_recording_stops_cleanly(qtbot, make_window, media_dir,
                                                       mini_xception_onnx, tmp_path):
    window = make_window(source=str(media_dir / "fer_woman2.mp4"), model=str(mini_xception_onnx))
    wait_for_faces(qtbot, window)
    path = tmp_path / "closing.csv"
    assert window.recording.start(path)
    qtbot.waitUntil(lambda: (window.recording.status.rows if window.recording.status else 0) >= 3,
                    timeout=WAIT_MS)
    assert window.session.running
    window.close()
    # The pipeline lets go of its model only once the worker has stopped, and nothing
    # writes to the CSV any more.
    assert window.session.model is None and window.session.recording is None
    written = path.read_bytes()
    qtbot.wait(300)
    assert path.read_bytes() == written
    header, rows = read_csv(path)
    assert len(rows) >= 3 and all(len(row) == len(header) for row in rows)
    assert written.endswith(b"\n")  # the last row is complete


def test_choices_are_remembered(qtbot, make_window, mini_xception_onnx):
    first = make_window(model=str(mini_xception_onnx))
    qtbot.waitUntil(lambda: first.models.path == str(mini_xception_onnx), timeout=WAIT_MS)
    first.controls.smoothing.setValue(30)
    first.controls.gamma.setChecked(False)
    none_index = first.controls.views.findData("none")
    first.controls.views.setCurrentIndex(none_index)
    first.controls.views.activated.emit(none_index)  # as a user's choice does
    pipeline = first.session._pipeline  # the analysis itself follows, not only the controls
    assert pipeline.steadiness.time_constant_s == pytest.approx(0.3) and pipeline.gamma_enabled is False
    assert pipeline.views == "none"
    first.close()
    second = make_window()
    qtbot.waitUntil(lambda: second.models.path == str(mini_xception_onnx), timeout=WAIT_MS)
    assert second.controls.smoothing.value() == 30 and not second.controls.gamma.isChecked()
    assert second.controls.views.currentData() == "none"
    pipeline = second.session._pipeline
    assert pipeline.steadiness.time_constant_s == pytest.approx(0.3) and pipeline.gamma_enabled is False
    assert pipeline.views == "none"


def test_emotion_app_scripted_run_saves_a_screenshot(media_dir, mini_xception_onnx, tmp_path):
    shot = tmp_path / "shots" / "window.png"
    command = Path(sys.executable).with_name("emotion-app")
    launcher = [str(command)] if command.exists() else [sys.executable, "-m", "app"]
    completed = subprocess.run(
        [*launcher, "--source", str(media_dir / "pyfeat_single_face.mp4"), "--model",
         str(mini_xception_onnx), "--quit-after-frames", "15", "--screenshot", str(shot)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, SETTINGS_ENV: str(tmp_path / "settings.ini")})
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1280, 800)


def test_a_scripted_run_on_a_missing_source_exits_2_with_the_reason(qapp, tmp_path, caplog,
                                                                    mini_xception_onnx):
    args = build_parser().parse_args(["--source", str(tmp_path / "missing.mp4"), "--model",
                                      str(mini_xception_onnx), "--screenshot", str(tmp_path / "s.png")])
    assert run(args) == 2
    assert "no such file or folder" in caplog.text
    assert (tmp_path / "s.png").is_file()
