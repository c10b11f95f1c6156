"""The ensemble's default rule: every member with equal weights, less those whose removal
helps by more than bootstrap noise, checked on the half of val it did not see."""

import numpy as np

from training.ensemble_search import backward_elimination, equal_weight_predictions, split_half_check

CLASSES = 7


def member(targets: np.ndarray, accuracy: float, rng: np.random.Generator, confidence=0.5) -> np.ndarray:
    """Probabilities that put ``confidence`` on the target for a share ``accuracy`` of the
    samples (independently drawn, so members err on different samples), else on a random
    class, and the rest at random."""
    right = rng.random(len(targets)) < accuracy
    guesses = np.where(right, targets, rng.integers(0, CLASSES, len(targets)))
    probabilities = rng.dirichlet(np.ones(CLASSES), len(targets)) * (1 - confidence)
    probabilities[np.arange(len(targets)), guesses] += confidence
    return probabilities


def scenario(accuracies: list[float], samples: int = 4000, seed: int = 0, confidence=(0.5,) * 5):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, CLASSES, samples)
    return targets, np.stack([member(targets, accuracy, rng, share)
                              for accuracy, share in zip(accuracies, confidence)], axis=1)


def test_good_independent_members_all_stay():
    targets, probabilities = scenario([0.6, 0.58, 0.57])
    selection = backward_elimination(targets, probabilities, resamples=500)
    assert selection.members == (0, 1, 2)
    assert len(selection.steps) == 1 and not selection.steps[0].removed
    assert selection.accuracy == (equal_weight_predictions(probabilities, (0, 1, 2)) == targets).mean()
    assert selection.accuracy > 0.65  # independent errors average out


def test_a_confidently_wrong_member_is_left_out():
    targets, probabilities = scenario([0.6, 0.58, 0.57, 0.3], confidence=(0.5, 0.5, 0.5, 0.95))
    selection = backward_elimination(targets, probabilities, resamples=500)
    assert selection.members == (0, 1, 2)
    assert [step.removed for step in selection.steps] == [True, False]
    assert selection.steps[0].member == 3 and selection.steps[0].gain.low > 0


def test_the_split_half_check_chooses_on_one_half_and_scores_on_the_other():
    targets, probabilities = scenario([0.6, 0.58, 0.57, 0.3], samples=3000,
                                      confidence=(0.5, 0.5, 0.5, 0.95))
    first, second = split_half_check(targets, probabilities, resamples=300)
    for half in (first, second):
        assert half.members == (0, 1, 2)
        assert abs(half.held_out - half.chosen_on) < 0.04  # it holds on the half it did not see
        assert half.held_out > half.all_held_out  # better than taking every member
