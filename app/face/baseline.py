"""A per-person neutral baseline: a face's read corrected for how that person's resting
face reads.

A model that reads one person's resting face as partly sad reads every expression of
theirs through that bias ("always sad"). Recording a few seconds of their neutral face
gives a baseline, the mean of its probabilities; a read is corrected by

    corrected = max(p - baseline, 0), renormalised to sum to 1

(as py-feat's ``Fex.baseline()`` subtracts a baseline), so an emotion counts by how much
more probable it is than on this person's neutral face. ``log_ratio``,
softmax(log p - log baseline), was measured beside it; ``benchmarks/calibration.py``
chose ``difference`` on the Yale faces (``docs/results/calibration.md``), where it also
costs less of the neutral reads. Either way a corrected neutral face no longer reads
neutral: the correction is for reading expressions against the person's rest.

The baseline belongs to a face ID: a face whose ID changes (it left the view for longer
than the tracker's grace period) is another track and starts uncalibrated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

FLOOR = 1e-6
"""Probabilities are clipped to at least this before their log (a model's softmax may
round to 0)."""
DEFAULT_SECONDS = 3.0
"""How long a live calibration records the neutral face."""


def _log(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probabilities, FLOOR, 1.0))


def _normalised(values: np.ndarray) -> np.ndarray:
    return values / values.sum(axis=-1, keepdims=True)


def log_ratio(probabilities: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """softmax(log p - log baseline): each probability over the baseline's, renormalised."""
    shifted = _log(probabilities) - _log(baseline)
    shifted -= shifted.max(axis=-1, keepdims=True)
    return _normalised(np.exp(shifted))


def difference(probabilities: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """max(p - baseline, 0), renormalised; where nothing is left over, p itself."""
    left = np.clip(probabilities - baseline, 0.0, None)
    total = left.sum(axis=-1, keepdims=True)
    return np.where(total > 0, left / np.where(total > 0, total, 1.0), probabilities)


CORRECTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "log_ratio": log_ratio, "difference": difference}
"""The corrections ``benchmarks/calibration.py`` measures, by name."""
CORRECTION = "difference"
"""The one the app applies (the measurement's choice; docs/results/calibration.md)."""


@dataclass(frozen=True)
class Baseline:
    """One person's neutral read: ``probabilities`` in ``labels`` order (the mean of the
    frames it was made from) and ``name``, which says where it came
    from (a face, a time range or a marker) for the CSV's ``baseline`` column."""

    labels: tuple[str, ...]
    probabilities: np.ndarray
    frames: int
    name: str

    @classmethod
    def from_probabilities(cls, rows: Sequence[Sequence[float]] | np.ndarray, labels: Sequence[str],
                           name: str) -> Baseline:
        """The baseline of the readable ``rows`` ((N, K) probabilities); ValueError when
        none is readable or their width is not ``labels``'."""
        values = np.asarray(rows, np.float64).reshape(-1, len(labels)) if len(rows) else np.empty((0,))
        readable = values[np.isfinite(values).all(axis=1)] if values.ndim == 2 else values[:0]
        if not len(readable):
            raise ValueError(f"no readable frame to make the baseline {name!r} from")
        return cls(tuple(labels), _normalised(readable.mean(axis=0)), len(readable), name)

    def correct(self, probabilities: np.ndarray) -> np.ndarray:
        """``probabilities`` (K,) or (N, K), in this baseline's label order, corrected by
        ``CORRECTION``; NaN rows (unreadable faces) stay NaN."""
        values = np.asarray(probabilities, np.float64)
        if values.shape[-1] != len(self.labels):
            raise ValueError(f"{values.shape[-1]} probabilities for a baseline of {len(self.labels)} "
                             f"labels ({', '.join(self.labels)})")
        with np.errstate(invalid="ignore"):
            return CORRECTIONS[CORRECTION](values, self.probabilities)

    def describe(self) -> str:
        """"neutral 62%, sad 21%, ...": its probabilities, the largest first."""
        order = np.argsort(-self.probabilities)
        return ", ".join(f"{self.labels[index]} {self.probabilities[index]:.0%}" for index in order)
