"""``emotion-train compare``: is model B really better than model A on this split?

    emotion-train compare models_onnx/mini_xception.onnx models_onnx/dcrnet.onnx \\
        --data data/fer2013 --split test --json reports/compare.json

Both models score the same images exactly as ``emotion-train evaluate`` scores one (the
app's preprocessing, each model with its own card's spec). Two accuracies a point apart
on a few thousand images can be noise, so beside both accuracies and macro-F1s this
prints the images only A gets right and only B gets right, McNemar's exact p-value on
those discordant pairs, and paired bootstrap 95 % intervals of B - A in accuracy and
macro-F1 (``training.significance``). The models must know the same label names, in any
order: B's predictions are mapped to A's label order by name.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.model.card import ModelCardError
from app.model.inference import EmotionClassifier
from app.system.exit_codes import ExitCode
from training.commands.evaluate import add_data_arguments, data_options
from training.data import CropSet, DatasetLayoutError
from training.evaluate import classifier_for, load_for, model_targets, predict
from training.metrics import ClassificationReport, report_from_predictions
from training.significance import RESAMPLES, SEED, ScoreIntervals, mcnemar_exact, paired_bootstrap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Comparison:
    report_a: ClassificationReport
    report_b: ClassificationReport
    """B's figures with its predictions mapped to A's label order."""
    only_a: int
    """Images A classifies correctly and B does not."""
    only_b: int
    p_value: float
    """McNemar's exact two-sided p-value on ``only_a`` vs ``only_b``."""
    differences: ScoreIntervals
    """Paired bootstrap intervals of B - A in accuracy and macro-F1."""
    skipped: dict[str, int]

    @property
    def accuracy_difference(self) -> float:
        return self.report_b.accuracy - self.report_a.accuracy

    @property
    def macro_f1_difference(self) -> float:
        return self.report_b.macro_f1 - self.report_a.macro_f1


def label_mapping(labels_a: tuple[str, ...], labels_b: tuple[str, ...]) -> np.ndarray:
    """B's label index -> A's index of the same name; ValueError unless both have the same names."""
    if sorted(labels_a) != sorted(labels_b):
        raise ValueError(f"the models have different labels: A has {list(labels_a)}, B has "
                         f"{list(labels_b)}; compare needs the same label names (any order)")
    return np.array([labels_a.index(label) for label in labels_b], np.int64)


def load_both(classifier_a: EmotionClassifier, classifier_b: EmotionClassifier, args: argparse.Namespace
              ) -> tuple[CropSet, CropSet]:
    """The split's crops for each model's spec; decoded once when both specs agree."""
    options = data_options(args)
    crops_a = load_for(classifier_a, args.data, args.split, args.dataset, options)
    if classifier_b.spec == classifier_a.spec:
        return crops_a, crops_a
    crops_b = load_for(classifier_b, args.data, args.split, args.dataset, options)
    if crops_a.labels != crops_b.labels or not np.array_equal(crops_a.targets, crops_b.targets):
        raise ValueError(f"the two models' preprocessing kept different images of {args.data} "
                         f"{args.split} ({len(crops_a)} vs {len(crops_b)}), so they cannot be paired")
    return crops_a, crops_b


def compare(classifier_a: EmotionClassifier, classifier_b: EmotionClassifier, crops_a: CropSet,
            crops_b: CropSet, batch_size: int = 256, resamples: int = RESAMPLES,
            seed: int = SEED) -> Comparison:
    """Score both models on the same images and test the difference."""
    b_to_a = label_mapping(classifier_a.labels, classifier_b.labels)
    rows, targets, skipped = model_targets(classifier_a, crops_a)
    if len(rows) == 0:
        raise ValueError(f"none of the {len(crops_a)} images has a label the models know")
    predictions_a = predict(classifier_a, crops_a, rows, batch_size)
    predictions_b = b_to_a[predict(classifier_b, crops_b, rows, batch_size)]
    correct_a, correct_b = predictions_a == targets, predictions_b == targets
    only_a, only_b = int(np.sum(correct_a & ~correct_b)), int(np.sum(correct_b & ~correct_a))
    labels = classifier_a.labels
    return Comparison(
        report_from_predictions(labels, targets, predictions_a),
        report_from_predictions(labels, targets, predictions_b),
        only_a, only_b, mcnemar_exact(only_a, only_b),
        paired_bootstrap(targets, predictions_a, predictions_b, len(labels), resamples, seed),
        skipped)


def comparison_json(args: argparse.Namespace, classifiers: tuple[EmotionClassifier, EmotionClassifier],
                    crops: CropSet, comparison: Comparison) -> dict:
    models = {}
    for key, path, classifier, report in zip(("a", "b"), (args.model_a, args.model_b), classifiers,
                                             (comparison.report_a, comparison.report_b)):
        models[key] = {"model": str(path), "architecture": classifier.card.architecture,
                       "accuracy": report.accuracy, "macro_f1": report.macro_f1}
    return {
        **models,
        "dataset": crops.dataset, "data": str(args.data), "split": crops.split,
        "provider": classifiers[0].provider, "samples": comparison.report_a.total,
        "skipped": comparison.skipped,
        "only_a_correct": comparison.only_a, "only_b_correct": comparison.only_b,
        "mcnemar_exact_p": comparison.p_value,
        "difference_b_minus_a": {"accuracy": comparison.accuracy_difference,
                                 "macro_f1": comparison.macro_f1_difference},
        "bootstrap_b_minus_a": comparison.differences.to_dict(),
    }


def format_comparison(args: argparse.Namespace, crops: CropSet, comparison: Comparison) -> str:
    intervals = comparison.differences
    accuracy, f1 = intervals.accuracy, intervals.macro_f1
    lines = [f"{crops.dataset} {crops.split}: {comparison.report_a.total} images"]
    for name, path, report in (("A", args.model_a, comparison.report_a),
                               ("B", args.model_b, comparison.report_b)):
        lines.append(f"  {name} {path}: accuracy {report.accuracy:.2%}   macro-F1 {report.macro_f1:.4f}")
    lines += [
        f"only A right: {comparison.only_a}   only B right: {comparison.only_b}   "
        f"McNemar exact p = {comparison.p_value:.4g}",
        f"B - A accuracy {100 * comparison.accuracy_difference:+.2f} points, "
        f"{intervals.confidence:.0%} interval [{100 * accuracy.low:+.2f}, {100 * accuracy.high:+.2f}]",
        f"B - A macro-F1 {comparison.macro_f1_difference:+.4f}, "
        f"{intervals.confidence:.0%} interval [{f1.low:+.4f}, {f1.high:+.4f}]",
        f"(paired bootstrap, {intervals.resamples} resamples, seed {intervals.seed})",
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_a", type=Path, metavar="A", help="first ONNX model with its card")
    parser.add_argument("model_b", type=Path, metavar="B", help="second ONNX model with its card")
    add_data_arguments(parser)
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON here")


def run(args: argparse.Namespace) -> int:
    try:
        classifiers = classifier_for(args.model_a, args.provider), classifier_for(args.model_b, args.provider)
        label_mapping(classifiers[0].labels, classifiers[1].labels)  # before decoding any image
        crops_a, crops_b = load_both(*classifiers, args)
        comparison = compare(*classifiers, crops_a, crops_b, args.batch, args.resamples, args.seed)
    except (ModelCardError, DatasetLayoutError, ValueError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    print(format_comparison(args, crops_a, comparison))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(comparison_json(args, classifiers, crops_a, comparison), indent=2))
        print(f"wrote {args.json}")
    return ExitCode.OK
