"""Choosing an ensemble's members and weights on a validation split.

Every member runs once over the split, inside an ensemble graph of all candidates
(``training.ensemble_graph``), so each member's probabilities are exactly those the
final file computes: the same Resize, rescale and session, through the app's own
preprocessing. The subsets and weightings are then scored in numpy: a weighted
average of probabilities needs no second pass. Two rules choose: ``backward_elimination``
(the default) keeps every member with equal weights except those whose removal helps by
more than bootstrap noise, and ``split_half_check`` shows whether that choice holds on
data it did not see;
``search`` scores every weighting on a grid, which fits the split's noise more. Only a
validation split may choose;
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
from training.significance import CONFIDENCE, RESAMPLES, SEED, Interval, paired_bootstrap

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


@dataclass(frozen=True)
class Step:
    """One round of elimination: the member whose removal helps most, and whether it went."""

    member: int
    accuracy: float
    """Accuracy of the equal-weight average without this member."""
    gain: Interval
    """Bootstrap interval of the gain in accuracy from leaving it out."""
    removed: bool


@dataclass(frozen=True)
class Selection:
    members: tuple[int, ...]
    """Indices of the members kept (equal weights)."""
    accuracy: float
    steps: tuple[Step, ...]


def equal_weight_predictions(probabilities: np.ndarray, members: Sequence[int]) -> np.ndarray:
    return probabilities[:, list(members)].mean(axis=1).argmax(axis=1)


def backward_elimination(targets: np.ndarray, probabilities: np.ndarray, resamples: int = RESAMPLES,
                         seed: int = SEED, confidence: float = CONFIDENCE) -> Selection:
    """Equal weights over every member, less those whose removal helps by more than noise.

    Starts from all members; each round finds the member whose removal raises the
    equal-weight average most, and removes it only when the paired bootstrap interval of
    that gain lies above zero. Members whose effect is within noise stay: an average of
    more models varies less. Only membership is chosen, never weights, so little of the
    split's noise is fitted (a grid of weights picks among thousands of candidates).
    Backward rather than forward: a second member of two often changes few argmaxes
    while a third does, so adding one at a time can stop too early.
    """
    classes = probabilities.shape[2]
    kept = list(range(probabilities.shape[1]))
    current = equal_weight_predictions(probabilities, kept)
    steps = []
    while len(kept) > 1:
        trials = {member: equal_weight_predictions(probabilities, [other for other in kept
                                                                    if other != member])
                  for member in kept}
        member = max(trials, key=lambda candidate: ((trials[candidate] == targets).mean(), -candidate))
        gain = paired_bootstrap(targets, current, trials[member], classes, resamples, seed,
                                confidence).accuracy
        removed = gain.low > 0
        steps.append(Step(member, float((trials[member] == targets).mean()), gain, removed))
        if not removed:
            break
        kept.remove(member)
        current = trials[member]
    return Selection(tuple(kept), float((current == targets).mean()), tuple(steps))


@dataclass(frozen=True)
class HalfCheck:
    """The rule chosen on one half of the split and scored on the other."""

    members: tuple[int, ...]
    chosen_on: float
    """Accuracy on the half that chose."""
    held_out: float
    """Accuracy on the other half."""
    all_held_out: float
    """Every member, equal weights, on the other half: the choice-free reference."""


def split_half_check(targets: np.ndarray, probabilities: np.ndarray, seed: int = SEED,
                     **options) -> tuple[HalfCheck, HalfCheck]:
    """Choose on a random half, score on the other, both ways round: a rule that holds up
    scores as well on the half it did not see as on the one it chose on."""
    order = np.random.default_rng(seed).permutation(len(targets))
    halves = (order[: len(order) // 2], order[len(order) // 2:])
    checks = []
    for choosing, scoring in (halves, halves[::-1]):
        selection = backward_elimination(targets[choosing], probabilities[choosing], seed=seed,
                                         **options)
        held_out = equal_weight_predictions(probabilities[scoring], selection.members)
        everyone = equal_weight_predictions(probabilities[scoring], range(probabilities.shape[1]))
        checks.append(HalfCheck(selection.members, selection.accuracy,
                                float((held_out == targets[scoring]).mean()),
                                float((everyone == targets[scoring]).mean())))
    return checks[0], checks[1]
