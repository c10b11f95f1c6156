"""``emotion-train seeds``: a model's validation accuracy over runs that differ only by seed.

    emotion-train seeds models_onnx/mini_xception.onnx runs/mini-seed0 runs/mini-seed1 \\
        runs/mini-seed2 --write-card

One run says little about a recipe on FER2013: seeds alone move validation accuracy by
about a point. Given the run folders of the shipped model's recipe trained with other
seeds, this checks that they really are the same run but for the seed (architecture,
variant, data, recipe, input), prints each run's best validation accuracy and their mean
± sample standard deviation, and with ``--write-card`` records them in the model's card
beside the shipped run's own figures (``val_accuracy_seed_mean``, ``val_accuracy_seed_std``,
``training["seed_runs"]``). The figures are the runs' own, measured by PyTorch on single
views at each run's best epoch; the card's ``val_accuracy`` stays the exported file's.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import statistics
from dataclasses import replace
from pathlib import Path

from app.model.card import ModelCardError, read_card
from app.system.exit_codes import ExitCode
from training import checkpoint as checkpoints
from training.checkpoint import Checkpoint
from training.export import write_card
from training.seed_spread import spread_text

log = logging.getLogger(__name__)

MEASURED = "PyTorch single-view val accuracy at each run's best epoch"
SEED_FREE = ("seed", "run")
"""Settings that may differ between the runs: the seed, and where and how each ran."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the exported ONNX model the runs stand beside")
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                        help="run folders (their best.pt) or checkpoints, one per seed")
    parser.add_argument("--write-card", action="store_true",
                        help="record the figures in the model's card (weights untouched)")


def same_but_seed(runs: list[Checkpoint]) -> None:
    """ValueError naming the first setting in which a run differs from the first run."""
    def comparable(run: Checkpoint) -> dict:
        settings = run.settings.to_dict()
        for name in SEED_FREE:
            settings.pop(name, None)
        settings["data"]["options"].pop("seed", None)
        return settings

    reference = comparable(runs[0])
    for run in runs[1:]:
        settings = comparable(run)
        different = sorted(key for key in reference.keys() | settings.keys()
                           if reference.get(key) != settings.get(key))
        if different:
            raise ValueError(f"{run.path} differs from {runs[0].path} in {', '.join(different)}, "
                             "not only in its seed")
    seeds = [run.settings.seed for run in runs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"the runs repeat a seed: {seeds}")


def run(args: argparse.Namespace) -> int:
    try:
        card = read_card(args.model)
        runs = [checkpoints.load(path) for path in args.runs]
        wrong = [str(run.path) for run in runs if run.settings.arch != card.architecture]
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: not {card.architecture} runs like {args.model}")
        same_but_seed(runs)
    except (checkpoints.CheckpointError, ModelCardError, ValueError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    accuracies = [run.progress.best_accuracy for run in runs]
    for checkpoint, accuracy in zip(runs, accuracies):
        print(f"seed {checkpoint.settings.seed}: {100 * accuracy:.2f} % val at epoch "
              f"{checkpoint.progress.best_epoch} of {checkpoint.progress.epoch} ({checkpoint.path})")
    print(f"{card.architecture}: {spread_text([100 * value for value in accuracies])} % val over "
          f"{len(runs)} seeds ({MEASURED})")
    if args.write_card:
        metrics = dict(card.metrics, val_accuracy_seed_mean=statistics.fmean(accuracies))
        if len(accuracies) > 1:
            metrics["val_accuracy_seed_std"] = statistics.stdev(accuracies)
        training = dict(card.training, seed_runs={
            "seeds": [checkpoint.settings.seed for checkpoint in runs], "val_accuracy": accuracies,
            "epochs": [checkpoint.progress.epoch for checkpoint in runs], "measured": MEASURED,
            "command": "emotion-train " + shlex.join(args.argv)})
        try:
            write_card(args.model, replace(card, metrics=metrics, training=training))
        except (ModelCardError, OSError, ValueError) as error:
            log.error("card not updated: %s", error)
            return ExitCode.BAD_INPUT
        print(f"recorded the seed figures in {args.model}'s card")
    return ExitCode.OK
