"""Figures over runs that differ only by seed: the mean, its spread, and a run's own cost.

The ablation tables and the seed figures in model cards both report a validation accuracy
as the mean and sample standard deviation over seeds, as the papers' "Acc/Sta" columns do.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model table reads cards without torch
    from training.checkpoint import Progress


def spread_text(values: list[float], digits: int = 2) -> str:
    """``65.12 ± 0.40`` (mean ± sample standard deviation), the value alone for one run,
    ``-`` for none."""
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def run_minutes(progress: Progress) -> float:
    """Minutes a run's training took: its median epoch times its epochs, so time during which
    the process was paused (SIGSTOP while a benchmark ran, a suspended laptop) does not count."""
    seconds = [float(epoch["seconds"]) for epoch in progress.history if "seconds" in epoch]
    if not seconds:
        return progress.seconds / 60.0
    return statistics.median(seconds) * len(seconds) / 60.0
