"""``emotion-train views``: choose a model's test-time views on val and record them on its card.

    emotion-train views models_onnx/mini_xception.onnx --search --mirror \\
        --data ../shared/data/fer2013 --out /tmp/mini_xception.onnx
    emotion-train views old_views_file.onnx --data ../shared/data/fer2013 --out plain.onnx

The file written is the plain model (one read per crop): a file that carried its views or
its mirror average inside its graph (older ``emotion-train views`` and ``export
--mirror-average`` files) gives its model back (``training.view_graph.plain_model``) and
keeps the views it had unless ``--views``, ``--search`` or ``--mirror``/``--no-mirror``
say otherwise. The app applies the views at run time (``app.model.views``: ``--views
none|mirror|all``), so one file serves live (few reads) and files (all of them). With
``--data`` the card records the validation accuracy of each setting; ``--search`` tries
every combination of the view sets on the validation split (never test) and keeps the
best, or none when it does not beat the crop alone significantly (McNemar's exact test,
``--max-p``). The test figures on the card stay only when the file reads exactly as
before (the same views and mirror); else ``emotion-train evaluate OUT --split test --write-card``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx

from app.model.card import ModelCard, ModelCardError, read_card
from app.model.providers import REQUESTS
from app.model.views import SETTINGS, VIEW_SETS, ViewPlan, expand, pool, views_of
from app.system.exit_codes import ExitCode
from app.system.output_files import Staged
from app.system.output_paths import add_overwrite_argument, refuse_existing
from training.data import FORMAT_CHOICES, DatasetLayoutError
from training.ensemble_search import refuse_test_split
from training.evaluate import classifier_for, load_for, model_targets, tensor_batches
from training.export import install
from training.metrics import report_from_predictions
from training.significance import mcnemar_exact
from training.view_graph import plain_model

log = logging.getLogger(__name__)

MODEL_FIGURES = ("_accuracy", "_macro_f1", "_accuracy_change")
"""Suffixes of figures measured with other views: dropped from the card when they change."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the exported ONNX model (plain or with views inside)")
    parser.add_argument("--out", type=Path, required=True,
                        help="plain ONNX file to write (a new file unless --overwrite)")
    add_overwrite_argument(parser)
    parser.add_argument("--views", nargs="*", choices=sorted(VIEW_SETS), metavar="SET",
                        help=f"view sets besides the crop itself: {', '.join(VIEW_SETS)} "
                             "(none given: the crop alone)")
    parser.add_argument("--search", action="store_true",
                        help="choose the combination of view sets best on --split")
    parser.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                        help="read each view mirrored too (default: as the file did)")
    parser.add_argument("--max-p", type=float, default=0.05,
                        help="--search keeps views only when they beat the crop alone at McNemar's "
                             "exact p below this (default: 0.05; 1 keeps any gain)")
    parser.add_argument("--data", type=Path, help="dataset root: measure (and --search on) --split")
    parser.add_argument("--split", default="val", help="validation split (default: val; never test)")
    parser.add_argument("--dataset", default="auto", choices=FORMAT_CHOICES, help="dataset format")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--provider", default="cpu", choices=sorted(REQUESTS),
                        help="ONNX Runtime execution provider for measuring (default: cpu)")


@dataclass(frozen=True)
class ViewLogits:
    """[n, V, 2, K] logits of the views of ``names``' sets, each plain and mirrored, made by
    the app's ``expand``: any setting of those sets is then the app's ``pool`` of a slice."""

    names: tuple[str, ...]
    logits: np.ndarray


def view_logits(classifier, crops, rows: np.ndarray, batch: int, names) -> ViewLogits:
    every = views_of(names)
    found = np.empty((len(rows), len(every), 2, classifier.card.num_classes), np.float32)
    for start, tensors in tensor_batches(classifier, crops, rows, batch):
        found[start: start + len(tensors)] = classifier.logits(expand(tensors, every, True)).reshape(
            len(tensors), len(every), 2, -1)
    return ViewLogits(tuple(names), found)


def pooled(found: ViewLogits, names, mirror: bool) -> np.ndarray:
    """Probabilities of the crop and the named sets' views, as ``app.model.views.pool`` makes them."""
    every = views_of(found.names)
    chosen = [every.index(view) for view in views_of(names)]
    seen = found.logits[:, chosen, : 2 if mirror else 1]
    return pool(seen.reshape(-1, seen.shape[-1]), len(chosen), mirror)[0]


@dataclass(frozen=True)
class Scored:
    names: tuple[str, ...]
    accuracy: float
    p_value: float
    """McNemar's exact test against the crop alone (with the same mirror setting)."""


def score_combinations(logits: np.ndarray, targets: np.ndarray, mirror: bool) -> tuple[float, list[Scored]]:
    """(the crop alone's accuracy, every combination of view sets scored), all with ``mirror``."""
    alone_right = pooled(logits, (), mirror).argmax(axis=1) == targets
    found = []
    for count in range(1, len(VIEW_SETS) + 1):
        for names in itertools.combinations(VIEW_SETS, count):
            right = pooled(logits, names, mirror).argmax(axis=1) == targets
            p_value = mcnemar_exact(int(np.sum(alone_right & ~right)), int(np.sum(right & ~alone_right)))
            found.append(Scored(names, float(right.mean()), p_value))
    return float(alone_right.mean()), found


