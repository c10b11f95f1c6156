"""``emotion-train ablate``: a paper's ablation table, rerun here as a set of training runs.

    emotion-train ablate --arch yolov8_dyconv_gam --data data/fer2013 \\
        --epochs 30 --seeds 0 1 2 --out runs/ablate-yolov8
    emotion-train ablate --table-only --out runs/ablate-yolov8
    emotion-train ablate --list

Every row of the paper's table (``training.ablations.TABLES``) trains once per seed, as
an ordinary ``emotion-train train`` run into ``<out>/<variant>-seed<k>``, all under one
budget (epochs, data fraction, recipe, batch), so the rows differ only in the modules
they switch off. Running the command again skips finished runs and resumes paused or
killed ones; ``--max-minutes`` bounds this session (exit 75: run it again to go on).
The table (``<out>/ablation.md``) gives each variant's parameters, MACs, best validation
accuracy as the mean and sample standard deviation over seeds, and minutes per run,
beside the number the paper reports for that row.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

from app.system.exit_codes import ExitCode
from training import ablations, distributed
from training import checkpoint as checkpoints
from training.checkpoint import Checkpoint
from training.commands import train
from training.data.base import DatasetLayoutError
from training.model_table import count_macs
from training.models import ARCHITECTURES, build_model
from training.recipes import RECIPE_KINDS
from training.seed_spread import run_minutes, spread_text
from training.trainer import FINISHED

log = logging.getLogger(__name__)

MANIFEST, TABLE = "ablation.json", "ablation.md"
BUDGET_KEYS = ("arch", "data", "recipe", "epochs", "limit_per_class", "batch")
"""What every run of one ablation shares; a second session must not change it."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), help="whose paper table to run")
    parser.add_argument("--data", type=Path, help="dataset root")
    parser.add_argument("--out", type=Path, help="runs and table (default: runs/ablate-ARCH)")
    parser.add_argument("--variants", nargs="+", metavar="NAME", help="only these rows (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds per row")
    parser.add_argument("--epochs", type=int, help="epochs per run (default: the recipe's)")
    parser.add_argument("--limit-per-class", type=int, help="at most N images per class (data fraction)")
    parser.add_argument("--recipe", choices=RECIPE_KINDS, default="paper")
    parser.add_argument("--batch", type=int, help="batch size (default: the recipe's)")
    parser.add_argument("--table-only", action="store_true", help="rebuild the table from finished runs")
    parser.add_argument("--list", action="store_true", help="print every architecture's ablations and rows")
    run = parser.add_argument_group("passed to every run")
    run.add_argument("--device", default="auto", choices=distributed.DEVICES)
    run.add_argument("--threads", type=int)
    run.add_argument("--workers", type=int)
    run.add_argument("--no-amp", action="store_true")
    run.add_argument("--max-minutes", type=float, help="pause after this long in all (exit 75)")


def run(args: argparse.Namespace) -> int:
    try:
        if args.list:
            print(listing())
            return ExitCode.OK
        out = args.out or (Path("runs") / f"ablate-{args.arch}" if args.arch else None)
        if out is None:
            raise ValueError("--arch (or, with --table-only, --out) is required")
        if not args.table_only:
            status = run_all(args, out)
            if status:
                return status
        text = table_markdown(out)
    except (ValueError, DatasetLayoutError, checkpoints.CheckpointError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    (out / TABLE).write_text(text + "\n")
    print(text)
    return ExitCode.OK


def run_all(args: argparse.Namespace, out: Path) -> int:
    """Train every (variant, seed) not yet finished; the first pause or error ends it."""
    if args.arch is None or args.data is None:
        raise ValueError("--arch and --data are required (or --table-only --out DIR)")
    table = ablations.table_for(args.arch)
    variants = [table.variant(name) for name in args.variants] if args.variants else list(table.variants)
    if any(seed < 0 for seed in args.seeds):
        raise ValueError(f"seeds must be 0 or more, got {args.seeds}")
    budget = {"arch": args.arch, "data": str(args.data.resolve()), "recipe": args.recipe,
              "epochs": args.epochs, "limit_per_class": args.limit_per_class, "batch": args.batch}
    write_manifest(out, budget, [variant.name for variant in variants], args.seeds)
    started = time.monotonic()
    for variant in variants:
        for seed in args.seeds:
            folder = out / f"{variant.name}-seed{seed}"
            state = run_state(folder)
            if state == FINISHED:
                log.info("%s: finished, skipped", folder)
                continue
            argv = (["--resume", "--out", str(folder)] if state == "started"
                    else fresh_arguments(budget, variant, seed, folder))
            argv += run_options(args, started)
            log.info("%s: %s (%s)", folder, "resuming" if state == "started" else "training",
                     ablations.describe(args.arch, variant.ablate))
            status = train_once(argv)
            if status:
                log.warning("%s stopped (exit %d); run the same command again to go on", folder, status)
                return status
    return ExitCode.OK


def fresh_arguments(budget: dict, variant: ablations.Variant, seed: int, folder: Path) -> list[str]:
    argv = ["--arch", budget["arch"], "--data", budget["data"], "--out", str(folder), "--seed", str(seed),
            "--recipe", budget["recipe"]]
    if variant.ablate:
        argv += ["--ablate", ",".join(sorted(variant.ablate))]
    for option in ("epochs", "limit_per_class", "batch"):
        if budget[option] is not None:
            argv += [f"--{option.replace('_', '-')}", str(budget[option])]
    return argv


def run_options(args: argparse.Namespace, started: float) -> list[str]:
    """This session's options for one run; the time budget shrinks as the runs use it."""
    argv = ["--device", args.device]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if args.no_amp:
        argv.append("--no-amp")
    if args.max_minutes is not None:
        left = args.max_minutes - (time.monotonic() - started) / 60
        argv += ["--max-minutes", f"{max(left, 0.01):.3f}"]
    return argv


def train_once(argv: list[str]) -> int:
    """One ``emotion-train train`` run in this process, recorded as if typed."""
    parser = argparse.ArgumentParser(prog="emotion-train train")
    train.add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = ["train", *argv]
    return train.run(args)


def run_state(folder: Path) -> str:
    """``finished``, ``started`` (a ``last.pt`` to resume) or ``new``."""
    if not (folder / checkpoints.LAST).is_file():
        return "new"
    return FINISHED if checkpoints.load(folder / checkpoints.LAST).stopped == FINISHED else "started"


def write_manifest(out: Path, budget: dict, variants: list[str], seeds: list[int]) -> None:
    """Record the shared budget; rows and seeds may be added later, the budget not changed."""
    path = out / MANIFEST
    if path.is_file():
        saved = json.loads(path.read_text())
        changed = [key for key in BUDGET_KEYS if saved["budget"].get(key) != budget[key]]
        if changed:
            before = {key: saved["budget"].get(key) for key in changed}
            raise ValueError(f"{out} holds an ablation with other {', '.join(changed)} ({before}): "
                             "choose another --out")
        variants = [*saved["variants"], *(name for name in variants if name not in saved["variants"])]
        seeds = sorted(set(saved["seeds"]) | set(seeds))
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"budget": budget, "variants": variants, "seeds": seeds}, indent=2) + "\n")


