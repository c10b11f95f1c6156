"""Accuracy, macro-F1 and per-class recall from confusion matrices, checked against definitions."""

import json

import numpy as np

from training.metrics import confusion_matrix, plot_confusion, report_from_predictions

LABELS = ("a", "b", "c", "d")


def test_figures_match_their_definitions():
    rng = np.random.default_rng(0)
    targets, predictions = rng.integers(0, 3, 200), rng.integers(0, 4, 200)  # "d" never a target
    report = report_from_predictions(LABELS, targets, predictions)
    assert report.total == 200
    assert report.accuracy == np.mean(targets == predictions)
    for index in range(3):
        true_positive = np.sum((targets == index) & (predictions == index))
        recall = true_positive / np.sum(targets == index)
        precision = true_positive / np.sum(predictions == index)
        assert report.recall[index] == recall
        assert np.isclose(report.f1[index], 2 * precision * recall / (precision + recall))
    assert report.recall[3] == 0 and report.f1[3] == 0
    assert np.isclose(report.macro_f1, report.f1.mean())  # "d" is predicted, so it counts
    only_present = report_from_predictions(LABELS, np.array([0, 1, 1]), np.array([0, 1, 0]))
    assert np.isclose(only_present.macro_f1, np.mean([2 / 3, 2 / 3]))  # c, d absent: not averaged


def test_shard_matrices_add_up_to_the_whole():
    rng = np.random.default_rng(1)
    targets, predictions = rng.integers(0, 4, 101), rng.integers(0, 4, 101)
    whole = confusion_matrix(targets, predictions, 4)
    shards = sum(confusion_matrix(targets[rank::3], predictions[rank::3], 4) for rank in range(3))
    np.testing.assert_array_equal(whole, shards)
    assert whole[2, 1] == np.sum((targets == 2) & (predictions == 1))


def test_report_serialises_and_plots(tmp_path):
    report = report_from_predictions(LABELS, np.array([0, 1, 2, 3, 3]), np.array([0, 1, 2, 3, 0]))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["accuracy"] == 0.8 and data["per_class"]["d"]["recall"] == 0.5
    assert data["confusion_matrix"][3] == [1, 0, 0, 1]
    assert "macro-F1" in report.format()
    path = plot_confusion(report, tmp_path / "figures" / "confusion.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
