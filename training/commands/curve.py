"""``emotion-train curve``: a run's learning curve, printed, drawn, or put in its model's card.

    emotion-train curve runs/dcrnet                                   # the table
    emotion-train curve runs/dcrnet --plot dcrnet_curve.png
    emotion-train curve runs/dcrnet --write-card models_onnx/dcrnet.onnx

``emotion-train export`` puts the curve in the card of every model it exports; this gives
it to a model exported before cards held one, from the run folder that made it. The run
must be that model's own (same architecture, command, seed, best epoch and PyTorch
validation accuracy), so no card gets another run's curve. The models README
(``emotion-train cards``) then shows the curve's summary and, with ``--figures``, its figure.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from app.model.card import ModelCard, ModelCardError, read_card
from app.system.exit_codes import ExitCode
from training import checkpoint as checkpoints
from training.checkpoint import Checkpoint
from training.checkpoint_card import last_beside, run_history
from training.export import write_card
from training.learning_curve import compact_curve, curve_text, plot_curve

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="run folder (its best.pt) or a checkpoint")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the curve into this PNG")
    parser.add_argument("--write-card", type=Path, metavar="MODEL.onnx",
                        help="record the curve in the card of the model this run exported "
                             "(weights untouched)")


def same_run(card: ModelCard, saved: Checkpoint) -> None:
    """ValueError naming what differs between the run and the run the card describes."""
    training = card.training
    expected = {"architecture": card.architecture, "command": training.get("command"),
                "seed": training.get("seed"), "best epoch": training.get("best_epoch"),
                "PyTorch val accuracy": training.get("pytorch_val_accuracy")}
    actual = {"architecture": saved.model.arch, "command": saved.command,
              "seed": saved.settings.seed, "best epoch": saved.progress.best_epoch,
              "PyTorch val accuracy": saved.progress.best_accuracy}
    different = [name for name in expected if expected[name] != actual[name]]
    if different:
        raise ValueError(f"{saved.path} is not the run that made this model: its "
                         + ", ".join(f"{name} {actual[name]!r} (the card: {expected[name]!r})"
                                     for name in different))


def table(curve: list[dict]) -> str:
    lines = ["epoch  train loss  val loss  val acc  macro-F1  lr"]
    for point in curve:
        lines.append(f"{point['epoch']:5d}  {point.get('train_loss', float('nan')):10.4f}  "
                     f"{point.get('val_loss', float('nan')):8.4f}  "
                     f"{100 * point.get('val_accuracy', float('nan')):6.2f}%  "
                     f"{point.get('val_macro_f1', float('nan')):8.4f}  {point.get('lr', float('nan')):.2e}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        saved = checkpoints.load(args.run)
        card = read_card(args.write_card) if args.write_card else None
        if card is not None:
            same_run(card, saved)
    except (checkpoints.CheckpointError, ModelCardError, ValueError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    curve = compact_curve(run_history(saved, last_beside(saved)))
    if not curve:
        log.error("%s has no finished epoch", args.run)
        return ExitCode.BAD_INPUT
    print(table(curve))
    print(f"{saved.model.arch}: {curve_text(curve)}")
    if args.plot:
        try:
            plot_curve(curve, args.plot, f"{saved.model.arch}: {args.run}")
        except OSError as error:
            log.error("cannot write %s: %s", args.plot, error)
            return ExitCode.BAD_INPUT
        print(f"drew {args.plot}")
    if card is not None:
        try:
            write_card(args.write_card, replace(card, training=dict(card.training, curve=curve)))
        except (ModelCardError, OSError, ValueError) as error:
            log.error("card not updated: %s", error)
            return ExitCode.BAD_INPUT
        print(f"recorded the curve in {args.write_card}'s card")
    return ExitCode.OK
