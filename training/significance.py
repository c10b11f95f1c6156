"""Is a difference in accuracy real? McNemar's exact test and bootstrap intervals.

Two models scored on the same images make paired measurements: an image both get right
(or both wrong) says nothing about which is better, only the discordant images do.

* McNemar's test (McNemar 1947, "Note on the sampling error of the difference between
  correlated proportions or percentages", Psychometrika 12(2), 153-157,
  doi:10.1007/BF02295996) asks whether the images only A gets right and those only B
  gets right split evenly. Here in its exact form: a two-sided binomial test of the
  discordant counts against p = 1/2, exact for any count (no chi-squared approximation).
* The bootstrap (Efron & Tibshirani 1993, "An Introduction to the Bootstrap", Chapman &
  Hall, ch. 13: percentile intervals) resamples the images with replacement and reads
  an interval off the resampled figures. Paired: A and B are scored on the same resample,
  so the interval of B - A keeps the correlation between the two models. Macro-F1 is not
  a mean over images, so no closed-form interval exists; the bootstrap gives one anyway.

Pure numpy and ``math``: no scipy. Seeded, so a report can be reproduced exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 0
_ELEMENTS_PER_CHUNK = 4_000_000
"""Resampled (resample, image) entries held at once: bounds memory on large splits."""


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low

    def to_list(self) -> list[float]:
        return [self.low, self.high]


@dataclass(frozen=True)
class ScoreIntervals:
    """Bootstrap intervals of accuracy and macro-F1 (or of their differences B - A)."""

    accuracy: Interval
    macro_f1: Interval
    confidence: float
    resamples: int
    seed: int

    def to_dict(self) -> dict:
        return {"confidence": self.confidence, "resamples": self.resamples, "seed": self.seed,
                "accuracy": self.accuracy.to_list(), "macro_f1": self.macro_f1.to_list()}


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts: images only A gets
    right and images only B gets right. Twice the smaller binomial tail (capped at 1),
    computed with exact integers so large counts neither overflow nor lose precision."""
    if only_a < 0 or only_b < 0 or int(only_a) != only_a or int(only_b) != only_b:
        raise ValueError(f"discordant counts must be non-negative integers, got {only_a}, {only_b}")
    discordant, smaller = int(only_a) + int(only_b), min(int(only_a), int(only_b))
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(smaller + 1))
    return min(1.0, 2 * tail / 2 ** discordant)


def macro_f1_of(confusion: np.ndarray) -> np.ndarray:
    """Macro-F1 of (..., K, K) confusion matrices, as ``ClassificationReport.macro_f1``:
    per-class F1 = 2 TP / (support + predicted), averaged over classes that occur."""
    confusion = np.asarray(confusion)
    true_positive = np.diagonal(confusion, axis1=-2, axis2=-1).astype(float)
    occurrences = confusion.sum(axis=-1) + confusion.sum(axis=-2)
    f1 = np.divide(2 * true_positive, occurrences, out=np.zeros(occurrences.shape),
                   where=occurrences > 0)
    present = (occurrences > 0).sum(axis=-1)
    return f1.sum(axis=-1) / np.maximum(present, 1)


def bootstrap_scores(targets: np.ndarray, predictions: np.ndarray, num_classes: int,
                     resamples: int = RESAMPLES, seed: int = SEED,
                     confidence: float = CONFIDENCE) -> ScoreIntervals:
    """Percentile bootstrap intervals of one model's accuracy and macro-F1."""
    targets, (predictions,) = _check(targets, [predictions], num_classes, resamples, confidence)
    accuracy, macro_f1 = [], []
    for rows in _resampled_rows(len(targets), resamples, seed):
        scores = _scores(targets[rows], predictions[rows], num_classes)
        accuracy.append(scores[0])
        macro_f1.append(scores[1])
    return _intervals(np.concatenate(accuracy), np.concatenate(macro_f1), confidence, resamples, seed)


def paired_bootstrap(targets: np.ndarray, predictions_a: np.ndarray, predictions_b: np.ndarray,
                     num_classes: int, resamples: int = RESAMPLES, seed: int = SEED,
                     confidence: float = CONFIDENCE) -> ScoreIntervals:
    """Percentile bootstrap intervals of B - A in accuracy and macro-F1, both models
    scored on each same resample of the images (a paired bootstrap)."""
    targets, (predictions_a, predictions_b) = _check(
        targets, [predictions_a, predictions_b], num_classes, resamples, confidence)
    accuracy, macro_f1 = [], []
    for rows in _resampled_rows(len(targets), resamples, seed):
        resampled = targets[rows]
        accuracy_a, macro_f1_a = _scores(resampled, predictions_a[rows], num_classes)
        accuracy_b, macro_f1_b = _scores(resampled, predictions_b[rows], num_classes)
        accuracy.append(accuracy_b - accuracy_a)
        macro_f1.append(macro_f1_b - macro_f1_a)
    return _intervals(np.concatenate(accuracy), np.concatenate(macro_f1), confidence, resamples, seed)


def _check(targets, predictions: list, num_classes: int, resamples: int,
           confidence: float) -> tuple[np.ndarray, list[np.ndarray]]:
    targets = np.asarray(targets, np.int64)
    predictions = [np.asarray(values, np.int64) for values in predictions]
    if targets.ndim != 1 or len(targets) == 0:
        raise ValueError(f"targets must be a non-empty 1-D array, got shape {targets.shape}")
    for values in predictions:
        if values.shape != targets.shape:
            raise ValueError(f"predictions {values.shape} and targets {targets.shape} differ")
    for values in (targets, *predictions):
        if values.min() < 0 or values.max() >= num_classes:
            raise ValueError(f"class indices must lie in [0, {num_classes}), got "
                             f"{values.min()}..{values.max()}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    return targets, predictions


def _resampled_rows(count: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """(r, count) image indices drawn with replacement, a few resamples at a time. numpy's
    generator draws sequentially, so the chunking does not change the figures."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _ELEMENTS_PER_CHUNK // count)
    for start in range(0, resamples, chunk):
        yield rng.integers(0, count, (min(chunk, resamples - start), count))


def _scores(targets: np.ndarray, predictions: np.ndarray, num_classes: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 of each row of (r, n) targets and predictions."""
    accuracy = (targets == predictions).mean(axis=1)
    squares = num_classes * num_classes
    codes = np.arange(len(targets))[:, None] * squares + targets * num_classes + predictions
    confusion = np.bincount(codes.ravel(), minlength=len(targets) * squares)
    return accuracy, macro_f1_of(confusion.reshape(len(targets), num_classes, num_classes))


def _intervals(accuracy: np.ndarray, macro_f1: np.ndarray, confidence: float, resamples: int,
               seed: int) -> ScoreIntervals:
    tails = [(1 - confidence) / 2, (1 + confidence) / 2]
    accuracy_low, accuracy_high = np.quantile(accuracy, tails)
    f1_low, f1_high = np.quantile(macro_f1, tails)
    return ScoreIntervals(Interval(float(accuracy_low), float(accuracy_high)),
                          Interval(float(f1_low), float(f1_high)), confidence, resamples, seed)
