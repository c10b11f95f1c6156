"""Short controlled training runs that choose the fast recipe: one change at a time, on val.

    python benchmarks/recipe_experiments.py run --arch mini_xception --epochs 10 \
        --variants paper fast fast_mixup --runs runs/recipe
    python benchmarks/recipe_experiments.py table --runs runs/recipe \
        > docs/results/recipe-experiments.md

``run`` trains each variant with ``emotion-train train`` for the same number of epochs on
one CPU thread (a variant already finished in ``--runs`` is skipped, a paused one resumed),
so two ``run`` calls with different variants use both cores of a small machine. ``table``
reads every run's ``history.json`` and checkpoint settings and prints the comparison:
best FER2013 val accuracy and macro-F1, the epoch it came at, and minutes. Selection is
on val only; test is never looked at here.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

FAST = ["--recipe", "fast", "--lr", "0.05"]
# Variant -> (what it changes, options on top of --arch/--data/--epochs). The fast variants
# name their learning rate, so they mean the same whatever the recipe's default becomes.
VARIANTS = {
    "paper": ("the paper's recipe (Adam 1e-3, plateau, batch 32, flips and small affine)",
              ["--recipe", "paper"]),
    "paper_b128": ("the paper's recipe at batch 128", ["--recipe", "paper", "--batch", "128"]),
    "sgd_cosine": ("SGD Nesterov 0.05, warm-up + cosine per batch, batch 128; paper augmentation",
                   [*FAST, "--label-smoothing", "0", "--augment", "erasing=0"]),
    "fast": ("sgd_cosine + label smoothing 0.1 + random erasing 0.5", FAST),
    "fast_lr0.1": ("fast at lr 0.1", [*FAST, "--lr", "0.1"]),
    "fast_lr0.02": ("fast at lr 0.02", [*FAST, "--lr", "0.02"]),
    "fast_mixup": ("fast + mixup 0.2 / CutMix 1.0", [*FAST, "--mixup", "0.2", "--cutmix", "1.0"]),
    "fast_ema": ("fast + weight EMA 0.999", [*FAST, "--ema", "0.999"]),
    "fast_distill": ("fast + distillation (weight 0.5, T 2)",
                     [*FAST, "--distill-weight", "0.5", "--distill-temperature", "2"]),
    "fast_distill_t1": ("fast + distillation (weight 0.5, T 1)",
                        [*FAST, "--distill-weight", "0.5", "--distill-temperature", "1"]),
    "fast_distill_w0.8": ("fast + distillation (weight 0.8, T 2)",
                          [*FAST, "--distill-weight", "0.8", "--distill-temperature", "2"]),
}


def teacher_of(run: Path) -> str:
    """The teachers a run distilled from, as its checkpoint names them ('' without)."""
    from training import checkpoint as checkpoints
    from training.teacher import TeacherProbabilities

    try:
        teacher = checkpoints.load(run / checkpoints.LAST).settings.recipe.teacher
        return f", teachers {TeacherProbabilities.load(teacher).describe()}" if teacher else ""
    except ValueError:  # a moved soft-label file or a damaged checkpoint: say nothing
        return ", teachers no longer at hand"


def run(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; valid: {sorted(VARIANTS)}")
    for name in args.variants:
        out = args.runs / f"{args.arch}-{name}-e{args.epochs}"
        options = list(VARIANTS[name][1])
        if "--distill-weight" in options:
            if args.teacher is None:
                raise SystemExit(f"variant {name} needs --teacher SOFT_LABELS.npz")
            options += ["--teacher", str(args.teacher)]
        if (out / "last.pt").exists():
            command = ["emotion-train", "train", "--resume", "--out", str(out), "--no-progress"]
        else:
            command = ["emotion-train", "train", "--arch", args.arch, "--data", str(args.data),
                       "--epochs", str(args.epochs), "--threads", "1", "--workers", "0",
                       "--no-progress", "--out", str(out), *options]
        print("+", shlex.join(command), file=sys.stderr, flush=True)
        status = subprocess.call(command)
        if status not in (0, 75):
            return status
    return 0


def table(args: argparse.Namespace) -> int:
    rows = []
    for history_path in sorted(args.runs.glob("*/history.json")):
        history = json.loads(history_path.read_text())
        if not history:
            continue
        arch, _, rest = history_path.parent.name.partition("-")
        variant, _, planned = rest.rpartition("-e")
        best = max(history, key=lambda entry: entry["val_accuracy"])
        minutes = sum(entry["seconds"] for entry in history) / 60
        rows.append((arch, variant, teacher_of(history_path.parent), len(history), planned, best,
                     minutes))
    print("Short runs made with `python benchmarks/recipe_experiments.py run --arch ARCH --epochs N "
          "--variants ...`: FER2013 train, best epoch on val, one CPU thread each, single view in "
          "PyTorch (the exported, mirror-averaged file scores higher). Minutes are wall time on "
          "a machine shared with other work, so they compare runs only roughly; "
          "train-throughput.md has the unloaded rates.\n")
    print("| architecture | variant | what changes | epochs run / planned | best val accuracy | "
          "val macro-F1 | at epoch | minutes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows.sort(key=lambda row: (row[0], -row[5]["val_accuracy"]))
    for arch, variant, teacher, epochs, planned, best, minutes in rows:
        description = VARIANTS.get(variant, ("?",))[0] + teacher
        print(f"| {arch} | {variant} | {description} | {epochs} / {planned} | "
              f"{100 * best['val_accuracy']:.2f} % | {best['val_macro_f1']:.3f} | {best['epoch']} | "
              f"{minutes:.0f} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="train variants")
    runner.add_argument("--arch", default="mini_xception")
    runner.add_argument("--data", type=Path, default=Path("../shared/data/fer2013"))
    runner.add_argument("--epochs", type=int, default=10)
    runner.add_argument("--variants", nargs="+", default=["paper", "fast"])
    runner.add_argument("--teacher", type=Path, help="soft-label file for the distillation variants")
    runner.add_argument("--runs", type=Path, required=True, help="folder of the runs")
    tabler = commands.add_parser("table", help="print the comparison as Markdown")
    tabler.add_argument("--runs", type=Path, required=True)
    args = parser.parse_args()
    return run(args) if args.command == "run" else table(args)


if __name__ == "__main__":
    sys.exit(main())
