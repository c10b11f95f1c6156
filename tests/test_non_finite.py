"""A model that outputs NaN: the face reads as unreadable, never as "nan%".

A damaged or badly exported model file can give NaN (or infinity) for some or all
faces. Before, the panel showed "nan%", the emotion shown was the first label (the
argmax of NaNs), the smoothing stayed NaN for the rest of the face's life and the
annotated video crashed; nothing told the user why.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from datetime import datetime

import numpy as np
import pytest
from onnx import numpy_helper

from app.face.quality import FaceQuality
from app.face.steady import Steadiness, SteadyRead
from app.model.inference import EmotionClassifier
from app.output.annotate import draw_result
from app.pipeline import Pipeline
from app.results import UNREADABLE, FaceResult, Frame, percent_text
from tests.onnx_fixtures import fer_card, linear_model, write_model
from training.data.labels import FER2013_LABELS

CPU = ["CPUExecutionProvider"]


def nan_model_file(path):
    """The linear probe with a NaN bias: every logit, so every probability, is NaN."""
    model = linear_model()
    for index, tensor in enumerate(model.graph.initializer):
        if tensor.name == "bias":
            model.graph.initializer[index].CopyFrom(
                numpy_helper.from_array(np.full(len(FER2013_LABELS), np.nan, np.float32), "bias"))
    return write_model(path, model, fer_card(architecture="nan_probe"))


def non_finite_warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.levelno == logging.WARNING and "not numbers" in record.getMessage()]


@pytest.fixture(scope="module")
def nan_run(tmp_path_factory, single_face_image):
    """One real frame through the pipeline with the NaN model, recorded to a CSV."""
    folder = tmp_path_factory.mktemp("nan_run")
    pipeline = Pipeline(nan_model_file(folder / "nan_probe.onnx"), provider="cpu")
    csv_path = pipeline.start_recording(folder / "timeline.csv")
    try:
        result = pipeline.process(Frame(single_face_image, 0, time.monotonic(),
                                        datetime.now().astimezone()))
    finally:
        pipeline.stop_recording()
        pipeline.close()
    with open(csv_path, newline="", encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if row["row_type"] == "face"]
    assert result.faces and len(rows) == len(result.faces), "the image's face was not found"
    return result, rows


def test_nan_outputs_give_all_nan_rows_and_one_warning_naming_the_model(tmp_path, caplog):
    path = nan_model_file(tmp_path / "nan_probe.onnx")
    classifier = EmotionClassifier(path, CPU)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):  # frame after frame: still one warning
            prediction = classifier.predict(np.zeros((3, 1, 48, 48), np.float32))
    assert prediction.probabilities.shape == (3, len(FER2013_LABELS))
    assert np.isnan(prediction.probabilities).all()
    warnings = non_finite_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "nan_probe" in warnings[0] and str(path) in warnings[0]


def test_finite_outputs_pass_unchanged_and_warn_nothing(tmp_path, caplog):
    classifier = EmotionClassifier(write_model(tmp_path / "probe.onnx", linear_model(), fer_card()), CPU)
    batch = np.random.default_rng(0).normal(size=(2, 1, 48, 48)).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        prediction = classifier.predict(batch)
    np.testing.assert_allclose(prediction.probabilities, classifier.probabilities(batch))
    assert np.isfinite(prediction.probabilities).all()
    assert non_finite_warnings(caplog) == []


def test_an_unreadable_frame_leaves_the_steady_read_as_it_was():
    steadiness = Steadiness(0.2, 0.0, 0.0)
    first, second = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.2, 0.7])
    read, reference = SteadyRead(), SteadyRead()
    read.update(first, 0.0, steadiness)
    smoothed, shown = read.update(np.array([np.nan, 0.5, np.inf]), 0.1, steadiness)
    assert np.isnan(smoothed).all() and shown == 0
    reference.update(first, 0.0, steadiness)
    np.testing.assert_allclose(read.update(second, 0.2, steadiness)[0],
                               reference.update(second, 0.2, steadiness)[0])


def test_a_face_seen_first_unreadable_shows_no_emotion():
    smoothed, shown = SteadyRead().update(np.full(3, np.nan), 0.0, Steadiness())
    assert np.isnan(smoothed).all() and shown is None


def test_percentages_of_non_numbers_read_as_a_dash():
    assert percent_text(0.873) == "87%"
    assert percent_text(math.nan) == UNREADABLE == "\u2014"
    assert percent_text(math.inf, "--") == "--"


def test_an_ensemble_member_that_gave_nan_has_no_top_emotion():
    members = np.array([[0.1, 0.8, 0.1], [np.nan] * 3])
    face = FaceResult(1, (0, 0, 10, 10), {}, "mesh", ("a", "b", "c"), np.array([0.1, 0.8, 0.1]),
                      np.array([0.1, 0.8, 0.1]), FaceQuality(50, 0.5, 1.0, None, None, 100.0),
                      member_names=("good", "broken"), member_probabilities=members)
    assert face.readable and face.member_top_labels == ("b", "")
    assert face.agreement_text == "1/2 agree"


def test_the_window_shows_a_nan_face_as_unreadable(qtbot, nan_run):
    from app.gui.video_view import VideoView

    result, _ = nan_run
    face = result.faces[0]
    assert not face.readable
    assert face.top_label == "" and math.isnan(face.top_probability)
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show_result(result)
    view.grab()  # paints the panels, as the window does
    overlay = view.overlay[0]
    assert overlay.title == f"#{face.face_id}  unreadable"
    assert [bar.text for bar in overlay.bars] == [UNREADABLE] * len(FER2013_LABELS)
    assert not any(bar.top for bar in overlay.bars)
    assert all(bar.fill.width == 0 for bar in overlay.bars)


def test_the_annotated_video_draws_a_nan_face_without_failing(nan_run):
    result, _ = nan_run
    image = draw_result(result)  # raised "cannot convert float NaN to integer"
    assert image.shape == result.frame.image.shape
    assert not np.array_equal(image, result.frame.image)  # the box and panel were drawn


def test_the_csv_names_no_emotion_for_a_nan_face(nan_run):
    _, rows = nan_run
    assert rows[0]["top_emotion_smoothed"] == ""
    assert rows[0]["face_id"] and rows[0]["box_w_px"]  # the face itself is still recorded


def test_the_csv_leaves_a_nan_face_s_probabilities_empty(nan_run):
    _, rows = nan_run
    cells = {name: value for name, value in rows[0].items()
             if name.startswith(("p_", "smoothed_")) or name in ("top_emotion", "top_probability")}
    assert cells and set(cells.values()) == {""}, cells