def table_rows(out: Path) -> tuple[dict, list[dict]]:
    """The manifest and one row per variant, from the finished runs under ``out``."""
    path = out / MANIFEST
    if not path.is_file():
        raise ValueError(f"{out} holds no ablation ({MANIFEST} is missing)")
    manifest = json.loads(path.read_text())
    arch = manifest["budget"]["arch"]
    table = ablations.table_for(arch)
    rows = []
    for variant in (table.variant(name) for name in manifest["variants"]):
        finished = []
        for seed in manifest["seeds"]:
            folder = out / f"{variant.name}-seed{seed}"
            if run_state(folder) != FINISHED:
                continue
            last = checkpoints.load(folder / checkpoints.LAST)
            if frozenset(last.model.ablate) != variant.ablate:
                raise ValueError(f"{folder} holds ablation {sorted(last.model.ablate)}, "
                                 f"not {variant.name}'s {sorted(variant.ablate)}")
            finished.append(last)
        rows.append(row_of(arch, variant, finished, len(manifest["seeds"])))
    return manifest, rows


def row_of(arch: str, variant: ablations.Variant, runs: list[Checkpoint], planned: int) -> dict:
    row = {"variant": variant.name, "changes": ablations.describe(arch, variant.ablate),
           "paper_row": variant.paper_row, "paper_accuracy": variant.paper_accuracy,
           "seeds": f"{len(runs)}/{planned}", "accuracies": [], "minutes": None,
           "parameters": None, "macs": None}
    if runs:
        model = runs[0].model
        built = build_model(arch, model.num_classes, model.in_channels, model.input_size, variant.ablate)
        row.update(parameters=runs[0].parameters,
                   macs=count_macs(built, model.in_channels, model.input_size),
                   accuracies=[100 * run.progress.best_accuracy for run in runs],
                   minutes=statistics.fmean(run_minutes(run.progress) for run in runs))
    return row


def table_markdown(out: Path) -> str:
    manifest, rows = table_rows(out)
    budget = manifest["budget"]
    table = ablations.table_for(budget["arch"])
    header = ("variant", "what changes", "paper row", "paper (%)", "params (M)", "MACs (M)",
              "val accuracy (%)", "seeds", "minutes per run")
    lines = [f"### {budget['arch']}: {table.source}", "",
             f"Budget: recipe {budget['recipe']}, epochs {budget['epochs'] or 'as the recipe'}, "
             f"{budget['limit_per_class'] or 'all'} images per class, batch "
             f"{budget['batch'] or 'as the recipe'}, data {budget['data']}. Val accuracy: the best "
             "epoch's, mean ± sample standard deviation over the finished seeds. Minutes: the median "
             "epoch times the epochs (time paused does not count).", "",
             "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = (row["variant"], row["changes"], row["paper_row"],
                 "-" if row["paper_accuracy"] is None else f"{row['paper_accuracy']:g}",
                 "-" if row["parameters"] is None else f"{row['parameters'] / 1e6:.3f}",
                 "-" if row["macs"] is None else f"{row['macs'] / 1e6:.1f}",
                 spread_text(row["accuracies"]), row["seeds"],
                 "-" if row["minutes"] is None else f"{row['minutes']:.1f}")
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)


def listing() -> str:
    """Every architecture's switches and its paper table's rows, for ``--list``."""
    lines = []
    for name, spec in sorted(ARCHITECTURES.items()):
        table = ablations.table_for(name)
        lines.append(f"{name} ({table.source})")
        lines += [f"  --ablate {switch}: {text}" for switch, text in spec.ablations.items()]
        lines += [f"  row {variant.name}: {variant.paper_row} = --ablate "
                  f"{','.join(sorted(variant.ablate)) or '(none)'}" for variant in table.variants]
    return "\n".join(lines)
