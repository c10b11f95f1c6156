"""``emotion-train train``: train an architecture on a dataset with its paper's recipe.

    emotion-train train --arch mini_xception --data data/fer2013
    emotion-train train --resume --out runs/mini_xception          # continue exactly
    torchrun --nproc_per_node=2 -m training train --arch mini_xception --data ...

Defaults come from ``training.recipes``; every option overrides one value. The run
folder gets ``last.pt`` every epoch, ``best.pt`` at the best validation accuracy and
``history.json``. Ctrl-C (or SIGTERM) stops after the current batch, saves and exits
with 130; ``--max-minutes`` pauses the same way with exit status 75 (EX_TEMPFAIL:
"resume me"); a finished run exits 0. Bad input exits 2 with a message
(``app.system.exit_codes.ExitCode``).
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from app.system.exit_codes import ExitCode
from training import ablations, distributed, warm_start
from training import checkpoint as checkpoints
from training.checkpoint import Checkpoint
from training.cpu_plan import ThreadGovernor
from training.data import FORMAT_CHOICES, DataOptions
from training.data.base import DatasetLayoutError
from training.losses import LOSSES
from training.models import ARCHITECTURES, architecture
from training.recipes import (
    DECAY_SCOPES,
    DEFAULT_DISTILL_WEIGHT,
    OPTIMISERS,
    RECIPE_KINDS,
    SCHEDULES,
    recipe_for,
)
from training.run_setup import build_parts, log_start, thread_ceiling
from training.settings import DataSettings, RunSettings, TrainSettings
from training.stop_signals import StopSignals
from training.teacher import make_teacher
from training.trainer import FINISHED, INTERRUPTED, Trainer

log = logging.getLogger(__name__)

# Options that define the model or its data; a resumed run keeps the checkpoint's values.
FIXED_ON_RESUME = ("arch", "data", "dataset", "train_split", "val_split", "batch", "input_size",
                   "channels", "color_space", "lr", "weight_decay", "weight_decay_on", "optimiser",
                   "momentum", "schedule", "loss", "label_smoothing", "island_weight",
                   "auxiliary_weight", "gamma", "augment", "soft_labels", "exclude_classes",
                   "limit_per_class", "seed", "recipe", "nesterov", "warmup_epochs", "mixup", "cutmix",
                   "ema", "teacher", "distill_weight", "distill_temperature", "init",
                   "ablate", "landmark_emphasis")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to train")
    what.add_argument("--arch", choices=sorted(ARCHITECTURES), help="architecture")
    what.add_argument("--data", type=Path, help="dataset root (a folder or a CSV's folder)")
    what.add_argument("--ablate", type=ablations.parse_names, metavar="NAME,...",
                      help="switch off the modules a paper ablates, e.g. gam,dynamic_conv "
                           "(each architecture's names: emotion-train ablate --list)")
    what.add_argument("--init", type=Path, metavar="MODEL.onnx",
                      help="start from the weights of a model exported by emotion-train export "
                           "(its architecture and preprocessing come with it)")
    what.add_argument("--dataset", choices=FORMAT_CHOICES,
                      help="dataset format (default: auto, detected from the layout)")
    what.add_argument("--train-split", help="split to train on (default: train)")
    what.add_argument("--val-split", help="split for validation and model selection (default: val)")
    what.add_argument("--limit-per-class", type=int, help="at most N images per class (quick runs)")
    what.add_argument("--exclude-classes", nargs="+", default=[], metavar="CLASS",
                      help="drop these classes, e.g. contempt")
    what.add_argument("--classes", nargs="+", default=[], metavar="CLASS",
                      help="an image tree's class folders, in output order: trains on exactly these "
                           "even where they are not FER2013's or a split lacks one")
    what.add_argument("--soft-labels", action="store_true", help="FER+: train on vote distributions")
    recipe = parser.add_argument_group("recipe overrides (defaults: the architecture's paper)")
    recipe.add_argument("--recipe", choices=RECIPE_KINDS,
                        help="paper: as the architecture's paper trains it (default); fast: the "
                             "CPU-efficient recipe chosen by measurement (training/recipes.py)")
    recipe.add_argument("--epochs", type=int)
    recipe.add_argument("--batch", type=int, help="global batch size (split across processes)")
    recipe.add_argument("--input-size", type=int, help="square input side in pixels")
    recipe.add_argument("--channels", type=int, choices=(1, 3))
    recipe.add_argument("--color-space", choices=("gray", "rgb"))
    recipe.add_argument("--lr", type=float, help="initial learning rate")
    recipe.add_argument("--weight-decay", type=float)
    recipe.add_argument("--weight-decay-on", choices=DECAY_SCOPES,
                        help="decay every parameter (all) or the dense layers' weights alone")
    recipe.add_argument("--optimiser", choices=OPTIMISERS)
    recipe.add_argument("--momentum", type=float, help="SGD momentum")
    recipe.add_argument("--nesterov", action=argparse.BooleanOptionalAction, help="SGD: Nesterov momentum")
    recipe.add_argument("--warmup-epochs", type=float, help="warmup_cosine: epochs of linear warm-up")
    recipe.add_argument("--schedule", choices=SCHEDULES)
    recipe.add_argument("--patience", type=int, help="early stopping: epochs without improvement")
    recipe.add_argument("--loss", choices=LOSSES)
    recipe.add_argument("--label-smoothing", type=float)
    recipe.add_argument("--island-weight", type=float, help="weight of the island loss (0: off)")
    recipe.add_argument("--auxiliary-weight", type=float,
                        help="weight of the recipe's auxiliary classifier (0: off)")
    recipe.add_argument("--mixup", type=float, help="mixup Beta alpha (0: off)")
    recipe.add_argument("--cutmix", type=float, help="CutMix Beta alpha (0: off)")
    recipe.add_argument("--ema", type=float, help="decay of the weights' moving average (0: off)")
    recipe.add_argument("--teacher", type=Path, nargs="+", metavar="FILE",
                        help="distil from these ONNX models (scored once, cached in the run folder) "
                             "or a soft-label file of emotion-train soft-labels")
    recipe.add_argument("--distill-weight", type=float, help="share of the loss for the teacher")
    recipe.add_argument("--distill-temperature", type=float, help="distillation temperature")
    recipe.add_argument("--gamma", action=argparse.BooleanOptionalAction, help="adaptive gamma")
    recipe.add_argument("--landmark-emphasis", type=float, metavar="STRENGTH",
                        help="fade the face off its eyes, brows, nose and mouth by this much, "
                             "0 to 1 (DCRNet Sec. 2.1.2; 0: off; the card carries it to the app)")
    recipe.add_argument("--augment", help="key=value,... changes to the augmentation, or 'none'")
    run = parser.add_argument_group("run")
    run.add_argument("--out", type=Path, help="run folder (default: runs/ARCH)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    run.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    run.add_argument("--device", default="auto", choices=distributed.DEVICES)
    run.add_argument("--no-amp", action="store_true", help="train in float32 (no bf16/fp16 autocast)")
    run.add_argument("--no-channels-last", action="store_true", help="keep NCHW memory layout")
    run.add_argument("--workers", type=int, help="data loader processes (default: by CPU count)")
    run.add_argument("--threads", type=thread_count, metavar="N|auto",
                     help="PyTorch CPU threads: a fixed count, or auto: as many as there are idle "
                          "cores, up to cores / processes, followed as the load changes (default: "
                          "auto; --resume: the run's)")
    run.add_argument("--eval-batch", type=int, default=256)
    run.add_argument("--max-minutes", type=float, help="pause (save, exit 75) after this long")
    run.add_argument("--save-every-minutes", type=float, default=10.0)
    run.add_argument("--progress", action=argparse.BooleanOptionalAction,
                     help="progress bar (default: on a terminal)")
    run.add_argument("--dry-run", action="store_true", help="print the resolved settings and exit")


def settings_from_args(args: argparse.Namespace) -> TrainSettings:
    init = warm_start.provenance(args.init, args.arch) if args.init else None
    if init:
        args.arch = init["architecture"]
    if args.arch is None or args.data is None:
        raise ValueError("--arch (or --init) and --data are required (or --resume with --out)")
    recipe = recipe_for(args.arch, args.recipe or "paper")
    optimiser_changes = _given(args, name="optimiser", lr="lr", weight_decay="weight_decay",
                               momentum="momentum", weight_decay_on="weight_decay_on",
                               nesterov="nesterov")
    if optimiser_changes.get("name", "sgd") != "sgd" and "nesterov" not in optimiser_changes:
        optimiser_changes["nesterov"] = False  # Nesterov belongs to SGD alone
    optimiser = replace(recipe.optimiser, **optimiser_changes)
    schedule_changes = _given(args, name="schedule", warmup_epochs="warmup_epochs")
    if schedule_changes.get("name", "warmup_cosine") != "warmup_cosine" and args.warmup_epochs is None:
        schedule_changes["warmup_epochs"] = 0.0  # a warm-up belongs to warmup_cosine alone
    schedule = replace(recipe.schedule, **schedule_changes)
    augment = recipe.augment.with_overrides(args.augment) if args.augment else recipe.augment
    overrides = _given(
        args, epochs="epochs", batch_size="batch", early_stopping_patience="patience", loss="loss",
        label_smoothing="label_smoothing", island_weight="island_weight", gamma="gamma",
        channels="channels", color_space="color_space", auxiliary_weight="auxiliary_weight",
        mixup_alpha="mixup", cutmix_alpha="cutmix", ema_decay="ema", distill_weight="distill_weight",
        distill_temperature="distill_temperature", landmark_emphasis="landmark_emphasis")
    out = Path(args.out or Path("runs") / args.arch)
    if (out / checkpoints.LAST).exists():  # before the teachers are scored into it
        raise ValueError(f"{out} already holds a run: pass --resume to continue it, or choose "
                         "another --out")
    if args.teacher:
        overrides["teacher"] = str(teacher_file(args))
        overrides.setdefault("distill_weight", recipe.distill_weight or DEFAULT_DISTILL_WEIGHT)
    if overrides.get("auxiliary_weight") == 0:
        # --auxiliary-weight 0 switches the classifier off
        overrides.update(auxiliary_from=None, auxiliary_feature_extractor=False)
    recipe = replace(recipe, optimiser=optimiser, schedule=schedule, augment=augment, **overrides)
    if not 0.0 <= recipe.landmark_emphasis <= 1.0:
        raise ValueError(f"--landmark-emphasis must be between 0 (off) and 1 (flat), got "
                         f"{recipe.landmark_emphasis}")
    ablate = ablations.checked(args.arch, args.ablate)
    if ablate and init:
        raise ValueError("--ablate builds another model than the --init file holds: train the "
                         "variant from scratch")
    recipe = ablations.ablated_recipe(recipe, args.arch, ablate, overrides)
    seed = 0 if args.seed is None else args.seed
    if seed < 0:
        raise ValueError(f"--seed must be 0 or more, got {seed}")
    options = DataOptions(limit_per_class=args.limit_per_class, seed=seed,
                          exclude_classes=tuple(args.exclude_classes), soft_labels=args.soft_labels,
                          classes=tuple(args.classes))
    data = DataSettings(args.dataset or "auto", str(args.data), args.train_split or "train",
                        args.val_split or "val", options)
    input_size = args.input_size or recipe.input_size or architecture(args.arch).input_size
    if init:
        recipe, input_size = warm_start.fit_recipe(recipe, input_size, init, args)
    return TrainSettings(args.arch, recipe, data, run_settings(args, None), input_size, seed, init, ablate)


def teacher_file(args: argparse.Namespace) -> Path:
    """The soft-label file to distil from: the one given, or the teachers scored once over the
    training split into ``teacher.npz`` in the run folder."""
    if len(args.teacher) == 1 and args.teacher[0].suffix == ".npz":
        return args.teacher[0]
    if any(path.suffix != ".onnx" for path in args.teacher):
        raise ValueError(f"--teacher takes ONNX models or one .npz soft-label file, got "
                         f"{[str(path) for path in args.teacher]}")
    out = Path(args.out or Path("runs") / args.arch) / "teacher.npz"
    options = DataOptions(limit_per_class=args.limit_per_class, seed=args.seed or 0,
                          exclude_classes=tuple(args.exclude_classes), classes=tuple(args.classes))
    log.info("scoring the teachers once over the training split into %s", out)
    make_teacher(args.teacher, args.data, args.train_split or "train", args.dataset or "auto",
                 options).save(out)
    return out


def run_settings(args: argparse.Namespace, saved: RunSettings | None) -> RunSettings:
    """This session's run options; a resumed run keeps its thread count unless --threads."""
    out = args.out or (saved.out if saved else Path("runs") / args.arch)
    threads = saved.threads if saved and args.threads is None else args.threads
    threads = None if threads == "auto" else threads
    return RunSettings(str(out), args.device, not args.no_amp, not args.no_channels_last,
                       args.workers, threads, args.eval_batch, args.max_minutes,
                       args.save_every_minutes, args.progress)


