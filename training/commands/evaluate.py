"""``emotion-train evaluate``: score an exported ONNX model through the app's own code.

    emotion-train evaluate models_onnx/mini_xception.onnx --data data/fer2013 --split val

The model runs exactly as in the app (``training.evaluate``: the card's preprocessing
through the app's own code, ONNX Runtime). Prints accuracy, macro-F1 and per-class
recall with seeded bootstrap 95 % intervals of accuracy and macro-F1 (``training.significance``:
a split of a few thousand images leaves about a point either way, so a smaller gap between
two models may be noise; ``emotion-train compare`` tests one), and writes a JSON report
and a confusion-matrix PNG.

``--views`` reads the card's test-time views as the app would (``app.model.views``;
default ``all``, the setting the card's figures are for).

``--write-card`` also records the split's accuracy and macro-F1 in the model's own card
(``<split>_accuracy``, ``<split>_macro_f1``; weights untouched, file replaced
atomically; the bootstrap intervals stay in the JSON report, since card metrics are plain
fractions), e.g. test figures on a test split this project's data withholds:

    emotion-train evaluate models_onnx/mini_xception.onnx --data fer2013 --split test --write-card
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

from app.model.card import ModelCard, ModelCardError
from app.model.inference import EmotionClassifier
from app.model.providers import REQUESTS
from app.model.views import SETTINGS
from app.system.exit_codes import ExitCode
from training.data import FORMAT_CHOICES, CropSet, DataOptions, DatasetLayoutError
from training.evaluate import Evaluation, classifier_for, evaluate, load_for
from training.export import write_card
from training.metrics import plot_confusion
from training.significance import RESAMPLES, SEED, ScoreIntervals

log = logging.getLogger(__name__)


def report_json(path: Path, classifier: EmotionClassifier, crops: CropSet, evaluation: Evaluation,
                data: Path, intervals: ScoreIntervals | None = None) -> dict:
    bootstrap = {"bootstrap": intervals.to_dict()} if intervals is not None else {}
    return {
        "model": str(path),
        "architecture": classifier.card.architecture,
        "dataset": crops.dataset,
        "data": str(data),
        "split": crops.split,
        "views": evaluation.views,
        "provider": evaluation.provider,
        "seconds": round(evaluation.seconds, 3),
        "skipped": evaluation.skipped,
        **evaluation.report.to_dict(),
        **bootstrap,
    }


def format_intervals(intervals: ScoreIntervals) -> str:
    return (f"{intervals.confidence:.0%} bootstrap interval ({intervals.resamples} resamples, "
            f"seed {intervals.seed}): accuracy [{intervals.accuracy.low:.2%}, "
            f"{intervals.accuracy.high:.2%}]   macro-F1 [{intervals.macro_f1.low:.4f}, "
            f"{intervals.macro_f1.high:.4f}]")


def card_with_figures(card: ModelCard, crops: CropSet, evaluation: Evaluation) -> ModelCard:
    """``card`` plus the split's accuracy and macro-F1 (those of ``--views all``), and what
    they were measured on; a val figure of another setting goes to the card's views."""
    report, split = evaluation.report, crops.split
    if evaluation.views != "all":
        if split != "val":
            raise ValueError(f"--write-card records {split} figures of --views all only "
                             f"(got --views {evaluation.views})")
        figures = {**card.views.val_accuracy, evaluation.views: report.accuracy}
        return replace(card, views=replace(card.views, val_accuracy=figures))
    metrics = {**card.metrics, f"{split}_accuracy": report.accuracy, f"{split}_macro_f1": report.macro_f1}
    skipped = sum(evaluation.skipped.values())
    left_out = f", {skipped} of classes the model lacks left out" if skipped else ""
    training = {**card.training,
                f"{split}_evaluated_on": f"{report.total} images of {crops.dataset} {split}{left_out}"}
    return replace(card, metrics=metrics, training=training)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Which images to score, how to run the model, the bootstrap: shared with ``compare``."""
    parser.add_argument("--data", type=Path, required=True, help="dataset root")
    parser.add_argument("--split", default="val")
    parser.add_argument("--dataset", default="auto", choices=FORMAT_CHOICES, help="dataset format")
    parser.add_argument("--limit-per-class", type=int, help="at most N images per class")
    parser.add_argument("--exclude-classes", nargs="+", default=[], metavar="CLASS")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--provider", default="cpu", choices=sorted(REQUESTS),
                        help="ONNX Runtime execution provider (default: cpu, reproducible)")
    parser.add_argument("--resamples", type=int, default=RESAMPLES,
                        help=f"bootstrap resamples of the images (default {RESAMPLES})")
    parser.add_argument("--seed", type=int, default=SEED, help="bootstrap seed")


def data_options(args: argparse.Namespace) -> DataOptions:
    return DataOptions(limit_per_class=args.limit_per_class, exclude_classes=tuple(args.exclude_classes))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="exported ONNX model with its card")
    add_data_arguments(parser)
    parser.add_argument("--views", default="all", choices=SETTINGS,
                        help="read the card's test-time views: none, mirror, or all (default)")
    parser.add_argument("--out-dir", type=Path, default=Path("reports"),
                        help="folder for MODEL_SPLIT.json and MODEL_SPLIT_confusion.png")
    parser.add_argument("--write-card", action="store_true",
                        help="record SPLIT_accuracy and SPLIT_macro_f1 in the model's card (the "
                             "whole split only: not with --limit-per-class or --exclude-classes)")


def run(args: argparse.Namespace) -> int:
    if args.write_card and (args.limit_per_class or args.exclude_classes):
        log.error("--write-card records figures of the whole split in the card; drop "
                  "--limit-per-class and --exclude-classes (the report alone can use them)")
        return ExitCode.BAD_INPUT
    try:
        classifier = classifier_for(args.model, args.provider)
        crops = load_for(classifier, args.data, args.split, args.dataset, data_options(args))
        evaluation = evaluate(classifier, crops, args.batch, args.views)
        # None when no image has a label the model knows: nothing to resample.
        intervals = evaluation.intervals(args.resamples, args.seed) if evaluation.report.total else None
    except (ModelCardError, DatasetLayoutError, ValueError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    stem = f"{args.model.stem}_{args.split}" + ("" if args.views == "all" else f"_{args.views}")
    json_path, png_path = args.out_dir / f"{stem}.json", args.out_dir / f"{stem}_confusion.png"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    result = report_json(args.model, classifier, crops, evaluation, args.data, intervals)
    json_path.write_text(json.dumps(result, indent=2))
    plot_confusion(evaluation.report, png_path,
                   f"{classifier.card.architecture} on {crops.dataset} {args.split}")
    print(f"{args.model} on {crops.dataset} {args.split}, --views {args.views} "
          f"({classifier.card.views.reads(args.views)} reads per image; {evaluation.provider}, "
          f"{evaluation.seconds:.1f} s)")
    print(evaluation.report.format())
    if intervals is not None:
        print(format_intervals(intervals))
    print(f"wrote {json_path} and {png_path}")
    if args.write_card:
        try:
            write_card(args.model, card_with_figures(classifier.card, crops, evaluation))
        except (ModelCardError, ValueError, OSError) as error:
            log.error("card not updated: %s", error)
            return ExitCode.BAD_INPUT
        print(f"recorded {crops.split}_accuracy and {crops.split}_macro_f1 in {args.model}'s card")
    return ExitCode.OK
