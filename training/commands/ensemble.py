"""``emotion-train ensemble``: one ONNX model that averages several, with its card.

    emotion-train ensemble models_onnx/a.onnx models_onnx/b.onnx --out models_onnx/ensemble.onnx --overwrite
    emotion-train ensemble models_onnx/*.onnx --search --data data/fer2013 \\
        --out models_onnx/ensemble.onnx --fp16

The file holds every member's graph and averages their probabilities
(``training.ensemble_graph``); the app loads it like any model. ``--weights`` weighs
the average; ``--search`` instead chooses among the given members and input sizes on a
validation split (``training.ensemble_search``), never on test: by default every member
with equal weights, less those whose removal helps by more than bootstrap noise, checked by
choosing on one half of the split and scoring on the other; ``--rule grid`` searches
weights too (``--weight-grid``). With ``--data`` the built file's
validation accuracy and macro-F1 are measured through the app's code, as for an
export; ``--fp16`` stores the weights in float16 and records what that cost. The card
lists the members (architecture, file, weights SHA-256, weight) and this command, so
re-running it after the members change rebuilds the ensemble exactly. Test figures:
``emotion-train evaluate ENSEMBLE --split test --write-card``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import tempfile
from dataclasses import replace
from pathlib import Path

import onnx

from app.model.card import ModelCard, ModelCardError
from app.model.providers import REQUESTS
from app.model.views import ViewPlan
from app.system.exit_codes import ExitCode
from app.system.output_files import Staged
from app.system.output_paths import add_overwrite_argument, refuse_existing
from training.data import FORMAT_CHOICES, DatasetLayoutError
from training.ensemble_graph import EnsembleError, Member, build_graph, load_members
from training.ensemble_search import (
    DEFAULT_WEIGHT_GRID,
    Candidate,
    backward_elimination,
    member_probabilities,
    refuse_test_split,
    search,
    split_half_check,
)
from training.evaluate import classifier_for, load_for
from training.export import install, measure_file, weights_sha256
from training.fp16 import with_fp16_weights

log = logging.getLogger(__name__)

ARCHITECTURE = "ensemble"
SHOWN_CANDIDATES = 8


def ensemble_card(members: list[Member], weights: list[float], base: ModelCard, side: int,
                  command: str, selection: str | None) -> ModelCard:
    """The card before measurement: the members, how the file was made, no metrics yet."""
    total = sum(weights)
    listed = [{"name": member.name, "architecture": member.card.architecture, "file": member.path.name,
               "weights_sha256": weights_sha256(member.path), "weight": round(weight / total, 6),
               "input_size": list(member.card.preprocess.input_size),
               **{key: member.card.metrics[key] for key in ("val_accuracy", "test_accuracy")
                  if key in member.card.metrics}}
              for member, weight in zip(members, weights)]
    parameters = [member.card.training.get("parameters") for member in members]
    notes = [f"the average of {len(members)} models' probabilities (weights "
             + ", ".join(f"{m['name']} {m['weight']:.3f}" for m in listed)
             + "); logits are the log of that average"]
    if selection:
        notes.append(selection)
    resized = [member.name for member in members if member.card.preprocess.input_size[0] != side]
    if resized:
        notes.append(f"{', '.join(resized)} get the {side}x{side} input resized inside the graph")
    training = {"ensemble_command": command, "members": listed, "notes": notes}
    if all(isinstance(count, int) for count in parameters):
        training["parameters"] = sum(parameters)
    datasets = sorted({member.card.dataset for member in members})
    return replace(base, architecture=ARCHITECTURE, metrics={},
                   preprocess=replace(base.preprocess, input_size=(side, side)),
                   training=training, views=ViewPlan(),  # its own: emotion-train views ENSEMBLE --search
                   dataset=datasets[0] if len(datasets) == 1 else "; ".join(datasets))


def choose(members: list[Member], args: argparse.Namespace) -> tuple[list[int], int, str]:
    """(weights, input size, what was chosen and how) on the validation split, by ``args.rule``."""
    refuse_test_split(args.split)
    sizes = ([args.input_size] if args.input_size
             else sorted({member.card.preprocess.input_size[0] for member in members}))
    scored = {}
    with tempfile.TemporaryDirectory(prefix="ensemble-search-") as scratch:
        for side in sizes:
            path = Path(scratch) / f"all_{side}.onnx"
            model, base = build_graph(members, [1] * len(members), side)
            ensemble_card(members, [1] * len(members), base, side, "search", None).embed(model)
            onnx.save_model(model, str(path))
            classifier = classifier_for(path, args.provider)
            crops = load_for(classifier, args.data, args.split, args.dataset)
            log.info("running %d members over %d %s images at %d px", len(members), len(crops),
                     args.split, side)
            scored[side] = member_probabilities(classifier, crops, args.batch)
    where = f"{crops.dataset} {args.split}"
    names = [member.name for member in members]
    if args.rule == "grid":
        return grid_choice(scored, members, names, where, args.weight_grid)
    return elimination_choice(scored, names, where)


def elimination_choice(scored: dict, names: list[str], where: str) -> tuple[list[int], int, str]:
    """Backward elimination with equal weights at each input size; the best size wins."""
    selections = {side: backward_elimination(*scored[side]) for side in scored}
    side = max(selections, key=lambda size: (selections[size].accuracy, -size))
    selection, (targets, probabilities) = selections[side], scored[side]
    print(f"backward elimination on {where} at {side} px (equal weights; a member leaves when the "
          f"95 % bootstrap interval of the gain from leaving it out lies above zero):")
    for step in selection.steps:
        print(f"  {'leave out' if step.removed else 'keep, even'} {names[step.member]}: {step.accuracy:.2%} "
              f"without it, gain {100 * step.gain.low:+.2f} to {100 * step.gain.high:+.2f} points")
    halves = split_half_check(targets, probabilities)
    for number, half in enumerate(halves, start=1):
        print(f"  chosen on half {number}: {', '.join(names[index] for index in half.members)}: "
              f"{half.chosen_on:.2%} there, {half.held_out:.2%} on the other half "
              f"(all members, equal weights: {half.all_held_out:.2%})")
    chosen = ", ".join(names[index] for index in selection.members)
    note = (f"members chosen on {where} ({selection.accuracy:.2%}) by backward elimination with "
            f"equal weights, a member leaving only when the 95 % bootstrap interval of the gain from "
            f"leaving it out lay above zero: {chosen}; chosen on each half of the split and scored "
            f"on the other: "
            + "; ".join(f"{', '.join(names[index] for index in half.members)} {half.held_out:.2%}"
                        for half in halves)
            + "; no test data was seen by the choice")
    return [int(index in selection.members) for index in range(len(names))], side, note


def grid_choice(scored: dict, members: list[Member], names: list[str], where: str,
                grid: list[int]) -> tuple[list[int], int, str]:
    """Every weighting on ``grid`` at every input size; the most accurate wins."""
    costs = [member.path.stat().st_size for member in members]
    found: list[Candidate] = []
    for side, (targets, probabilities) in scored.items():
        found += search(targets, probabilities, side, costs, grid)
    found.sort(key=Candidate.rank)
    print(f"best of {len(found)} candidates on {where} (members: {', '.join(names)}):")
    for candidate in found[:SHOWN_CANDIDATES]:
        print(f"  {candidate.accuracy:.2%}  {candidate.input_size} px  weights "
              + " ".join(f"{name}={weight}" for name, weight in zip(names, candidate.weights) if weight))
    best = found[0]
    values = ", ".join(map(str, sorted(set(grid))))
    selection = (f"members, weights and input size chosen on {where} ({best.accuracy:.2%}) among "
                 f"{len(found)} candidates: weights in {{{values}}} for {', '.join(names)}, inputs of "
                 f"{' and '.join(map(str, scored))} px; no test data was seen by the choice")
    return list(best.weights), best.input_size, selection


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("members", type=Path, nargs="+", help="member ONNX models, each with its card")
    parser.add_argument("--out", type=Path, required=True,
                        help="ensemble ONNX file to write (a new file unless --overwrite)")
    add_overwrite_argument(parser)
    parser.add_argument("--weights", type=float, nargs="+", metavar="W",
                        help="one weight per member (default: equal); not with --search")
    parser.add_argument("--input-size", type=int, metavar="PX",
                        help="side of the ensemble's input crop (default: the largest member's; "
                             "--search tries every member's size unless this is given)")
    parser.add_argument("--search", action="store_true",
                        help="choose the subset of members, weights and input size best on --split")
    parser.add_argument("--rule", choices=("eliminate", "grid"), default="eliminate",
                        help="--search's rule: eliminate (default): every member with equal weights, "
                             "less those whose removal helps by more than bootstrap noise, with a "
                             "split-half check; grid: every weighting on --weight-grid, which fits "
                             "val's noise more")
    parser.add_argument("--weight-grid", type=int, nargs="+", default=list(DEFAULT_WEIGHT_GRID),
                        metavar="W", help="--rule grid: whole-number weights tried per member "
                                          "(0 leaves a member out; default: 0 1 2 3)")
    parser.add_argument("--data", type=Path, help="dataset root: measure (and --search on) --split")
    parser.add_argument("--split", default="val", help="validation split (default: val; never test)")
    parser.add_argument("--dataset", default="auto", choices=FORMAT_CHOICES, help="dataset format")
    parser.add_argument("--fp16", action="store_true",
                        help="store weights in float16 (inputs and outputs stay float32) and "
                             "record what that costs on --split")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--provider", default="cpu", choices=sorted(REQUESTS),
                        help="ONNX Runtime execution provider for measuring (default: cpu)")


def run(args: argparse.Namespace) -> int:
    stage = Staged(args.out, replace=args.overwrite)  # hidden until done: no model list shows it
    partial = stage.path
    try:
        refuse_existing(args.out, args.overwrite)
        if args.search and (args.weights or not args.data):
            raise ValueError("--search needs --data and chooses the weights itself (drop --weights)")
        paths = [path for path in args.members if path.resolve() != args.out.resolve()]
        if len(paths) < len(args.members):  # models_onnx/*.onnx names the file being rebuilt too
            log.info("leaving out %s: it is the ensemble being rebuilt", args.out)
        members = load_members(paths)
        weights, side, selection = (choose(members, args) if args.search
                                    else (args.weights or [1.0] * len(members), args.input_size, None))
        if len(weights) != len(members):
            raise ValueError(f"--weights needs one value per member ({len(members)}), got {len(weights)}")
        chosen = [(member, weight) for member, weight in zip(members, weights) if weight > 0]
        members, weights = [member for member, _ in chosen], [weight for _, weight in chosen]
        model, base = build_graph(members, weights, side)
        side = base.preprocess.input_size[0] if side is None else side
        command = "emotion-train " + shlex.join(args.argv)
        card = ensemble_card(members, weights, base, side, command, selection)
        card.embed(model)
        onnx.save_model(model, str(partial))
        training = dict(card.training)
        metrics = {}
        if args.data:
            refuse_test_split(args.split)
            crops = load_for(classifier_for(partial, args.provider), args.data, args.split, args.dataset)
            metrics, evaluated = measure_file(partial, crops, args.provider, args.fp16)
            training["evaluated_on"] = f"{evaluated} images of {crops.dataset} {args.split}"
        elif args.fp16:
            onnx.save_model(with_fp16_weights(onnx.load(str(partial))), str(partial))
        card = install(stage, replace(card, metrics=metrics, training=training), args.fp16)
    except (EnsembleError, ModelCardError, DatasetLayoutError, ValueError, OSError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    finally:
        stage.discard()  # on every exit: an error, Ctrl+C, SIGTERM
    _print_summary(args.out, card)
    return ExitCode.OK


def _print_summary(path: Path, card: ModelCard) -> None:
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): input {card.preprocess.input_text}, "
          f"labels {', '.join(card.labels)}")
    for member in card.training["members"]:
        print(f"  {member['name']} ({member['architecture']}, {member['file']}): weight "
              f"{member['weight']:.3f}, weights SHA-256 {member['weights_sha256'][:16]}...")
    metrics = card.metrics
    if "val_accuracy" in metrics:
        print(f"  val accuracy {metrics['val_accuracy']:.2%}, macro-F1 {metrics['val_macro_f1']:.4f} "
              "(measured on the file through the app's code)")
    else:
        print("  not measured: pass --data to record validation figures in the card")
    if "fp16_accuracy_change" in metrics:
        print(f"  fp16 weights: accuracy {metrics['fp32_val_accuracy']:.2%} -> {metrics['val_accuracy']:.2%} "
              f"({100 * metrics['fp16_accuracy_change']:+.2f} points)")
    print(f"  test figures: emotion-train evaluate {path} --data DATA --split test --write-card")
