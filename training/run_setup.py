"""Everything a training run is made of, built from its settings: data, spec, model, loaders.

The preprocessing spec's normalisation is measured on the training crops (after
adaptive gamma when the recipe applies it), so inputs are centred whatever the
dataset; a resumed run reuses the spec stored in its checkpoint.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from app.batch.local import available_cores
from app.face.alignment import DEFAULT_TEMPLATE_ID
from app.face.gamma import adaptive_gamma
from app.face.preprocess import PreprocessSpec, to_tensor
from training import ablations, warm_start
from training.augment import Augmenter
from training.checkpoint import DatasetInfo
from training.cpu_plan import default_cache, plan_cpu
from training.data import CropSet, load_split, resolve_format
from training.data.torch_dataset import CropDataset, EvalBatches, TrainBatches, ignore_interrupts
from training.distributed import Context
from training.losses import TrainingObjective, build_loss, tapped_channels
from training.models import build_model
from training.optimisation import Precision, choose_precision, place
from training.settings import TrainSettings
from training.teacher import TeacherProbabilities

log = logging.getLogger(__name__)


@dataclass
class RunParts:
    labels: tuple[str, ...]
    spec: PreprocessSpec
    dataset_info: DatasetInfo
    objective: TrainingObjective
    precision: Precision
    memory_format: torch.memory_format
    layout_reason: str
    """Why this precision and memory format (``choose_layout``)."""
    train_batches: TrainBatches
    train_loader: DataLoader
    val_loader: DataLoader


def normalisation(crops: np.ndarray, gamma: bool, chunk: int = 4096) -> tuple[tuple, tuple]:
    """Per-channel mean and standard deviation of uint8 crops scaled to [0, 1]."""
    channels = crops.shape[-1]
    total, squares, count = np.zeros(channels), np.zeros(channels), 0
    for start in range(0, len(crops), chunk):
        block = crops[start: start + chunk]
        if gamma:
            block = np.stack([adaptive_gamma(crop)[0] for crop in block])
        values = block.reshape(-1, channels).astype(np.float64) / 255.0
        total += values.sum(axis=0)
        squares += np.square(values).sum(axis=0)
        count += len(values)
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean**2, 1e-12))
    return tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in std)


def thread_ceiling(context: Context) -> int:
    """The most PyTorch CPU threads a process may use: its share of the cores (cores / local
    ranks); torchrun's ``OMP_NUM_THREADS`` is respected. ``ThreadGovernor`` runs fewer
    while other work keeps cores busy."""
    if "OMP_NUM_THREADS" in os.environ:
        return torch.get_num_threads()
    return max(1, available_cores() // max(context.local_world_size, 1))


def choose_layout(settings: TrainSettings, context: Context,
                  threads: int) -> tuple[Precision, torch.memory_format, str]:
    """Precision and memory format for this device, and why: measured on a CPU
    (``training.cpu_plan``), mixed precision and channels-last on CUDA."""
    run = settings.run
    if context.device.type != "cpu":
        precision = choose_precision(context.device, run.amp)
        memory_format = torch.channels_last if run.channels_last else torch.contiguous_format
        return precision, memory_format, f"{precision.name} autocast on {context.device}"
    plan = plan_cpu(settings.arch, settings.recipe.batch_size // context.world_size, settings.input_size,
                    settings.recipe.channels, threads, settings.ablate, run.amp, run.channels_last,
                    cache=default_cache())
    return plan.layout.as_precision(), plan.layout.memory_format, f"{plan.layout.name}: {plan.reason}"


def default_workers(context: Context) -> int:
    """Loader processes: none on a small CPU (they would steal the model's cores), else a few."""
    per_rank = available_cores() // max(context.local_world_size, 1)
    if context.device.type == "cuda":
        return max(1, min(8, per_rank - 1))
    return 0 if per_rank <= 4 else min(4, per_rank // 4)


def class_counts(crops: CropSet) -> np.ndarray:
    if crops.soft_targets is not None:
        return crops.soft_targets.sum(axis=0)
    return crops.class_counts()


def calibration_batch(crops: CropSet, spec: PreprocessSpec, seed: int, size: int = 256) -> torch.Tensor:
    """A seeded random sample of un-augmented training crops, as one tensor batch."""
    chosen = np.random.default_rng(seed).choice(len(crops), min(size, len(crops)), replace=False)
    return torch.from_numpy(np.stack([to_tensor(crops.crops[index], spec)[0] for index in chosen]))


def build_parts(settings: TrainSettings, context: Context, saved_spec: PreprocessSpec | None,
                threads: int) -> RunParts:
    recipe, data, run = settings.recipe, settings.data, settings.run
    root = Path(data.root)
    dataset_format = resolve_format(data.format, root)
    channels = recipe.channels
    if saved_spec is not None:
        spec = saved_spec
    elif settings.init:  # the started-from weights' own preprocessing
        spec = replace(warm_start.spec_of(settings.init), landmark_emphasis=recipe.landmark_emphasis)
    else:  # normalisation measured below, once the crops are loaded
        spec = PreprocessSpec((settings.input_size, settings.input_size), channels, recipe.color_space,
                              (0.0,) * channels, (1.0,) * channels, recipe.gamma, DEFAULT_TEMPLATE_ID,
                              recipe.landmark_emphasis)
    train_set = load_split(dataset_format.name, root, data.train_split, spec, data.options)
    val_set = load_split(dataset_format.name, root, data.val_split, spec,
                         replace(data.options, soft_labels=False))
    if train_set.labels != val_set.labels:
        raise ValueError(f"{data.train_split} labels {train_set.labels} differ from "
                         f"{data.val_split} labels {val_set.labels}")
    if settings.init and tuple(settings.init["labels"]) != train_set.labels:
        raise ValueError(f"--init {settings.init['path']} reads {tuple(settings.init['labels'])}, "
                         f"{data.train_split} has {train_set.labels}")
    if saved_spec is None and not settings.init:
        mean, std = normalisation(train_set.crops, spec.gamma)
        spec = replace(spec, mean=mean, std=std)
    torch.manual_seed(settings.seed)  # the initial weights, the same on every rank
    model = build_model(settings.arch, num_classes=len(train_set.labels), in_channels=channels,
                        input_size=settings.input_size, ablate=settings.ablate)
    if settings.init and saved_spec is None:  # a resumed run's weights come from its checkpoint
        started = warm_start.load_exported(model, settings.init["path"],
                                           calibration_batch(train_set, spec, settings.seed))
        log.info("started from %s: %d fused norms rebuilt, logits within %.1g of the file's",
                 started.path, started.rebuilt_norms, started.max_logit_error)
    auxiliary_channels = (tapped_channels(model, recipe.auxiliary_from)
                          if recipe.auxiliary_from else None)
    loss = build_loss(recipe.loss, class_counts(train_set), recipe.label_smoothing,
                      recipe.island_weight, getattr(model, "embedding_dim", None),
                      recipe.auxiliary_weight, auxiliary_channels, recipe.distill_weight,
                      recipe.distill_temperature)
    teacher = None
    if recipe.teacher is not None:
        teacher_probabilities = TeacherProbabilities.load(recipe.teacher)
        teacher_probabilities.check_matches(train_set)
        log.info("distilling from %s (%.2f %% on %s %s), weight %g, temperature %g",
                 teacher_probabilities.describe(), 100 * teacher_probabilities.accuracy,
                 train_set.dataset, data.train_split, recipe.distill_weight, recipe.distill_temperature)
        teacher = teacher_probabilities.probabilities
    precision, memory_format, layout_reason = choose_layout(settings, context, threads)
    objective = TrainingObjective(model, loss, recipe.auxiliary_from,
                                  recipe.auxiliary_feature_extractor)
    objective = place(objective, context.device, memory_format)
    workers = run.workers if run.workers is not None else default_workers(context)
    augmenter = Augmenter(recipe.augment) if recipe.augment.enabled else None
    train_batches = TrainBatches(len(train_set), recipe.batch_size, settings.seed,
                                 context.rank, context.world_size)
    train_loader = DataLoader(
        CropDataset(train_set, spec, augmenter, settings.seed, data.options.soft_labels, teacher),
        batch_sampler=train_batches, num_workers=workers, persistent_workers=workers > 0,
        worker_init_fn=ignore_interrupts if workers else None,
        pin_memory=context.device.type == "cuda")
    val_loader = DataLoader(CropDataset(val_set, spec),
                            batch_sampler=EvalBatches(len(val_set), run.eval_batch_size,
                                                      context.rank, context.world_size))
    dataset_info = DatasetInfo(train_set.dataset, dataset_format.name, data.root, data.train_split,
                               data.val_split, len(train_set), len(val_set),
                               tuple(float(count) for count in class_counts(train_set)))
    return RunParts(train_set.labels, spec, dataset_info, objective, precision, memory_format,
                    layout_reason, train_batches, train_loader, val_loader)


def log_start(settings: TrainSettings, parts: RunParts, progress, context: Context) -> None:
    """The run's first log lines: model, precision, threads, the resolved recipe."""
    if not context.is_main:
        return
    recipe, model = settings.recipe, parts.objective.model
    parameters = sum(parameter.numel() for parameter in model.parameters())
    log.info("%s: %.3f M parameters, input %dx%dx%d %s, %s on %s x%d, %d threads, "
             "%d loader workers", settings.arch, parameters / 1e6, parts.spec.channels,
             *parts.spec.input_size, parts.spec.color_space, parts.precision.name, context.device,
             context.world_size, torch.get_num_threads(), parts.train_loader.num_workers)
    log.info("precision and memory format: %s", parts.layout_reason)
    log.info("recipe: %s lr %.2g wd %.2g on %s, %s schedule, batch %d, %d epochs, patience %d, "
             "loss %s%s, "
             "augment %s, gamma %s", recipe.optimiser.name, recipe.optimiser.lr,
             recipe.optimiser.weight_decay, recipe.optimiser.weight_decay_on, recipe.schedule.name,
             recipe.batch_size, recipe.epochs,
             recipe.early_stopping_patience, recipe.loss,
             (f" + {recipe.island_weight} x island" if recipe.island_weight else "")
             + (f" + {recipe.auxiliary_weight} x auxiliary on {recipe.auxiliary_from}"
                if recipe.auxiliary_weight else "")
             + (f", distilled ({recipe.distill_weight:g}, T {recipe.distill_temperature:g})"
                if recipe.teacher else "")
             + (f", mixup {recipe.mixup_alpha:g}" if recipe.mixup_alpha else "")
             + (f", CutMix {recipe.cutmix_alpha:g}" if recipe.cutmix_alpha else "")
             + (f", EMA {recipe.ema_decay:g}" if recipe.ema_decay else ""),
             recipe.augment.describe(), recipe.gamma
             if not parts.spec.landmark_emphasis
             else f"{recipe.gamma}, landmark emphasis {parts.spec.landmark_emphasis:g}")
    if settings.ablate:
        log.info("ablated: %s", ablations.describe(settings.arch, settings.ablate))
    if progress.epoch or progress.batches_done:
        log.info("resuming after epoch %d, batch %d", progress.epoch, progress.batches_done)
