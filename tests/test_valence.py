"""Valence: happy minus the strongest negative emotion, in the CSV, the face's panel and
the API, from the same probabilities everywhere."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.face.valence import valence
from app.output.face_layout import layout_faces
from app.output.timeline_csv import CsvRecorder
from tests.test_face_layout import FRAME_SIZE, face
from tests.test_recorder import frame_result, read_rows
from training.data.labels import FER2013_LABELS

ORDER = {label: index for index, label in enumerate(FER2013_LABELS)}


def probabilities(**named: float) -> np.ndarray:
    values = np.zeros(len(FER2013_LABELS))
    for label, value in named.items():
        values[ORDER[label]] = value
    return values


@pytest.mark.parametrize("named, expected", [
    ({"happy": 0.7, "sad": 0.2, "angry": 0.1}, 0.5),
    ({"happy": 0.1, "fear": 0.6, "disgust": 0.3}, -0.5),
    ({"surprise": 0.5, "neutral": 0.5}, 0.0),  # neither side counts
    ({"happy": 1.0}, 1.0),
    ({"angry": 1.0}, -1.0),
])
def test_happy_minus_the_strongest_negative_emotion(named, expected):
    assert valence(probabilities(**named), FER2013_LABELS) == pytest.approx(expected)


def test_rows_of_an_array_and_labels_without_a_side():
    rows = np.stack([probabilities(happy=0.9, sad=0.1), probabilities(sad=0.8, happy=0.2)])
    assert valence(rows, FER2013_LABELS) == pytest.approx([0.8, -0.6])
    assert math.isnan(valence([0.3, 0.7], ("calm", "joy")))
    assert math.isnan(valence([0.3, 0.7], ("happy", "neutral")))  # no negative emotion
    assert math.isnan(valence(np.full(7, np.nan), FER2013_LABELS))  # an unreadable face


def test_the_csv_holds_the_valence_of_the_frame_and_of_the_smoothed_read(tmp_path):
    path = tmp_path / "valence.csv"
    recorder = CsvRecorder(path, FER2013_LABELS)
    recorder.write_frame(frame_result(0))
    recorder.close()
    (row,) = read_rows(path)
    raw = np.array([float(row[f"p_{label}"]) for label in FER2013_LABELS])
    smoothed = np.array([float(row[f"smoothed_{label}"]) for label in FER2013_LABELS])
    assert float(row["valence"]) == pytest.approx(valence(raw, FER2013_LABELS), abs=1e-4)
    assert float(row["valence_smoothed"]) == pytest.approx(valence(smoothed, FER2013_LABELS), abs=1e-4)
    assert float(row["valence"]) != pytest.approx(float(row["valence_smoothed"]))


@pytest.mark.parametrize("named, side", [({"happy": 0.8, "sad": 0.2}, "right"),
                                         ({"happy": 0.1, "angry": 0.7, "sad": 0.2}, "left")])
def test_the_panel_s_gauge_fills_from_its_middle(named, side):
    values = probabilities(**named)
    (layout,) = layout_faces([face(1, probabilities=values)], FRAME_SIZE, text_px=12.0)
    gauge = layout.valence
    expected = valence(values, FER2013_LABELS)
    assert gauge is not None and gauge.label == "valence" and gauge.text == f"{expected:+.2f}"
    assert gauge.fill.width == pytest.approx(gauge.track.width / 2 * abs(expected))
    middle = gauge.track.center[0]
    if side == "right":
        assert gauge.fill.x == pytest.approx(middle)
    else:
        assert gauge.fill.right == pytest.approx(middle)
    assert layout.painted_bars[-1] is gauge and gauge.track.bottom <= layout.panel.bottom
    assert gauge.track.y > max(bar.track.bottom for bar in layout.bars)  # below the emotions


def test_labels_without_valence_have_no_gauge():
    from app.face.quality import FaceQuality
    from app.results import FaceResult
    odd = FaceResult(1, (100, 100, 120, 120), {}, "mesh", ("calm", "joy"), np.array([0.4, 0.6]),
                     np.array([0.4, 0.6]), FaceQuality(40.0, 0.5, 1.0, 0.0, 0.0, 100.0))
    (layout,) = layout_faces([odd], FRAME_SIZE, text_px=12.0)
    assert layout.valence is None and layout.painted_bars == layout.bars
