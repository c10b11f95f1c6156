"""A run's learning curve: what a model card keeps of each epoch, what the models README
says about it, and its figure.

Where a model falls short of its aim, the curve says which way the gap closes: a curve
whose last quarter of epochs still raised the best validation accuracy wants more epochs;
a flat one, after its learning rate has decayed, wants another recipe, a teacher or more
capacity rather than more of the same.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

CURVE_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1", "lr")
"""What the card keeps of each epoch of ``Progress.history`` (its seconds stay in the run)."""
TAIL_SHARE = 0.25
"""The end of a run whose gain the README reports: its last quarter of epochs."""


def compact_curve(history: list[dict]) -> list[dict]:
    """Each epoch's entry of a run's history, rounded, with only ``CURVE_KEYS``: a few
    kilobytes in the card for a run of a hundred epochs."""
    curve = []
    for entry in history:
        point = {"epoch": int(entry["epoch"])}
        for key in CURVE_KEYS[1:]:
            value = entry.get(key)
            if isinstance(value, numbers.Real) and math.isfinite(value):
                point[key] = float(f"{value:.3g}") if key == "lr" else round(float(value), 5)
        curve.append(point)
    return curve


def accuracies(curve: list[dict]) -> list[tuple[int, float]]:
    """(epoch, val accuracy) of each epoch that has one."""
    return [(point["epoch"], point["val_accuracy"]) for point in curve if "val_accuracy" in point]


def best_point(points: list[tuple[int, float]]) -> tuple[int, float]:
    """(epoch, val accuracy) of the best epoch, the earliest of equals, as training keeps it."""
    return max(points, key=lambda point: (point[1], -point[0]))


def tail_gain(curve: list[dict], share: float = TAIL_SHARE) -> tuple[int, int, float] | None:
    """(first epoch, last epoch, points) of the run's last ``share`` of epochs: how far they
    raised the best val accuracy over the best before them. None for a run under 4 epochs."""
    points = accuracies(curve)
    if len(points) < 4:
        return None
    start = len(points) - max(1, round(share * len(points)))
    before = max(accuracy for _, accuracy in points[:start])
    during = max(accuracy for _, accuracy in points[start:])
    return points[start][0], points[-1][0], 100 * (during - before)


def curve_text(curve: list[dict]) -> str:
    """One line for the models README: where the run began, its best, and its end."""
    points = accuracies(curve)
    if not points:
        return "-"
    best_epoch, best = best_point(points)
    first_epoch, first = points[0]
    text = (f"val accuracy {100 * first:.2f} % after epoch {first_epoch}, best {100 * best:.2f} % "
            f"at epoch {best_epoch} of {points[-1][0]}")
    gain = tail_gain(curve)
    if gain is not None:
        start, end, points_gained = gain
        text += f"; its last epochs ({start}-{end}) raised the best by {points_gained:+.2f} points"
    last_lr = curve[-1].get("lr")
    if last_lr is not None:
        text += f", learning rate {last_lr:.1e} at the end"
    return text + " (PyTorch, single view)"


def plot_curve(curve: list[dict], path: str | Path, title: str) -> Path:
    """Val accuracy, train and val loss per epoch as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, accuracy_axes = plt.subplots(figsize=(6.4, 3.6))
    points = accuracies(curve)
    accuracy_axes.plot([epoch for epoch, _ in points], [100 * value for _, value in points],
                       color="tab:blue", label="val accuracy")
    if points:
        best_epoch, best = best_point(points)
        accuracy_axes.plot([best_epoch], [100 * best], "o", color="tab:blue")
        accuracy_axes.annotate(f"{100 * best:.2f} %", (best_epoch, 100 * best),
                               textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    accuracy_axes.margins(y=0.15)
    accuracy_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("val accuracy (%)", color="tab:blue")
    loss_axes = accuracy_axes.twinx()
    for key, style in (("train_loss", "--"), ("val_loss", ":")):
        losses = [(point["epoch"], point[key]) for point in curve if key in point]
        loss_axes.plot([epoch for epoch, _ in losses], [value for _, value in losses], style,
                       color="tab:gray", label=key.replace("_", " "))
    loss_axes.set_ylabel("loss", color="tab:gray")
    handles = [*accuracy_axes.get_legend_handles_labels()[0], *loss_axes.get_legend_handles_labels()[0]]
    loss_axes.legend(handles=handles, loc="center right", fontsize=8)
    accuracy_axes.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
