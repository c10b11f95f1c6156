"""Classification figures from a confusion matrix: accuracy, macro-F1, per-class recall.

One confusion matrix (rows: true class, columns: predicted class) carries every figure,
and confusion matrices of shards add up, so a distributed evaluation sums its ranks'
matrices and gets exactly the figures of a single-process one. Macro-F1 averages the
per-class F1 over the classes that occur as a target or a prediction (as scikit-learn
does); a class absent from both has no F1 to average.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts: entry [i, j] is the number of class-i samples predicted as j."""
    targets, predictions = np.asarray(targets, np.int64), np.asarray(predictions, np.int64)
    if targets.shape != predictions.shape:
        raise ValueError(f"targets {targets.shape} and predictions {predictions.shape} differ")
    flat = np.bincount(targets * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


@dataclass(frozen=True)
class ClassificationReport:
    labels: tuple[str, ...]
    confusion: np.ndarray

    @property
    def support(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @property
    def total(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.total, 1))

    @property
    def recall(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion).astype(float), self.support)

    @property
    def precision(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion).astype(float), self.confusion.sum(axis=0))

    @property
    def f1(self) -> np.ndarray:
        precision, recall = self.precision, self.recall
        return _ratio(2 * precision * recall, precision + recall)

    @property
    def macro_f1(self) -> float:
        present = (self.support > 0) | (self.confusion.sum(axis=0) > 0)
        return float(self.f1[present].mean()) if present.any() else 0.0

    def to_dict(self) -> dict:
        return {
            "samples": self.total,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "labels": list(self.labels),
            "per_class": {
                label: {"recall": float(recall), "precision": float(precision), "f1": float(f1),
                        "support": int(support)}
                for label, recall, precision, f1, support in zip(
                    self.labels, self.recall, self.precision, self.f1, self.support)
            },
            "confusion_matrix": self.confusion.tolist(),
        }

    def format(self) -> str:
        """Accuracy, macro-F1 and a per-class table, for the terminal."""
        width = max(len(label) for label in self.labels)
        lines = [f"samples {self.total}   accuracy {self.accuracy:.2%}   macro-F1 {self.macro_f1:.4f}",
                 f"{'class'.ljust(width)}  recall  precision  F1      support"]
        for label, recall, precision, f1, support in zip(
                self.labels, self.recall, self.precision, self.f1, self.support):
            lines.append(f"{label.ljust(width)}  {recall:6.2%}  {precision:9.2%}  {f1:.4f}  {support:7d}")
        return "\n".join(lines)


def report_from_predictions(
    labels: Sequence[str], targets: np.ndarray, predictions: np.ndarray
) -> ClassificationReport:
    return ClassificationReport(tuple(labels), confusion_matrix(targets, predictions, len(labels)))


def plot_confusion(report: ClassificationReport, path: str | Path, title: str) -> Path:
    """Row-normalised confusion matrix with counts, as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = report.confusion / np.maximum(report.support[:, None], 1)
    size = 1.0 + 0.75 * len(report.labels)
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(rows, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="fraction of true class")
    ticks = range(len(report.labels))
    axes.set_xticks(ticks, report.labels, rotation=45, ha="right")
    axes.set_yticks(ticks, report.labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{title}\naccuracy {report.accuracy:.2%}, macro-F1 {report.macro_f1:.3f}")
    for row, column in np.ndindex(rows.shape):
        axes.text(column, row, f"{rows[row, column]:.2f}\n{report.confusion[row, column]}",
                  ha="center", va="center", fontsize=7,
                  color="white" if rows[row, column] > 0.5 else "black")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
