"""Test-time views: the graph reads the crop through exact warps, and ``emotion-train views``
writes a model the app runs like any other, measured on val, never chosen on test."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from app.model.card import read_card
from app.model.inference import EmotionClassifier
from tests.conftest import REPO_ROOT
from tests.onnx_fixtures import fer_card, linear_model, write_ensemble, write_model
from training.cli import main
from training.commands.views import score_combinations, wrap
from training.data import DataOptions
from training.evaluate import classifier_for, evaluate, load_for
from training.view_graph import (
    VIEW_SETS,
    View,
    build_graph,
    inner_model,
    is_wrapped,
    sampling_grids,
    views_of,
)

CPU = ["CPUExecutionProvider"]
SHIPPED_PLAIN = REPO_ROOT / "models_onnx" / "yolov8_dyconv_gam.onnx"
"""A trained shipped model not itself read over views."""


def run(model: onnx.ModelProto, batch: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=CPU)
    return session.run(None, {"input": batch})


def probabilities(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(1, keepdims=True))
    return exponentials / exponentials.sum(1, keepdims=True)


@pytest.fixture()
def crops():
    return np.random.default_rng(0).normal(size=(3, 1, 48, 48)).astype(np.float32)


def test_the_crop_itself_and_a_whole_pixel_shift_are_read_exactly(crops):
    model = linear_model(seed=1)
    alone = probabilities(run(model, crops)[0])
    itself = np.exp(run(build_graph(model, [View()], 1, 48, 7), crops)[0])
    np.testing.assert_allclose(itself, alone, atol=1e-6)
    right = build_graph(model, [View(shift_x=1 / 48)], 1, 48, 7)  # one pixel right, border repeated
    moved = np.concatenate([crops[..., :1], crops[..., :-1]], axis=3)
    np.testing.assert_allclose(np.exp(run(right, crops)[0]), probabilities(run(model, moved)[0]), atol=1e-6)


def test_the_output_is_the_average_of_the_views_probabilities(crops):
    model = linear_model(seed=2)
    views = [View(), View(degrees=6.0), View(scale=1.08)]
    each = [np.exp(run(build_graph(model, [view], 1, 48, 7), crops)[0]) for view in views]
    together = np.exp(run(build_graph(model, views, 1, 48, 7), crops)[0])
    np.testing.assert_allclose(together, np.mean(each, axis=0), atol=1e-6)
    assert together.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-5)


def test_rotation_and_zoom_keep_the_centre_where_it_is():
    grids = sampling_grids([View(degrees=6.0), View(scale=0.92)], 48)
    centre = grids[0, :, 23:25, 23:25].mean(axis=(1, 2))
    np.testing.assert_allclose(centre, 0.0, atol=1e-6)
    corner = grids[0, 1, 0, 0]  # zoomed out: the output's corner samples beyond the crop's
    assert (np.abs(corner) > 1.0).all()


def test_an_ensembles_member_probabilities_are_averaged_too(tmp_path, crops):
    members = [write_model(tmp_path / f"m{seed}.onnx", linear_model(seed=seed), fer_card())
               for seed in (3, 4)]
    ensemble = onnx.load(str(write_ensemble(tmp_path / "ensemble.onnx", members)))
    logits, members_alone = run(ensemble, crops)
    wrapped = build_graph(ensemble, [View()], 1, 48, 7)
    wrapped_logits, wrapped_members = run(wrapped, crops)
    np.testing.assert_allclose(wrapped_members, members_alone, atol=1e-6)
    np.testing.assert_allclose(wrapped_logits, logits, atol=1e-5)
    assert wrapped_members.shape == (3, 2, 7)


def test_the_inner_model_comes_back_out_of_a_views_file(crops):
    """A warm start needs the model inside a views file: its logits, not the views' average."""
    model = linear_model(seed=5)
    wrapped = build_graph(model, [View(), View(degrees=6.0)], 1, 48, 7)
    assert is_wrapped(wrapped) and not is_wrapped(model)
    assert inner_model(model) is model
    inner = inner_model(wrapped)
    onnx.checker.check_model(inner, full_check=True)
    np.testing.assert_allclose(run(inner, crops)[0], run(model, crops)[0], atol=1e-6)


