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
when none beats the model itself. The card is the model's own, with the views, this
command and the file's validation figures; its test figures go (they were the model's
without views): ``emotion-train evaluate OUT --split test --write-card``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import shlex
import tempfile
from dataclasses import replace
from pathlib import Path

import onnx

from app.model.card import ModelCard, ModelCardError, read_card
from app.model.providers import REQUESTS
from app.system.exit_codes import ExitCode
from training.data import FORMAT_CHOICES, DatasetLayoutError
from training.ensemble_search import refuse_test_split
from training.evaluate import classifier_for, evaluate, load_for
from training.export import install, measure_file
from training.view_graph import VIEW_SETS, build_graph, describe, views_of

log = logging.getLogger(__name__)

MODEL_FIGURES = ("_accuracy", "_macro_f1", "_accuracy_change")
"""Suffixes of the figures measured on the model without views: dropped from the card."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the exported ONNX model to read over views")
    parser.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    parser.add_argument("--views", nargs="+", choices=sorted(VIEW_SETS), metavar="SET",
                        help=f"view sets besides the crop itself: {', '.join(VIEW_SETS)}")
    parser.add_argument("--search", action="store_true",
                        help="choose the combination of view sets best on --split")
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


def search(args: argparse.Namespace, card: ModelCard, crops, scratch: Path) -> tuple[list[str] | None, str]:
    """(the best combination of view sets on the split, or None when none beats the model
    alone; the sentence for the card)."""
    alone = evaluate(classifier_for(args.model, args.provider), crops, args.batch).report.accuracy
    print(f"{crops.dataset} {args.split}: {alone:.2%} without views")
    found = []
    for count in range(1, len(VIEW_SETS) + 1):
        for names in itertools.combinations(VIEW_SETS, count):
            path = wrap(args.model, card, list(names), scratch / f"{'-'.join(names)}.onnx")
            accuracy = evaluate(classifier_for(path, args.provider), crops, args.batch).report.accuracy
            found.append((accuracy, -len(views_of(names)), list(names)))
            print(f"  {accuracy:.2%}  {len(views_of(names))} views: {', '.join(names)}")
    accuracy, _, names = max(found)
    selection = (f"views chosen on {crops.dataset} {args.split} ({accuracy:.2%}, the model alone "
                 f"{alone:.2%}) among the {len(found)} combinations of {', '.join(VIEW_SETS)}; "
                 "no test data was seen by the choice")
    return (names if accuracy > alone else None), selection


def run(args: argparse.Namespace) -> int:
    partial = args.out.with_name(f".{args.out.name}.partial")  # not *.onnx: no model list shows it
    try:
        if args.search == bool(args.views):
            raise ValueError("give either --views SET... or --search (which needs --data)")
        if args.search and not args.data:
            raise ValueError("--search needs --data")
        if args.out.resolve() == args.model.resolve():
            raise ValueError(f"--out must differ from {args.model}: the model is read, not rewritten")
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
                print(f"no views beat {args.model} alone; nothing written ({selection})")
                return ExitCode.OK
        card = views_card(card, names, "emotion-train " + shlex.join(args.argv), selection)
        partial.parent.mkdir(parents=True, exist_ok=True)
        wrap(args.model, card, names, partial)
        training = dict(card.training)
        metrics = dict(card.metrics)
        if crops is not None:
            measured, evaluated = measure_file(partial, crops, args.provider, fp16=False)
            metrics.update(measured)
            training["evaluated_on"] = f"{evaluated} images of {crops.dataset} {args.split}"
        card = install(partial, args.out, replace(card, metrics=metrics, training=training), fp16=False)
    except (ModelCardError, DatasetLayoutError, ValueError, OSError, onnx.checker.ValidationError) as error:
        log.error("%s", error)
        partial.unlink(missing_ok=True)
        return ExitCode.BAD_INPUT
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {card.training['test_time']}")
    metrics = card.metrics
    if "val_accuracy" in metrics:
        print(f"  val accuracy {metrics['val_accuracy']:.2%}, macro-F1 {metrics['val_macro_f1']:.4f}")
    print(f"  test figures: emotion-train evaluate {args.out} --data DATA --split test --write-card")
    return ExitCode.OK
