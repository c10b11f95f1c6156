"""``emotion-train compare`` on shipped models and real FER2013 crops, labels aligned by
name or refused, and the bootstrap interval ``emotion-train evaluate`` now reports."""

import json

import numpy as np
import pytest
from onnx import numpy_helper

from tests.conftest import REPO_ROOT
from tests.onnx_fixtures import fer_card, linear_model, write_model
from training.cli import main as emotion_train
from training.data.labels import FER2013_LABELS
from training.significance import mcnemar_exact

MODELS = REPO_ROOT / "models_onnx"
MINI_XCEPTION = MODELS / "mini_xception.onnx"
OTHER = MODELS / "yolov8_dyconv_gam.onnx"  # 64x64 input: its own crops, paired with A's
SUBSET = ["--limit-per-class", "10", "--resamples", "500"]


def run_compare(model_a, model_b, data, out, *extra):
    code = emotion_train(["compare", str(model_a), str(model_b), "--data", str(data), *SUBSET,
                          "--json", str(out), *extra])
    return code, (json.loads(out.read_text()) if out.exists() else None)


def test_a_model_against_itself_differs_by_nothing(fer2013_root, tmp_path, capsys):
    code, result = run_compare(MINI_XCEPTION, MINI_XCEPTION, fer2013_root, tmp_path / "self.json")
    assert code == 0
    assert result["samples"] == 70 and result["a"]["accuracy"] == result["b"]["accuracy"]
    assert result["only_a_correct"] == result["only_b_correct"] == 0
    assert result["mcnemar_exact_p"] == 1.0
    assert result["difference_b_minus_a"] == {"accuracy": 0.0, "macro_f1": 0.0}
    assert result["bootstrap_b_minus_a"]["accuracy"] == [0.0, 0.0]
    assert result["bootstrap_b_minus_a"]["macro_f1"] == [0.0, 0.0]
    assert "McNemar exact p = 1" in capsys.readouterr().out


def test_two_shipped_models_on_real_crops(fer2013_root, tmp_path, capsys):
    code, result = run_compare(MINI_XCEPTION, OTHER, fer2013_root, tmp_path / "pair.json")
    assert code == 0 and result["samples"] == 70 and result["split"] == "val"
    only_a, only_b = result["only_a_correct"], result["only_b_correct"]
    difference = result["difference_b_minus_a"]
    # Only the discordant images move the accuracy: B - A = (only B - only A) / n.
    assert difference["accuracy"] == pytest.approx((only_b - only_a) / 70)
    assert result["mcnemar_exact_p"] == pytest.approx(mcnemar_exact(only_a, only_b))
    low, high = result["bootstrap_b_minus_a"]["accuracy"]
    assert low <= difference["accuracy"] <= high and high - low > 0
    low, high = result["bootstrap_b_minus_a"]["macro_f1"]
    assert low <= difference["macro_f1"] <= high
    output = capsys.readouterr().out
    assert f"only A right: {only_a}   only B right: {only_b}" in output and "B - A accuracy" in output

    # A's figures are exactly what ``evaluate`` reports for it on the same images.
    assert emotion_train(["evaluate", str(MINI_XCEPTION), "--data", str(fer2013_root), *SUBSET,
                          "--out-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "mini_xception_val.json").read_text())
    assert result["a"]["accuracy"] == report["accuracy"] and result["a"]["macro_f1"] == report["macro_f1"]


def permuted_copy(tmp_path, name, order):
    """The same linear model with its outputs (weights, bias and labels) in ``order``."""
    model = linear_model(seed=3)
    for initializer in model.graph.initializer:
        values = numpy_helper.to_array(initializer)
        permuted = values[..., order] if initializer.name in ("weight", "bias") else values
        initializer.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(permuted), initializer.name))
    labels = tuple(FER2013_LABELS[index] for index in order)
    return write_model(tmp_path / name, model, fer_card(labels=labels))


def test_labels_in_another_order_are_aligned_by_name(fer2013_root, tmp_path):
    identity = permuted_copy(tmp_path, "plain.onnx", list(range(7)))
    shuffled = permuted_copy(tmp_path, "shuffled.onnx", [6, 2, 0, 5, 1, 3, 4])
    code, result = run_compare(identity, shuffled, fer2013_root, tmp_path / "aligned.json")
    assert code == 0 and result["only_a_correct"] == result["only_b_correct"] == 0
    assert result["a"]["macro_f1"] == result["b"]["macro_f1"]


def test_models_with_other_labels_are_refused(tmp_path, caplog):
    labels = (*FER2013_LABELS[:6], "contempt")
    other = write_model(tmp_path / "contempt.onnx", linear_model(), fer_card(labels=labels))
    # No data is needed: the labels are compared before any image is decoded.
    code, result = run_compare(MINI_XCEPTION, other, tmp_path, tmp_path / "refused.json")
    assert code == 2 and result is None
    assert "different labels" in caplog.text and "contempt" in caplog.text


def test_evaluate_reports_a_bootstrap_interval(fer2013_root, tmp_path, capsys):
    assert emotion_train(["evaluate", str(MINI_XCEPTION), "--data", str(fer2013_root),
                          "--limit-per-class", "10", "--out-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "mini_xception_val.json").read_text())
    bootstrap = report["bootstrap"]
    assert bootstrap["confidence"] == 0.95 and bootstrap["resamples"] == 2000 and bootstrap["seed"] == 0
    low, high = bootstrap["accuracy"]
    assert low <= report["accuracy"] <= high and 0 < high - low < 0.5
    low, high = bootstrap["macro_f1"]
    assert low <= report["macro_f1"] <= high
    assert "95% bootstrap interval (2000 resamples, seed 0): accuracy [" in capsys.readouterr().out
