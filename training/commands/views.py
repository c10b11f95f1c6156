"""``emotion-train views``: a model read over several views of each face, as one ONNX file.

    emotion-train views models_onnx/mini_xception.onnx --views rotate zoom \\
        --data ../shared/data/fer2013 --out /tmp/mini_xception.onnx
    emotion-train views models_onnx/mini_xception.onnx --search --data ../shared/data/fer2013 \\
        --out /tmp/mini_xception.onnx

The file averages the model's probabilities over the crop and slightly rotated, zoomed or
shifted copies of it (``training.view_graph``); the app loads it like any model. It costs
one inference per view, so it suits the small models best: the card says how many views,
and ``benchmarks/latency.py`` measures the file. ``--search`` tries every combination of
the view sets on the validation split (never test) and keeps the best, or writes nothing
when it does not beat the model itself significantly (McNemar's exact test, ``--max-p``):
each view costs one more inference per face. The card is the model's own, with the views, this
command and the file's validation figures; its test figures go (they were the model's
without views): ``emotion-train evaluate OUT --split test --write-card``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import shlex
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx

from app.model.card import ModelCard, ModelCardError, read_card
from app.model.inference import softmax
from app.model.providers import REQUESTS
from app.system.exit_codes import ExitCode
from app.system.output_files import Staged
from app.system.output_paths import add_overwrite_argument, refuse_existing
from training.data import FORMAT_CHOICES, DatasetLayoutError
from training.ensemble_search import refuse_test_split
from training.evaluate import classifier_for, load_for, logits, model_targets
from training.export import install, measure_file
from training.significance import mcnemar_exact
from training.view_graph import VIEW_SETS, build_graph, describe, views_of

log = logging.getLogger(__name__)

MODEL_FIGURES = ("_accuracy", "_macro_f1", "_accuracy_change")
"""Suffixes of the figures measured on the model without views: dropped from the card."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the exported ONNX model to read over views")
    parser.add_argument("--out", type=Path, required=True,
                        help="ONNX file to write (a new file unless --overwrite)")
    add_overwrite_argument(parser)
    parser.add_argument("--views", nargs="+", choices=sorted(VIEW_SETS), metavar="SET",
                        help=f"view sets besides the crop itself: {', '.join(VIEW_SETS)}")
    parser.add_argument("--search", action="store_true",
                        help="choose the combination of view sets best on --split")
    parser.add_argument("--max-p", type=float, default=0.05,
                        help="--search writes the best views only when they beat the model alone at "
                             "McNemar's exact p below this (default: 0.05; 1 keeps any gain)")
    parser.add_argument("--data", type=Path, help="dataset root: measure (and --search on) --split")
    parser.add_argument("--split", default="val", help="validation split (default: val; never test)")
    parser.add_argument("--dataset", default="auto", choices=FORMAT_CHOICES, help="dataset format")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--provider", default="cpu", choices=sorted(REQUESTS),
                        help="ONNX Runtime execution provider for measuring (default: cpu)")


def wrap(model_path: Path, card: ModelCard, names: list[str], out: Path) -> Path:
    """Write ``model_path`` read over the named view sets to ``out`` with the model's card."""
    spec = card.preprocess
    model = build_graph(onnx.load(str(model_path)), views_of(names), spec.channels,
                        spec.input_size[0], card.num_classes)
    card.embed(model)
    onnx.save_model(model, str(out))
    return out


def views_card(card: ModelCard, names: list[str], command: str, selection: str | None) -> ModelCard:
    """The model's card, with the views and without the figures measured without them."""
    training = {key: value for key, value in card.training.items()
                if not key.endswith("_evaluated_on") and key != "weights_sha256"}
    inner_time = training.get("test_time")
    training.update(views=list(names), views_command=command,
                    test_time="; ".join(filter(None, [inner_time, describe(names)])),
                    notes=[*training.get("notes", []), *([selection] if selection else [])])
    metrics = {key: value for key, value in card.metrics.items() if not key.endswith(MODEL_FIGURES)}
    return replace(card, metrics=metrics, training=training)


@dataclass(frozen=True)
class Scored:
    """One combination of view sets, scored on the split against the model alone."""

    names: list[str]
    accuracy: float
    p_value: float
    """McNemar's exact test against the model alone, on the images only one gets right."""


