"""Live calibration in the real window: the C shortcut records the selected face's
neutral baseline, the panel says it is calibrated, and the CSV names the baseline."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.face.valence import valence
from tests.test_gui import WAIT_MS, make_window, no_camera_and_own_settings, wait_for_faces  # noqa: F401
from training.data.labels import FER2013_LABELS


def test_the_shortcut_calibrates_the_selected_face_and_the_csv_names_its_baseline(
        qtbot, make_window, media_dir, mini_xception_onnx, tmp_path):  # noqa: F811
    window = make_window(source=str(media_dir / "fer_woman2.mp4"), model=str(mini_xception_onnx))
    assert not window.calibrate_face() or window.timeline.selected_face is not None
    wait_for_faces(qtbot, window)
    path = tmp_path / "calibrated.csv"
    assert window.recording.start(path)
    face_id = window.timeline.selected_face
    window.activateWindow()
    qtbot.keyClick(window.view, Qt.Key.Key_C)
    assert f"Calibrating face #{face_id}" in window.statusBar().currentMessage()
    assert "new ID is uncalibrated" in window.statusBar().currentMessage()

    def calibrated():
        faces = window.result.faces if window.result else ()
        return any(face.face_id == face_id and face.baseline is not None for face in faces)
    qtbot.waitUntil(calibrated, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.view.overlay and "calibrated" in window.view.overlay[0].title,
                    timeout=WAIT_MS)
    (panel,) = window.view.overlay
    face = next(face for face in window.result.faces if face.face_id == face_id)
    assert panel.valence is not None
    assert panel.valence.probability == pytest.approx(valence(face.calibrated_smoothed, FER2013_LABELS))
    window.recording.stop()
    with open(path, newline="", encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if row["row_type"] == "face"]
    named = [row for row in rows if row["baseline"]]
    assert named and rows[0]["baseline"] == "" and rows[0]["calibrated_happy"] == ""
    assert named[0]["baseline"].startswith(f"face {face_id}, ")
    calibrated_values = np.array([float(named[-1][f"calibrated_{label}"]) for label in FER2013_LABELS])
    assert calibrated_values.sum() == pytest.approx(1.0, abs=1e-4)
