"""Choosing an ensemble's members and weights on a validation split.

Every member runs once over the split, inside an ensemble graph of all candidates
(``training.ensemble_graph``), so each member's probabilities are exactly those the
final file computes: the same Resize, rescale and session, through the app's own
preprocessing. The subsets and weightings are then scored in numpy: a weighted
average of probabilities needs no second pass. Only a validation split may choose;
``emotion-train evaluate --split test`` measures the chosen file once, afterwards.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

import numpy as np

from app.model.inference import EmotionClassifier
from training.data import CropSet
from training.evaluate import model_targets, tensor_batches

log = logging.getLogger(__name__)

DEFAULT_WEIGHT_GRID = (0, 1, 2, 3)


@dataclass(frozen=True)
class Candidate:
    weights: tuple[int, ...]
    """One integer weight per searched member; 0 leaves the member out."""
    input_size: int
    accuracy: float
    cost: float
    """What breaks a tie: the summed file size of the members used (bytes)."""

    @property
    def members(self) -> int:
        return sum(weight > 0 for weight in self.weights)

    def rank(self) -> tuple:
        """Higher accuracy first; on a tie fewer members, then smaller files, then a fixed order."""
        return (-round(self.accuracy, 12), self.members, self.cost, self.weights)


def refuse_test_split(split: str, chosen: str = "members and weights are") -> None:
    """Selection on a test split would make its figure no test figure: a ValueError."""
    if "test" in split.lower():
        raise ValueError(f"{chosen} chosen on a validation split, not {split!r}; "
                         "measure the chosen file on test afterwards with `emotion-train evaluate "
                         "MODEL --split test --write-card`")


def member_probabilities(classifier: EmotionClassifier, crops: CropSet,
                         batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(targets (N,), member probabilities (N, M, K)) of an ensemble over a split, one pass."""
    if not classifier.member_names:
        raise ValueError(f"{classifier.path} has no member output")
    rows, targets, _ = model_targets(classifier, crops)
    probabilities = np.empty((len(rows), len(classifier.member_names), classifier.card.num_classes),
                             np.float32)
    for start, batch in tensor_batches(classifier, crops, rows, batch_size):
        probabilities[start: start + len(batch)] = classifier.predict(batch).members
    return targets, probabilities


def weightings(members: int, grid: Sequence[int] = DEFAULT_WEIGHT_GRID) -> list[tuple[int, ...]]:
    """Every weight vector over ``grid`` that uses some member, each ratio once (lowest terms)."""
    if not grid or min(grid) < 0:
        raise ValueError(f"the weight grid needs whole numbers of at least 0, got {list(grid)}")
    unique = set()
    for weights in itertools.product(sorted(set(grid)), repeat=members):
        if any(weights):
            divisor = reduce(math.gcd, weights)
            unique.add(tuple(weight // divisor for weight in weights))
    return sorted(unique)


def accuracies(targets: np.ndarray, probabilities: np.ndarray,
               candidates: Sequence[Sequence[int]], chunk: int = 64) -> np.ndarray:
    """Accuracy of the weighted probability average for each weight vector (numpy only)."""
    weights = np.asarray(candidates, np.float32)
    weights /= weights.sum(axis=1, keepdims=True)
    scores = np.empty(len(weights))
    for start in range(0, len(weights), chunk):
        block = weights[start: start + chunk]
        averaged = np.einsum("wm,nmk->wnk", block, probabilities)
        scores[start: start + len(block)] = (averaged.argmax(axis=2) == targets).mean(axis=1)
    return scores


def search(targets: np.ndarray, probabilities: np.ndarray, input_size: int, costs: Sequence[float],
           grid: Sequence[int] = DEFAULT_WEIGHT_GRID) -> list[Candidate]:
    """Every weighting of the members scored on the split, best first (``Candidate.rank``)."""
    candidates = weightings(probabilities.shape[1], grid)
    scores = accuracies(targets, probabilities, candidates)
    found = [Candidate(weights, input_size, float(score),
                       float(sum(cost for cost, weight in zip(costs, weights) if weight)))
             for weights, score in zip(candidates, scores)]
    return sorted(found, key=Candidate.rank)
