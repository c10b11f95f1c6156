"""McNemar's exact test and the (paired) bootstrap: hand-computed values, coverage of the
observed figure, intervals that narrow with more images, reproducibility by seed."""

import math

import numpy as np
import pytest

from training.metrics import report_from_predictions
from training.significance import (
    Interval,
    bootstrap_scores,
    macro_f1_of,
    mcnemar_exact,
    paired_bootstrap,
)

CLASSES = 7


def predictions_with_accuracy(targets, accuracy, rng):
    """``targets`` with a random fraction ``1 - accuracy`` replaced by another class."""
    wrong = rng.random(len(targets)) > accuracy
    shifted = (targets + rng.integers(1, CLASSES, len(targets))) % CLASSES
    return np.where(wrong, shifted, targets)


def paired_data(count, seed=0, accuracy_a=0.65, accuracy_b=0.70):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, CLASSES, count)
    return (targets, predictions_with_accuracy(targets, accuracy_a, rng),
            predictions_with_accuracy(targets, accuracy_b, rng))


def test_mcnemar_exact_matches_the_binomial_by_hand():
    # 10 vs 2 discordant: 2 * P(X <= 2), X ~ Binomial(12, 1/2) = 2 * (1 + 12 + 66) / 4096.
    assert mcnemar_exact(10, 2) == pytest.approx(2 * 79 / 4096, rel=1e-12)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    assert mcnemar_exact(0, 7) == pytest.approx(2 / 2 ** 7)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(4, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    # Large counts stay exact (integers) and finite: 3000 vs 3300 is about 3.7 standard errors.
    p_value = mcnemar_exact(3000, 3300)
    z = 300 / math.sqrt(6300)
    assert 0 < p_value < 1e-3 and p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=0.2)


@pytest.mark.parametrize("counts", [(-1, 3), (2.5, 1)])
def test_mcnemar_refuses_counts_that_are_not_counts(counts):
    with pytest.raises(ValueError, match="non-negative integers"):
        mcnemar_exact(*counts)


def test_macro_f1_of_a_stack_of_confusions_matches_the_report():
    rng = np.random.default_rng(1)
    targets, predictions = rng.integers(0, 5, 300), rng.integers(0, 4, 300)  # class 4 never predicted
    report = report_from_predictions("abcde", targets, predictions)
    stacked = np.stack([report.confusion, report.confusion])
    assert macro_f1_of(stacked) == pytest.approx([report.macro_f1] * 2)


def test_paired_interval_contains_the_observed_difference_and_narrows_with_more_images():
    widths = []
    for count in (200, 5000):
        targets, predictions_a, predictions_b = paired_data(count)
        intervals = paired_bootstrap(targets, predictions_a, predictions_b, CLASSES, resamples=500)
        report_a = report_from_predictions(range(CLASSES), targets, predictions_a)
        report_b = report_from_predictions(range(CLASSES), targets, predictions_b)
        assert report_b.accuracy - report_a.accuracy in intervals.accuracy
        assert report_b.macro_f1 - report_a.macro_f1 in intervals.macro_f1
        widths.append((intervals.accuracy.width, intervals.macro_f1.width))
    # 25 times the images: about 5 times narrower (1 / sqrt(25)).
    assert widths[1][0] < widths[0][0] / 3 and widths[1][1] < widths[0][1] / 3


def test_single_model_interval_contains_its_figures():
    targets, predictions, _ = paired_data(1000)
    intervals = bootstrap_scores(targets, predictions, CLASSES, resamples=300)
    report = report_from_predictions(range(CLASSES), targets, predictions)
    assert report.accuracy in intervals.accuracy and report.macro_f1 in intervals.macro_f1
    assert 0.01 < intervals.accuracy.width < 0.1
    assert intervals.to_dict()["accuracy"] == [intervals.accuracy.low, intervals.accuracy.high]


def test_the_seed_reproduces_the_interval_exactly():
    targets, predictions_a, predictions_b = paired_data(400)
    first = paired_bootstrap(targets, predictions_a, predictions_b, CLASSES, resamples=300, seed=7)
    again = paired_bootstrap(targets, predictions_a, predictions_b, CLASSES, resamples=300, seed=7)
    other = paired_bootstrap(targets, predictions_a, predictions_b, CLASSES, resamples=300, seed=8)
    assert first == again and first.accuracy != other.accuracy


def test_identical_predictions_differ_by_exactly_nothing():
    targets, predictions, _ = paired_data(300)
    intervals = paired_bootstrap(targets, predictions, predictions, CLASSES, resamples=200)
    assert intervals.accuracy == Interval(0.0, 0.0) and intervals.macro_f1 == Interval(0.0, 0.0)


@pytest.mark.parametrize("changes, message", [
    ({"confidence": 1.0}, "confidence must lie strictly between 0 and 1"),
    ({"resamples": 0}, "resamples must be at least 1"),
    ({"num_classes": 3}, r"class indices must lie in \[0, 3\)"),
])
def test_bad_bootstrap_settings_are_refused(changes, message):
    targets, predictions, _ = paired_data(50)
    settings = {"num_classes": CLASSES, **changes}
    with pytest.raises(ValueError, match=message):
        bootstrap_scores(targets, predictions, **settings)


def test_predictions_of_another_length_are_refused():
    targets, predictions_a, predictions_b = paired_data(50)
    with pytest.raises(ValueError, match="differ"):
        paired_bootstrap(targets, predictions_a, predictions_b[:-1], CLASSES)