def score_combinations(model_path: Path, card: ModelCard, crops, provider: str, batch: int,
                       scratch: Path) -> tuple[float, list[Scored]]:
    """(the model's accuracy alone, every combination of view sets scored). Each view set
    is read once; a combination's average is then the crop's and its sets' probabilities
    pooled, so this costs one pass per view, not one per view of every combination."""
    base = classifier_for(model_path, provider)
    rows, targets, _ = model_targets(base, crops)
    alone = softmax(logits(base, crops, rows, batch))
    sums = {}
    for name in VIEW_SETS:
        path = wrap(model_path, card, [name], scratch / f"{name}.onnx")
        views = softmax(logits(classifier_for(path, provider), crops, rows, batch))
        sums[name] = views * len(views_of([name])) - alone  # the set's own views, summed
    alone_right = alone.argmax(axis=1) == targets
    found = []
    for count in range(1, len(VIEW_SETS) + 1):
        for names in itertools.combinations(VIEW_SETS, count):
            pooled = (alone + sum(sums[name] for name in names)) / len(views_of(names))
            right = pooled.argmax(axis=1) == targets
            p_value = mcnemar_exact(int(np.sum(alone_right & ~right)), int(np.sum(right & ~alone_right)))
            found.append(Scored(list(names), float(right.mean()), p_value))
    return float(alone_right.mean()), found


def search(args: argparse.Namespace, card: ModelCard, crops, scratch: Path) -> tuple[list[str] | None, str]:
    """(the best combination of view sets on the split, or None when it does not beat the
    model alone at McNemar's p below ``args.max_p``: each view costs one more inference,
    so a gain within the split's noise is not worth it; the sentence for the card)."""
    alone, found = score_combinations(args.model, card, crops, args.provider, args.batch, scratch)
    print(f"{crops.dataset} {args.split}: {alone:.2%} without views")
    for scored in found:
        print(f"  {scored.accuracy:.2%}  {len(views_of(scored.names))} views: {', '.join(scored.names)}"
              f"  (McNemar p = {scored.p_value:.3g})")
    best = max(found, key=lambda scored: (scored.accuracy, -len(views_of(scored.names))))
    selection = (f"views chosen on {crops.dataset} {args.split} ({best.accuracy:.2%}, the model alone "
                 f"{alone:.2%}, McNemar p = {best.p_value:.2g}) among the {len(found)} combinations "
                 f"of {', '.join(VIEW_SETS)}; no test data was seen by the choice")
    return (best.names if best.accuracy > alone and best.p_value < args.max_p else None), selection


def run(args: argparse.Namespace) -> int:
    stage = Staged(args.out, replace=args.overwrite)  # hidden until done: no model list shows it
    partial = stage.path
    try:
        if args.search == bool(args.views):
            raise ValueError("give either --views SET... or --search (which needs --data)")
        if args.search and not args.data:
            raise ValueError("--search needs --data")
        if not 0.0 < args.max_p <= 1.0:
            raise ValueError(f"--max-p must be in (0, 1], got {args.max_p:g}")
        if args.out.resolve() == args.model.resolve():
            raise ValueError(f"--out must differ from {args.model}: the model is read, not rewritten")
        refuse_existing(args.out, args.overwrite)
        card = read_card(args.model)
        if "views" in card.training:
            raise ValueError(f"{args.model} is already read over views "
                             f"({', '.join(card.training['views'])}); wrap the model it was made from")
        crops = None
        if args.data:
            refuse_test_split(args.split, "views are")
            crops = load_for(classifier_for(args.model, args.provider), args.data, args.split, args.dataset)
        names, selection = list(args.views or []), None
        if args.search:
            with tempfile.TemporaryDirectory(prefix="views-search-") as scratch:
                names, selection = search(args, card, crops, Path(scratch))
            if names is None:
                print(f"no views beat {args.model} alone at p < {args.max_p:g}; "
                      f"nothing written ({selection})")
                return ExitCode.OK
        card = views_card(card, names, "emotion-train " + shlex.join(args.argv), selection)
        wrap(args.model, card, names, partial)
        training = dict(card.training)
        metrics = dict(card.metrics)
        if crops is not None:
            measured, evaluated = measure_file(partial, crops, args.provider, fp16=False)
            metrics.update(measured)
            training["evaluated_on"] = f"{evaluated} images of {crops.dataset} {args.split}"
        card = install(stage, replace(card, metrics=metrics, training=training), fp16=False)
    except (ModelCardError, DatasetLayoutError, ValueError, OSError, onnx.checker.ValidationError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    finally:
        stage.discard()  # on every exit: an error, Ctrl+C, SIGTERM
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {card.training['test_time']}")
    metrics = card.metrics
    if "val_accuracy" in metrics:
        print(f"  val accuracy {metrics['val_accuracy']:.2%}, macro-F1 {metrics['val_macro_f1']:.4f}")
    print(f"  test figures: emotion-train evaluate {args.out} --data DATA --split test --write-card")
    return ExitCode.OK
