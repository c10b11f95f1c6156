"""Score an exported ONNX model through the app's own code, as the app would classify faces.

The model runs exactly as in the app: ``app.model.inference.EmotionClassifier`` opens it and
reads its card, the dataset's images become crops of the card's size and colour space
(``app.face.preprocess.prepare_crop``, or ``crop_face`` for full frames) and tensors through
``to_tensor`` (the card's gamma and normalisation), and ONNX Runtime gives the logits.
Dataset classes are matched to the model's labels by name; samples of a class the
model does not know are left out and counted. ``emotion-train evaluate``, ``compare``,
``export``, ``ensemble`` and ``soft-labels`` all score through here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.face.preprocess import to_tensor
from app.model.inference import EmotionClassifier
from app.model.providers import probe
from training.data import CropSet, DataOptions, load_split
from training.metrics import ClassificationReport, report_from_predictions
from training.significance import RESAMPLES, SEED, ScoreIntervals, bootstrap_scores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    report: ClassificationReport
    skipped: dict[str, int]
    """Dataset class -> samples left out because the model has no such label."""
    seconds: float
    provider: str
    targets: np.ndarray
    """(n,) the scored crops' targets as the model's label indices."""
    predictions: np.ndarray
    """(n,) the model's predicted label indices for the same crops."""
    views: str = "all"
    """The views setting read (``app.model.views.SETTINGS``)."""

    def intervals(self, resamples: int = RESAMPLES, seed: int = SEED) -> ScoreIntervals:
        """Bootstrap intervals of accuracy and macro-F1 over the scored images."""
        return bootstrap_scores(self.targets, self.predictions, len(self.report.labels),
                                resamples, seed)


def classifier_for(path: str | Path, provider: str = "cpu") -> EmotionClassifier:
    return EmotionClassifier(path, probe(provider).session_providers)


def load_for(classifier: EmotionClassifier, data: Path, split: str, dataset: str = "auto",
             options: DataOptions | None = None) -> CropSet:
    """The split's crops prepared with the model's own preprocessing spec."""
    return load_split(dataset, data, split, classifier.spec, options)


def model_targets(classifier: EmotionClassifier, crops: CropSet) -> tuple[np.ndarray, np.ndarray, dict]:
    """The crops the model can be scored on (rows), their targets as the model's label
    indices, and dataset class -> samples left out because the model has no such label."""
    model_index = {label: index for index, label in enumerate(classifier.labels)}
    mapped = np.array([model_index.get(label, -1) for label in crops.labels])[crops.targets]
    skipped = {label: int(count) for label, count in zip(crops.labels, crops.class_counts())
               if label not in model_index and count}
    if skipped:
        log.warning("the model has no label for %s: those samples are left out", skipped)
    rows = np.flatnonzero(mapped >= 0)
    return rows, mapped[rows], skipped


def tensor_batches(classifier: EmotionClassifier, crops: CropSet, rows: np.ndarray,
                   batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
    """(offset into ``rows``, (n, C, H, W) batch) through ``to_tensor``, as the app prepares faces."""
    for start in range(0, len(rows), batch_size):
        chunk = rows[start: start + batch_size]
        yield start, np.stack([to_tensor(crops.crops[row], classifier.spec)[0] for row in chunk])


def logits(classifier: EmotionClassifier, crops: CropSet, rows: np.ndarray,
           batch_size: int = 256) -> np.ndarray:
    """The model's [len(rows), classes] logits for ``crops``' ``rows``, as the app computes them."""
    scores = np.empty((len(rows), len(classifier.labels)), np.float32)
    for start, batch in tensor_batches(classifier, crops, rows, batch_size):
        scores[start: start + len(batch)] = classifier.logits(batch)
    return scores


def probabilities(classifier: EmotionClassifier, crops: CropSet, rows: np.ndarray,
                  batch_size: int = 256, views: str = "all") -> np.ndarray:
    """[len(rows), classes] probabilities read over the card's ``views`` setting
    (``app.model.views``), through the app's own ``EmotionClassifier.predict``."""
    scores = np.empty((len(rows), len(classifier.labels)), np.float32)
    for start, batch in tensor_batches(classifier, crops, rows, batch_size):
        scores[start: start + len(batch)] = classifier.predict(batch, views).probabilities
    return scores


def predict(classifier: EmotionClassifier, crops: CropSet, rows: np.ndarray,
            batch_size: int = 256, views: str = "all") -> np.ndarray:
    """The model's label index for each of ``crops``' ``rows``, as the app would classify them."""
    return probabilities(classifier, crops, rows, batch_size, views).argmax(axis=1)


def evaluate(classifier: EmotionClassifier, crops: CropSet, batch_size: int = 256,
             views: str = "all") -> Evaluation:
    """Run every crop through ``to_tensor`` and the app's classifier over the card's
    ``views`` setting (``all``: what a card's figures and files, batch and the API read);
    tally against the targets."""
    started = time.monotonic()
    rows, targets, skipped = model_targets(classifier, crops)
    predictions = predict(classifier, crops, rows, batch_size, views)
    report = report_from_predictions(classifier.labels, targets, predictions)
    return Evaluation(report, skipped, time.monotonic() - started, classifier.provider,
                      targets, predictions, views)
