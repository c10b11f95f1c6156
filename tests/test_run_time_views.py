"""Views at run time: one plain file read once, mirrored, or over every view its card
chose, at the user's choice in the pipeline, the command line, the API, batch and the
window; every read says which setting made it."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import datetime

import numpy as np
import onnx
import pytest

from app.api import EmotionRecognizer
from app.batch.command import build_parser as batch_parser
from app.batch.command import settings_text
from app.cli import main as app_main
from app.model.card import read_card
from app.model.views import ViewPlan
from app.pipeline import Pipeline
from app.results import Frame
from tests.onnx_fixtures import fer_card, linear_model, write_model

CPU = ["CPUExecutionProvider"]
NOW = datetime.now().astimezone()


@pytest.fixture(scope="module")
def viewed_model(tmp_path_factory):
    """A plain model whose card chose two rotations and the mirror."""
    path = tmp_path_factory.mktemp("views") / "viewed.onnx"
    plan = ViewPlan(("rotate",), True, {"none": 0.5, "all": 0.6})
    write_model(path, linear_model(seed=7), replace(fer_card(), views=plan))
    assert read_card(path).views.sets == ("rotate",)
    return path


def test_the_pipeline_reads_the_setting_asked_for_and_says_which(viewed_model, single_face_image):
    reads = {}
    with_pipeline = Pipeline(viewed_model, provider="cpu")
    try:
        for setting in ("none", "mirror", "all", "auto"):
            with_pipeline.views = setting
            with_pipeline.reset_tracking()
            (face,) = with_pipeline.process(Frame(single_face_image, 0, 0.0, NOW)).faces
            reads[setting] = face
    finally:
        with_pipeline.close()
    assert [reads[setting].views for setting in ("none", "mirror", "all")] == ["none", "mirror", "all"]
    assert reads["auto"].views == "all"  # a frame given on its own: every view
    assert not np.allclose(reads["none"].probabilities, reads["all"].probabilities)
    np.testing.assert_allclose(reads["auto"].probabilities, reads["all"].probabilities, atol=1e-6)
    with pytest.raises(ValueError, match="valid: auto, none, mirror, all"):
        with_pipeline.views = "most"


def test_headless_records_the_views_setting_in_every_row(viewed_model, media_dir, tmp_path):
    csv_path = tmp_path / "none.csv"
    assert app_main(["--headless", "--source", str(media_dir / "fer_woman2.mp4"), "--model",
                     str(viewed_model), "--views", "none", "--csv", str(csv_path), "--max-frames", "5"]) == 0
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {row["views"] for row in rows} == {"none"}


def test_an_unknown_setting_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        app_main(["--headless", "--source", "x.mp4", "--views", "most"])
    assert exit_info.value.code == 2 and "auto, none, mirror, all" in capsys.readouterr().err.replace("'", "")


def test_the_api_and_batch_take_the_setting(viewed_model, single_face_image):
    with EmotionRecognizer(viewed_model, provider="cpu", views="none") as recognizer:
        (face,) = recognizer.analyze(single_face_image)
    assert face.views == "none"
    with EmotionRecognizer(viewed_model, provider="cpu") as recognizer:
        (face,) = recognizer.analyze(single_face_image)
    assert face.views == "all"
    with pytest.raises(ValueError, match="valid: auto"):
        EmotionRecognizer(viewed_model, provider="cpu", views="some")
    parsed = batch_parser().parse_args(["in", "--out", "out", "--views", "mirror"])
    assert "views=mirror" in settings_text(parsed)


def test_an_old_file_with_views_inside_still_loads(viewed_model, tmp_path):
    """A card without ``emotion.views`` (written before run-time views) reads once per face."""
    proto = onnx.load(str(viewed_model))
    kept = [entry for entry in proto.metadata_props if entry.key != "emotion.views"]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    old = tmp_path / "old.onnx"
    onnx.save_model(proto, str(old))
    assert read_card(old).views == ViewPlan()