def search(logits, targets, mirror: bool, max_p: float, where: str) -> tuple[tuple[str, ...], str]:
    """(the best combination on the split, () when it does not beat the crop alone at
    McNemar's p below ``max_p``; the sentence for the card)."""
    alone, found = score_combinations(logits, targets, mirror)
    print(f"{where}: {alone:.2%} from the crop alone{' and its mirror' * mirror}")
    for scored in found:
        print(f"  {scored.accuracy:.2%}  {len(views_of(scored.names))} views: {', '.join(scored.names)}"
              f"  (McNemar p = {scored.p_value:.3g})")
    best = max(found, key=lambda scored: (scored.accuracy, -len(views_of(scored.names))))
    keep = best.accuracy > alone and best.p_value < max_p
    selection = (f"views chosen on {where} ({best.accuracy:.2%}, the crop alone {alone:.2%}, McNemar "
                 f"p = {best.p_value:.2g}{'' if keep else ', not kept'}) among the {len(found)} "
                 f"combinations of {', '.join(VIEW_SETS)}; no test data was seen by the choice")
    return (best.names if keep else ()), selection


def measured(card: ModelCard, plan: ViewPlan, logits, targets, where: str) -> tuple[ViewPlan, dict]:
    """The plan with each setting's accuracy on the split, and the metrics of ``all``."""
    figures = {}
    for setting in SETTINGS:
        _, mirror = plan.views(setting)
        predictions = pooled(logits, plan.sets if setting == "all" else (), mirror).argmax(axis=1)
        report = report_from_predictions(card.labels, targets, predictions)
        figures[setting] = report.accuracy
    metrics = {"val_accuracy": report.accuracy, "val_macro_f1": report.macro_f1}  # the last: all
    return replace(plan, val_accuracy=figures, chosen_on=where), metrics


def run(args: argparse.Namespace) -> int:
    stage = Staged(args.out, replace=args.overwrite)  # hidden until done: no model list shows it
    partial = stage.path
    try:
        if args.search and args.views is not None:
            raise ValueError("give either --views SET... or --search, not both")
        if args.search and not args.data:
            raise ValueError("--search needs --data")
        if not 0.0 < args.max_p <= 1.0:
            raise ValueError(f"--max-p must be in (0, 1], got {args.max_p:g}")
        if args.out.resolve() == args.model.resolve():
            raise ValueError(f"--out must differ from {args.model}: the model is read, not rewritten")
        refuse_existing(args.out, args.overwrite)
        card = read_card(args.model)
        model, had_mirror = plain_model(onnx.load(str(args.model)))
        before = ViewPlan(tuple(card.training.get("views", ())) or card.views.sets,
                          had_mirror or card.views.mirror)
        mirror = before.mirror if args.mirror is None else args.mirror
        plan = ViewPlan(before.sets if args.views is None else tuple(args.views), mirror)
        training = {key: value for key, value in card.training.items()
                    if key not in ("views", "views_command", "test_time", "weights_sha256")}
        notes = [note for note in training.get("notes", [])  # a new search replaces the old one's note
                 if not (args.search and note.startswith("views chosen on"))]
        metrics = dict(card.metrics)
        card.embed(model)
        onnx.save_model(model, str(partial))
        if args.data:
            refuse_test_split(args.split, "views are")
            classifier = classifier_for(partial, args.provider)
            crops = load_for(classifier, args.data, args.split, args.dataset)
            rows, targets, _ = model_targets(classifier, crops)
            logits = view_logits(classifier, crops, rows, args.batch,
                                 tuple(VIEW_SETS) if args.search else plan.sets)
            where = f"{crops.dataset} {args.split}"
            if args.search:
                names, selection = search(logits, targets, mirror, args.max_p, where)
                plan = replace(plan, sets=names)
                notes.append(selection)
            plan, val_metrics = measured(card, plan, logits, targets, where)
            metrics.update(val_metrics)
            training["evaluated_on"] = f"{len(rows)} images of {where}"
        if plan.views("all") != before.views("all"):  # reads differently: its old figures go
            metrics = {key: value for key, value in metrics.items()
                       if not key.endswith(MODEL_FIGURES) or (args.data and key.startswith("val_"))}
            training = {key: value for key, value in training.items() if not key.endswith("_evaluated_on")}
        training.update(notes=notes, views_command="emotion-train " + shlex.join(args.argv),
                        test_time=plan.describe())
        card = install(stage, replace(card, metrics=metrics, training=training, views=plan), fp16=False)
    except (ModelCardError, DatasetLayoutError, ValueError, OSError, onnx.checker.ValidationError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    finally:
        stage.discard()  # on every exit: an error, Ctrl+C, SIGTERM
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {card.views.describe()}")
    for setting, accuracy in card.views.val_accuracy.items():
        reads = card.views.reads(setting)
        print(f"  --views {setting}: {reads} read{'s' * (reads > 1)} per face, val accuracy {accuracy:.2%}")
    if "test_accuracy" not in card.metrics:
        print(f"  test figures: emotion-train evaluate {args.out} --data DATA --split test --write-card")
    return ExitCode.OK
