"""The Python API beyond seven labels, on real footage: a baseline from images or a range
of a video, calibrated reads, and a recorded run with its report."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from app import EmotionRecognizer
from app.api import calibrate_csv, report
from app.face.baseline import Baseline
from app.face.valence import valence

MODEL = "mini_xception"


@pytest.fixture(scope="module")
def recognizer():
    with EmotionRecognizer(MODEL, provider="cpu") as instance:
        yield instance
        instance.calibrate(None)


def test_a_baseline_from_images_corrects_every_face_after_it(recognizer, single_face_image):
    (plain,) = recognizer.analyze(single_face_image)
    assert plain.calibrated is None and math.isnan(plain.calibrated_valence)
    baseline = recognizer.baseline_from_images([single_face_image, single_face_image], name="rest")
    assert baseline.name == "rest" and baseline.frames == 2
    expected = [plain.probabilities[label] for label in recognizer.labels]
    assert baseline.probabilities == pytest.approx(expected)
    recognizer.calibrate(baseline)
    try:
        (face,) = recognizer.analyze(single_face_image)
    finally:
        recognizer.calibrate(None)
    raw = np.array([face.probabilities[label] for label in recognizer.labels])
    assert list(face.calibrated) == list(recognizer.labels)
    assert [face.calibrated[label] for label in recognizer.labels] == pytest.approx(baseline.correct(raw))
    assert face.calibrated_valence == pytest.approx(valence(baseline.correct(raw), recognizer.labels))
    (after,) = recognizer.analyze(single_face_image)
    assert after.calibrated is None  # calibrate(None) stops it


def test_a_baseline_from_a_range_of_a_video_and_its_bad_cases(recognizer, media_dir, tmp_path):
    baseline = recognizer.baseline_from_video(media_dir / "fer_woman2.mp4", 0.0, 1.0)
    assert baseline.name.startswith("fer_woman2.mp4 0-1 s (") and 20 <= baseline.frames <= 40
    with pytest.raises(ValueError, match="no face to take the baseline"):
        recognizer.baseline_from_images([np.zeros((120, 160, 3), np.uint8)])
    with pytest.raises(ValueError, match="labels"):
        recognizer.calibrate(Baseline.from_probabilities([[0.5, 0.5]], ("calm", "joy"), "other"))


def test_a_recorded_run_calibrated_with_its_report(recognizer, media_dir, tmp_path):
    baseline = recognizer.baseline_from_video(media_dir / "fer_test.mp4", 0.0, 0.5)
    recognizer.calibrate(baseline)
    try:
        status = recognizer.record_video(media_dir / "fer_test.mp4", tmp_path / "run.csv",
                                         report=tmp_path / "run.html", max_frames=40)
    finally:
        recognizer.calibrate(None)
    with open(status.path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == status.rows >= 30 and all(row["baseline"] == baseline.name for row in rows)
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert f"Calibrated: baseline {baseline.name}" in page and "<svg" in page and "fer_test.mp4" in page
    # After the fact too: the same CSV recalibrated from a range, and a report of it.
    baselines = calibrate_csv(status.path, tmp_path / "again.csv", start_s=0.0, end_s=0.5)
    assert set(baselines) == {int(rows[0]["face_id"])}
    assert report(tmp_path / "again.csv", tmp_path / "again.html").is_file()
