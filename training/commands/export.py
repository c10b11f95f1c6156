"""``emotion-train export``: a training checkpoint -> an ONNX model the app can ship.

    emotion-train export runs/mini_xception/best.pt --out runs/mini_xception/mini_xception.onnx

Steps: rebuild the model from the checkpoint; export it with its model card
(``training.checkpoint_card``, ``training.export.export_onnx``); check ONNX Runtime
agrees with PyTorch; measure the validation accuracy and macro-F1 of the exported file
through the app's own code (``training.export.measure_file``); with ``--mirror-average``,
each face's logits are averaged with its mirror image's at run time: the card records it
(``app.model.views.ViewPlan``), the file stays plain; with ``--fp16``, store the weights
in float16 and measure again; record the weights' SHA-256; write the final card.
The file is written beside the target and moved into place only when every check
passed, so a failed export never replaces a good model; an existing file (a shipped
model) is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
from dataclasses import replace
from pathlib import Path

from app.model.card import ModelCard, ModelCardError
from app.model.providers import REQUESTS
from app.model.views import ViewPlan
from app.system.exit_codes import ExitCode
from app.system.output_files import Staged
from app.system.output_paths import add_overwrite_argument, refuse_existing
from training import checkpoint as checkpoints
from training.checkpoint import Checkpoint
from training.checkpoint_card import card_from_checkpoint
from training.data import FORMAT_CHOICES, CropSet, DataOptions, DatasetLayoutError
from training.evaluate import classifier_for, load_for
from training.export import export_onnx, install, measure_file, parity_error

log = logging.getLogger(__name__)


def load_validation(path: Path, args: argparse.Namespace, saved: Checkpoint) -> CropSet:
    """The run's validation split (or the one given), prepared with the exported card's spec."""
    info = saved.dataset
    return load_for(classifier_for(path, args.provider), args.data or Path(info.root),
                    args.split or info.val_split, args.dataset or info.format,
                    DataOptions(limit_per_class=args.limit_per_class))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="best.pt / last.pt, or a run folder (best.pt)")
    parser.add_argument("--out", type=Path, required=True,
                        help="ONNX file to write (a new file unless --overwrite)")
    add_overwrite_argument(parser)
    parser.add_argument("--data", type=Path, help="validation data (default: the training run's)")
    parser.add_argument("--dataset", choices=FORMAT_CHOICES, help="format (default: the run's)")
    parser.add_argument("--split", help="split to measure (default: the run's validation split)")
    parser.add_argument("--limit-per-class", type=int, help="measure on at most N per class")
    parser.add_argument("--mirror-average", action="store_true",
                        help="record on the card that each face's logits are averaged with its "
                             "mirror image's at run time (test-time flip: usually more accurate, "
                             "twice the compute per face; --views none reads once)")
    parser.add_argument("--fp16", action="store_true",
                        help="store weights in float16 (inputs and outputs stay float32)")
    parser.add_argument("--parity-tolerance", type=float, default=1e-3,
                        help="largest |ONNX - PyTorch| logit difference accepted")
    parser.add_argument("--provider", default="cpu", choices=sorted(REQUESTS))


def run(args: argparse.Namespace) -> int:
    stage = Staged(args.out, replace=args.overwrite)  # hidden until done: no model list shows it
    partial = stage.path
    try:
        refuse_existing(args.out, args.overwrite)
        saved = checkpoints.load(args.checkpoint)
        model = saved.trained_model()
        card = card_from_checkpoint(saved)
        if args.mirror_average:
            views = ViewPlan(mirror=True)
            card = replace(card, views=views, training=dict(card.training, test_time=views.describe()))
        export_onnx(model, card, partial)
        parity = parity_error(model, partial)
        if parity > args.parity_tolerance:
            raise ValueError(f"ONNX Runtime and PyTorch disagree by {parity:.2e} "
                             f"(> {args.parity_tolerance:.0e}); the export is not faithful")
        crops = load_validation(partial, args, saved)
        metrics, evaluated = measure_file(partial, crops, args.provider, args.fp16)
        training = dict(card.training, parity_max_abs_logit_error=parity,
                        evaluated_on=f"{evaluated} images")
        training["export_command"] = "emotion-train " + shlex.join(args.argv)
        card = install(stage, replace(card, metrics=metrics, training=training), args.fp16)
    except (checkpoints.CheckpointError, ModelCardError, DatasetLayoutError, ValueError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    finally:
        stage.discard()  # on every exit: an error, Ctrl+C, SIGTERM
    _print_summary(args.out, card, parity)
    return ExitCode.OK


def _print_summary(path: Path, card: ModelCard, parity: float) -> None:
    metrics, training = card.metrics, card.training
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"  {card.architecture}: {training['parameters'] / 1e6:.3f} M parameters, input "
          f"{card.preprocess.input_text}, "
          f"gamma {'on' if card.preprocess.gamma else 'off'}"
          + (f", landmark emphasis {card.preprocess.landmark_emphasis:g}"
             if card.preprocess.landmark_emphasis else "")
          + f", labels {', '.join(card.labels)}")
    print(f"  parity |ONNX - PyTorch| = {parity:.2e}")
    print(f"  val accuracy {metrics['val_accuracy']:.2%}, macro-F1 {metrics['val_macro_f1']:.4f} "
          f"(measured on the ONNX file through the app's code; PyTorch said "
          f"{training['pytorch_val_accuracy']:.2%} on single views in training)")
    if "test_time" in training:
        print(f"  test time: {training['test_time']}")
    if "fp16_accuracy_change" in metrics:
        print(f"  fp16 weights: accuracy {metrics['fp32_val_accuracy']:.2%} -> "
              f"{metrics['val_accuracy']:.2%} ({100 * metrics['fp16_accuracy_change']:+.2f} points)")
    print(f"  trained {training['epochs']} epochs in {training['seconds'] / 60:.1f} min: "
          f"{training['command']}")
    print(f"  weights SHA-256 {training['weights_sha256']}")