def test_unknown_view_sets_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="valid: rotate, zoom, shift"):
        views_of(["tilt"])
    assert len(views_of(list(VIEW_SETS))) == 9


def test_views_writes_a_model_the_app_runs_measured_on_val(fer2013_root, mini_xception_onnx, tmp_path,
                                                           capsys):
    out = tmp_path / "mini_views.onnx"
    assert main(["views", str(mini_xception_onnx), "--views", "rotate", "--data", str(fer2013_root),
                 "--out", str(out)]) == 0
    card = read_card(out)
    assert card.training["views"] == ["rotate"] and "3 views of the crop" in card.training["test_time"]
    assert card.training["views_command"].startswith("emotion-train views")
    assert "test_accuracy" not in card.metrics and 0.0 <= card.metrics["val_accuracy"] <= 1.0
    assert card.training["evaluated_on"].endswith("FER2013 val")
    classifier = EmotionClassifier(out, CPU)
    read = classifier.probabilities(np.full((2, 1, 48, 48), 0.1, np.float32))
    assert read.shape == (2, 7) and read.sum(axis=1) == pytest.approx([1, 1], abs=1e-5)
    assert "val accuracy" in capsys.readouterr().out


def test_views_refuses_test_a_wrapped_model_and_overwriting(fer2013_root, mini_xception_onnx, tmp_path,
                                                            caplog):
    out = tmp_path / "mini_views.onnx"
    assert main(["views", str(mini_xception_onnx), "--search", "--data", str(fer2013_root),
                 "--split", "test", "--out", str(out)]) == 2
    assert "chosen on a validation split" in caplog.text and not out.exists()
    assert main(["views", str(mini_xception_onnx), "--views", "zoom", "--out", str(out)]) == 0
    assert main(["views", str(mini_xception_onnx), "--views", "zoom", "--out", str(out)]) == 2
    assert "already exists; pass --overwrite" in caplog.text
    assert main(["views", str(out), "--views", "shift", "--out", str(tmp_path / "twice.onnx")]) == 2
    assert "already read over views (zoom)" in caplog.text
    assert main(["views", str(out), "--views", "shift", "--out", str(out)]) == 2
    assert "--out must differ" in caplog.text
    assert main(["views", str(mini_xception_onnx), "--out", str(out)]) == 2
    assert "either --views" in caplog.text
    assert main(["views", str(mini_xception_onnx), "--search", "--data", str(fer2013_root), "--max-p", "0",
                 "--out", str(out)]) == 2
    assert "--max-p must be in (0, 1]" in caplog.text


def test_the_search_scores_each_combination_as_its_file_reads(fer2013_root, tmp_path):
    """The search reads each view set once and pools them; each pooled score must be the
    accuracy of the file with those views, or the search would pick a combination that
    does not do what it measured."""
    model = SHIPPED_PLAIN
    card = read_card(model)
    assert "views" not in card.training
    crops = load_for(classifier_for(model), fer2013_root, "val", options=DataOptions(limit_per_class=25))
    alone, found = score_combinations(model, card, crops, "cpu", 64, tmp_path)
    assert alone == pytest.approx(evaluate(classifier_for(model), crops).report.accuracy)
    assert len(found) == 2 ** len(VIEW_SETS) - 1
    assert all(0.0 < scored.p_value <= 1.0 for scored in found)
    for scored in (found[0], found[-1]):
        path = wrap(model, card, scored.names, tmp_path / f"{'-'.join(scored.names)}-file.onnx")
        assert scored.accuracy == pytest.approx(evaluate(classifier_for(path), crops).report.accuracy,
                                                abs=1 / len(crops))
