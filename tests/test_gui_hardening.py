"""What a fault and security pass found in the window: a model switch race, closed windows
that kept their pipeline, and model-card text rendered as HTML. Real offscreen windows,
real ONNX Runtime sessions, real MediaPipe on real clips."""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.gui.launch import LaunchOptions
from app.gui.main_window import MainWindow
from app.gui.settings import SETTINGS_ENV, AppSettings
from app.model.inference import EmotionClassifier
from tests.onnx_fixtures import fer_card, linear_model, write_model, write_model_with_raw_metadata

WAIT_MS = 60_000
"""Generous: the machine is shared, and MediaPipe and a model start in each window."""


@pytest.fixture(autouse=True)
def no_camera_and_own_settings(monkeypatch, tmp_path):
    monkeypatch.setattr("app.gui.session.list_cameras", lambda **_: [])
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "settings.ini"))


def model_folder(folder: Path, **accuracies: float) -> dict[str, Path]:
    """Hand-built linear models named by the keywords, each with that val accuracy."""
    folder.mkdir(exist_ok=True)
    return {name: write_model(folder / f"{name}.onnx", linear_model(seed=seed),
                              fer_card(architecture=name, metrics={"val_accuracy": accuracy}))
            for seed, (name, accuracy) in enumerate(accuracies.items())}


def open_window(qtbot, tmp_path, **options) -> MainWindow:
    window = MainWindow(LaunchOptions(**options), AppSettings.at(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.show()
    window.start()
    return window


def next_result(qtbot, window, model_name: str):
    """The first result shown from now on, once it comes from ``model_name``."""
    seen = window.result.frame.index if window.result is not None else -1
    qtbot.waitUntil(lambda: window.result is not None and window.result.frame.index > seen
                    and window.result.model_name == model_name, timeout=WAIT_MS)
    return window.result


def test_the_model_chosen_last_runs_even_when_one_chosen_before_loads_slower(
        qtbot, tmp_path, media_dir, monkeypatch):
    """vgg16 then mini_xception at once: vgg16 took longer, finished last and won. Here the
    first choice is held until the second has loaded, so it always finishes last."""
    models = model_folder(tmp_path / "models", start=0.9, slow=0.2, fast=0.3)
    second_loaded = threading.Event()
    real_test_run = EmotionClassifier.test_run

    def ordered_test_run(self, faces=2):
        if self.path == models["slow"]:
            assert second_loaded.wait(WAIT_MS / 1000), "the second choice never loaded"
        real_test_run(self, faces)
        if self.path == models["fast"]:
            second_loaded.set()

    monkeypatch.setattr(EmotionClassifier, "test_run", ordered_test_run)
    monkeypatch.setattr("app.gui.dialogs.choose_onnx_file", lambda *_: str(models["fast"]))
    window = open_window(qtbot, tmp_path, source=str(media_dir / "fer_woman2.mp4"),
                         model_dirs=(tmp_path / "models",))
    next_result(qtbot, window, "start")
    box = window.controls.model_box
    box.activated.emit(box.findData(str(models["slow"])))  # from the dropdown
    window.models.ask_file()  # then File > Open ONNX model, at once
    qtbot.waitUntil(lambda: second_loaded.is_set() and not window.session.background.busy,
                    timeout=WAIT_MS)
    result = next_result(qtbot, window, "fast")
    assert window.session.model.path == models["fast"]
    assert next_result(qtbot, window, "fast").frame.index > result.frame.index  # and stays
    assert box.currentData() == str(models["fast"]) and box.isEnabled()
    assert window.settings.model == str(models["fast"])
    assert "model" not in window.banner.messages


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc/self/task")
def test_closed_windows_release_their_model_and_threads(qtbot, tmp_path, media_dir):
    """Several windows, one after another, in one process: each one's ONNX Runtime session
    and threads go when it closes (they stayed: 75-170 MB and threads per window)."""
    model = model_folder(tmp_path / "models", only=0.5)["only"]

    def run_and_close() -> weakref.ref:
        window = open_window(qtbot, tmp_path, source=str(media_dir / "fer_woman2.mp4"),
                             model=str(model), model_dirs=(tmp_path / "models",))
        qtbot.waitUntil(lambda: window.result is not None and bool(window.result.faces),
                        timeout=WAIT_MS)
        classifier = weakref.ref(window.session.model)
        window.close()
        assert window.session.model is None  # closed, once its worker had stopped
        return classifier

    def threads() -> int:
        gc.collect()
        return len(os.listdir("/proc/self/task"))

    run_and_close()  # the first window starts what stays for the process (Qt's, ONNX Runtime's)
    baseline = threads()
    classifiers = [run_and_close() for _ in range(3)]
    assert [classifier() for classifier in classifiers] == [None, None, None]
    assert threads() <= baseline


def test_model_card_text_is_shown_as_written_never_as_html(qtbot, tmp_path, media_dir):
    architecture = "<h1 style='font-size:90pt'>big</h1><img src=x>"
    folder = tmp_path / "models"
    folder.mkdir()
    write_model(folder / "html.onnx", linear_model(),
                fer_card(architecture=architecture, dataset="<b>FER</b>2013"))
    window = open_window(qtbot, tmp_path, model=str(folder / "html.onnx"), model_dirs=(folder,))
    qtbot.waitUntil(lambda: window.models.path == str(folder / "html.onnx"), timeout=WAIT_MS)
    state = window.controls.model_state
    assert state.text().startswith(architecture) and state.textFormat() == Qt.TextFormat.PlainText
    assert "&lt;b&gt;FER&lt;/b&gt;2013" in state.toolTip()  # escaped: shown as typed
    window.banner.show_message("model", f"Cannot use this model: {architecture}", "error")
    banner_labels = window.banner.findChildren(type(state))
    assert any(label.text().endswith(architecture) and label.textFormat() == Qt.TextFormat.PlainText
               for label in banner_labels)


def test_a_model_file_with_non_utf8_metadata_is_listed_as_unusable_not_fatal(qtbot, tmp_path):
    folder = tmp_path / "models"
    good = model_folder(folder, good=0.5)["good"]
    write_model_with_raw_metadata(folder / "latin1.onnx", linear_model(seed=7), "dataset",
                                  "Gen\xe8ve".encode("latin-1"))
    window = open_window(qtbot, tmp_path, model_dirs=(folder,))
    qtbot.waitUntil(lambda: window.models.path == str(good), timeout=WAIT_MS)  # the good one runs
    box = window.controls.model_box
    items = [box.itemText(index) for index in range(box.count())]
    assert "latin1.onnx (not usable)" in items and not any("No models" in item for item in items)
    refused = box.model().item(items.index("latin1.onnx (not usable)"))
    assert "not valid UTF-8" in refused.toolTip()


def test_a_window_starts_with_nan_smoothing_in_its_settings_file(qtbot, tmp_path, media_dir):
    """``smoothing_s=nan`` crashed the window at every start: the clamp let NaN through."""
    (tmp_path / "settings.ini").write_text("[General]\nsmoothing_s=nan\n")
    model = model_folder(tmp_path / "models", good=0.5)["good"]
    window = open_window(qtbot, tmp_path, model=str(model),
                         source=str(media_dir / "pyfeat_single_face.mp4"))
    next_result(qtbot, window, "good")
    assert window.session._settings["steadiness"].time_constant_s == AppSettings.smoothing_s.default
