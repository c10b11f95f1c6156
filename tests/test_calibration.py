"""A per-person neutral baseline: the correction, live in the tracker (a face keeps it
while it keeps its ID) and after the fact on a recorded CSV."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from app.cli import main as emotion_app
from app.face.baseline import CORRECTION, CORRECTIONS, Baseline
from app.face.steady import OFF
from app.face.tracking import FaceTracker
from app.face.valence import valence
from app.output.timeline_csv import CsvRecorder
from tests.test_recorder import frame_result
from training.data.labels import FER2013_LABELS

BOX = (100.0, 100.0, 80.0, 80.0)
RESTING = np.array([0.02, 0.01, 0.05, 0.02, 0.40, 0.05, 0.45])  # a face that rests partly "sad"
SMILING = np.array([0.01, 0.01, 0.03, 0.45, 0.20, 0.05, 0.25])


def test_the_correction_subtracts_the_baseline_and_renormalises():
    baseline = Baseline.from_probabilities([RESTING, RESTING], FER2013_LABELS, "rest")
    assert baseline.frames == 2 and baseline.probabilities == pytest.approx(RESTING)
    corrected = baseline.correct(SMILING)
    left = np.clip(SMILING - RESTING, 0, None)
    assert CORRECTION == "difference" and corrected == pytest.approx(left / left.sum())
    assert FER2013_LABELS[int(np.argmax(SMILING))] == "happy" == FER2013_LABELS[int(np.argmax(corrected))]
    assert corrected.sum() == pytest.approx(1.0)
    assert np.isnan(baseline.correct(np.full(7, np.nan))).all()  # unreadable stays unreadable
    assert baseline.correct(RESTING) == pytest.approx(RESTING)  # nothing above the rest: as it was
    ratio = CORRECTIONS["log_ratio"](SMILING, RESTING)
    assert ratio == pytest.approx(SMILING / RESTING / (SMILING / RESTING).sum())


def test_a_baseline_needs_readable_frames_of_its_labels():
    with pytest.raises(ValueError, match="no readable frame"):
        Baseline.from_probabilities([np.full(7, np.nan)], FER2013_LABELS, "dark")
    with pytest.raises(ValueError, match="no readable frame"):
        Baseline.from_probabilities([], FER2013_LABELS, "empty")
    baseline = Baseline.from_probabilities([RESTING], FER2013_LABELS, "rest")
    with pytest.raises(ValueError, match="7 labels"):
        baseline.correct(np.array([0.5, 0.5]))


def test_live_calibration_records_the_face_then_corrects_it_until_its_id_changes():
    tracker = FaceTracker(OFF, grace_s=1.0)
    (first,) = tracker.update([BOX], RESTING[None], 0.0)
    tracker.calibrate(first.face_id, 1.0, FER2013_LABELS)
    times = np.arange(1, 15) * 0.1
    faces = [tracker.update([BOX], (RESTING if time <= 1.2 else SMILING)[None], time)[0] for time in times]
    recording = [face for face in faces if face.calibrating]
    assert recording and all(face.baseline is None for face in recording)
    calibrated = [face for face in faces if face.baseline is not None]
    assert calibrated and not any(face.calibrating for face in calibrated)
    baseline = calibrated[-1].baseline
    assert baseline.probabilities == pytest.approx(RESTING)
    assert baseline.name.startswith(f"face {first.face_id}, 0.10-1.10 s")
    assert calibrated[-1].calibrated == pytest.approx(baseline.correct(SMILING))
    assert calibrated[-1].calibrated_smoothed == pytest.approx(baseline.correct(SMILING))  # OFF: no smoothing
    assert calibrated[-1].smoothed == pytest.approx(SMILING)  # the raw read goes on beside it
    # Gone for longer than the grace period: back with a new ID and no baseline.
    tracker.update([], np.empty((0, 7)), 2.6)  # an analysed frame without it
    (back,) = tracker.update([BOX], SMILING[None], 3.0)
    assert back.face_id != first.face_id and back.baseline is None and back.calibrated is None


def test_calibrating_a_face_no_longer_in_view_is_logged_and_changes_nothing(caplog):
    tracker = FaceTracker(OFF)
    tracker.update([BOX], RESTING[None], 0.0)
    tracker.calibrate(99, 1.0, FER2013_LABELS)
    (face,) = tracker.update([BOX], RESTING[None], 0.1)
    assert not face.calibrating and "face 99 is no longer in view" in caplog.text
    with pytest.raises(ValueError, match="seconds must be 0 or more"):
        tracker.calibrate(1, -1.0, FER2013_LABELS)


@pytest.fixture
def recorded(tmp_path):
    """A CSV of two faces over 20 frames (t_seconds rising), a marker after frame 4."""
    path = tmp_path / "session.csv"
    recorder = CsvRecorder(path, FER2013_LABELS)
    for index in range(20):
        recorder.write_frame(frame_result(index, faces=2))
        if index == 4:
            recorder.write_marker("rest")
    recorder.close()
    return path


def read(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_a_recorded_csv_is_calibrated_from_a_time_range(recorded, tmp_path, capsys):
    out = tmp_path / "calibrated.csv"
    times = [float(row["t_seconds"]) for row in read(recorded)]
    assert emotion_app(["calibrate", str(recorded), "--from", "0", "--to", str(max(times)),
                        "--out", str(out)]) == 0
    before, after = read(recorded), read(out)
    assert list(after[0]) == list(before[0]) and len(after) == len(before)
    for old, new in zip(before, after):
        assert {name: new[name] for name in old if not name.startswith(("calibrated_", "valence_cal"))
                and name != "baseline"} == {name: cell for name, cell in old.items()
                                             if not name.startswith(("calibrated_", "valence_cal"))
                                             and name != "baseline"}
    face_rows = [row for row in after if row["row_type"] == "face"]
    raw = np.array([float(face_rows[0][f"p_{label}"]) for label in FER2013_LABELS])
    expected = Baseline.from_probabilities([raw], FER2013_LABELS, "").correct(raw)
    assert [float(face_rows[0][f"calibrated_{label}"]) for label in FER2013_LABELS] == pytest.approx(
        expected, abs=1e-6)
    assert float(face_rows[0]["valence_calibrated"]) == pytest.approx(valence(expected, FER2013_LABELS),
                                                                       abs=1e-4)
    assert {row["baseline"] for row in face_rows} == {
        f"t 0-{max(times):g} s (face {face_id}, 20 frames)" for face_id in (1, 2)}
    assert [row["baseline"] for row in after if row["row_type"] == "marker"] == [""]
    assert "face 1: t 0-" in capsys.readouterr().out


def test_a_marker_gives_the_range_and_bad_requests_say_why(recorded, tmp_path, capsys):
    out = tmp_path / "calibrated.csv"
    assert emotion_app(["calibrate", str(recorded), "--marker", "rest", "--seconds", "60",
                        "--out", str(out)]) == 0
    rows = read(out)
    face_rows = [row for row in rows if row["row_type"] == "face"]
    (marker_s,) = [float(row["t_seconds"]) for row in rows if row["row_type"] == "marker"]
    after = sum(float(row["t_seconds"]) >= marker_s for row in face_rows if row["face_id"] == "1")
    assert 15 <= after < 20
    assert {row["baseline"] for row in face_rows} == {
        f"marker 'rest' + 60 s (face {face_id}, {after} frames)" for face_id in (1, 2)}
    assert emotion_app(["calibrate", str(recorded), "--marker", "rest", "--out", str(out)]) == 2
    assert "exists (pass --overwrite" in capsys.readouterr().err
    assert emotion_app(["calibrate", str(recorded), "--marker", "cue", "--out", str(out),
                        "--overwrite"]) == 2
    assert "has no marker 'cue' (its markers: 'rest')" in capsys.readouterr().err
    assert emotion_app(["calibrate", str(recorded), "--from", "500", "--to", "600", "--out",
                        str(out), "--overwrite"]) == 2
    assert "nothing to take a baseline from" in capsys.readouterr().err
    assert emotion_app(["calibrate", str(recorded), "--out", str(out), "--overwrite"]) == 2
    assert "give a time range" in capsys.readouterr().err
    not_csv = tmp_path / "notes.csv"
    not_csv.write_text("a,b\n1,2\n")
    assert emotion_app(["calibrate", str(not_csv), "--marker", "rest", "--out", str(tmp_path / "x.csv")]) == 2
    assert "is not an emotion timeline" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
    assert math.isfinite(float(face_rows[-1]["calibrated_happy"]))
