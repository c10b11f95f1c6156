"""Valence: how pleasant a face reads, from -1 to 1, as one number made from the seven
emotion probabilities.

    valence = p(happy) - max(p(angry), p(disgust), p(fear), p(sad))

This is the index Noldus FaceReader reports (the intensity of happy minus that of the
strongest negative emotion; Loijens and Krips, "FaceReader Methodology Note", Noldus
Information Technology). Surprise and neutral count on neither side. It summarises the
model's probabilities: it is not a separate measurement, it cannot be more right than
they are, and it says nothing about arousal. A model whose labels lack happy or every
negative emotion has no valence (NaN), as has an unreadable face.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

POSITIVE = "happy"
NEGATIVE = ("angry", "disgust", "fear", "sad")


def valence_indices(labels: Sequence[str]) -> tuple[int, tuple[int, ...]] | None:
    """Where happy and the negative emotions are in ``labels``; None when valence cannot
    be made from them."""
    names = [label.lower() for label in labels]
    negative = tuple(names.index(name) for name in NEGATIVE if name in names)
    if POSITIVE not in names or not negative:
        return None
    return names.index(POSITIVE), negative


def valence(probabilities: np.ndarray | Sequence[float], labels: Sequence[str]) -> np.ndarray | float:
    """The valence of one probability vector (a float) or of each row of an (N, K) array
    (an (N,) array), in ``labels`` order; NaN where it cannot be made."""
    values = np.asarray(probabilities, np.float64)
    indices = valence_indices(labels)
    if indices is None:
        result = np.full(values.shape[:-1], math.nan)
    else:
        positive, negative = indices
        result = values[..., positive] - values[..., list(negative)].max(axis=-1)
    return float(result) if result.ndim == 0 else result