def settings_for_resume(args: argparse.Namespace, saved: Checkpoint) -> TrainSettings:
    changed = [f"--{name.replace('_', '-')}" for name in FIXED_ON_RESUME
               if getattr(args, name) not in (None, False, [])]
    if changed:
        raise ValueError(f"{' '.join(changed)} cannot change when resuming: the run's settings are "
                         "in its checkpoint (start a new run with another --out instead)")
    settings = saved.settings
    recipe = replace(settings.recipe, **_given(args, epochs="epochs", early_stopping_patience="patience"))
    return replace(settings, recipe=recipe, run=run_settings(args, settings.run))


def thread_count(text: str) -> int | str:
    """``--threads``: a count of at least 1, or ``auto``."""
    if text == "auto":
        return text
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, or auto; got {text!r}")
    return count


def _given(args: argparse.Namespace, **names: str) -> dict:
    """{field: value} for the options the user actually gave."""
    return {field: getattr(args, option) for field, option in names.items()
            if getattr(args, option) is not None}


def format_command(argv: list[str], world_size: int) -> str:
    if world_size > 1:
        return f"torchrun --standalone --nproc_per_node={world_size} -m training {shlex.join(argv)}"
    return f"emotion-train {shlex.join(argv)}"


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    argv = list(getattr(args, "argv", None) or sys.argv[1:])
    context = distributed.setup(args.device)
    if not context.is_main:  # one voice: rank 0 logs progress, the others only problems
        logging.getLogger().setLevel(logging.WARNING)
    try:
        out = args.out or (Path("runs") / args.arch if args.arch else None)
        saved = None
        if args.resume:
            if out is None:
                raise ValueError("--resume needs --out RUN_FOLDER (or --arch for runs/ARCH)")
            saved = checkpoints.load(Path(out) / checkpoints.LAST)
            settings = settings_for_resume(args, saved)
            if saved.stopped == FINISHED and args.epochs is None and args.patience is None:
                log.info("%s has finished (%d epochs); nothing to resume. Give --epochs or "
                         "--patience to train further", out, saved.progress.epoch)
                return ExitCode.OK
        else:
            settings = settings_from_args(args)
        if args.dry_run:
            print(json.dumps(settings.to_dict(), indent=2))
            return ExitCode.OK
        threads = settings.run.threads or thread_ceiling(context)
        torch.set_num_threads(threads)
        parts = build_parts(settings, context, saved.spec if saved is not None else None, threads)
        governor = (ThreadGovernor(threads) if settings.run.threads is None
                    and context.device.type == "cpu" else None)
        command = format_command(argv, context.world_size)
        trainer = Trainer(settings, context, parts, command, saved, started, governor)
        if saved is not None:
            trainer.resumed.append(command)
        log_start(settings, parts, trainer.progress, context)
        with StopSignals() as stop:
            outcome = trainer.fit(stop)
    except (ValueError, DatasetLayoutError, checkpoints.CheckpointError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    except KeyboardInterrupt:
        log.warning("interrupted before training started; nothing to save")
        return ExitCode.INTERRUPTED
    finally:
        distributed.teardown()
    progress = trainer.progress
    if outcome == FINISHED:
        log.info("done: best val accuracy %.2f%% at epoch %d; export with: emotion-train export %s",
                 100 * progress.best_accuracy, progress.best_epoch, Path(settings.run.out) / "best.pt")
        return ExitCode.OK
    log.warning("%s in epoch %d after %d batches; saved %s. Continue with: emotion-train train "
                "--resume --out %s", outcome, progress.epoch + 1, progress.batches_done,
                Path(settings.run.out) / checkpoints.LAST, settings.run.out)
    return ExitCode.INTERRUPTED if outcome == INTERRUPTED else ExitCode.PAUSED
