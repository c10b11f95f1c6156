"""Optimiser, learning-rate schedule and numeric precision from a recipe and a device."""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass

import torch
from torch import nn

from training.recipes import OptimiserRecipe, ScheduleRecipe

log = logging.getLogger(__name__)


def make_optimiser(recipe: OptimiserRecipe, module: nn.Module) -> torch.optim.Optimizer:
    groups = parameter_groups(recipe, module)
    if recipe.name == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov)
    optimiser = torch.optim.AdamW if recipe.name == "adamw" else torch.optim.Adam
    return optimiser(groups, lr=recipe.lr)


def parameter_groups(recipe: OptimiserRecipe, module: nn.Module) -> list[dict]:
    """The trainable parameters, split by whether ``recipe.weight_decay_on`` decays them.

    Scoping matters under Adam: coupled L2 on a parameter whose loss gradient is small
    moves it toward zero by about ``lr`` every step whatever the decay's size, which took
    DCRNet's from-scratch BatchNorm scales (and with them its features) to zero.
    """
    trainable = [parameter for parameter in module.parameters() if parameter.requires_grad]
    if recipe.weight_decay_on == "all":
        return [{"params": trainable, "weight_decay": recipe.weight_decay}]
    dense = {id(layer.weight) for layer in module.modules() if isinstance(layer, nn.Linear)}
    return [
        {"params": [p for p in trainable if id(p) in dense], "weight_decay": recipe.weight_decay},
        {"params": [p for p in trainable if id(p) not in dense], "weight_decay": 0.0},
    ]


def make_scheduler(recipe: ScheduleRecipe, optimiser: torch.optim.Optimizer, epochs: int,
                   batches_per_epoch: int = 1):
    """A scheduler stepped once per epoch (``plateau`` with the monitored metric), or once per
    batch where ``recipe.per_batch``."""
    if recipe.name == "plateau":
        mode = "max" if recipe.monitor == "val_accuracy" else "min"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimiser, mode=mode, factor=recipe.factor, patience=recipe.patience)
    if recipe.name == "cosine":
        minimum = optimiser.param_groups[0]["lr"] * recipe.final_lr_fraction
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(epochs - 1, 1),
                                                          eta_min=minimum)
    if recipe.name == "linear":
        return torch.optim.lr_scheduler.LinearLR(
            optimiser, start_factor=1.0, end_factor=recipe.final_lr_fraction,
            total_iters=max(epochs - 1, 1))
    if recipe.name == "warmup_cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimiser, WarmupCosine(
            round(recipe.warmup_epochs * batches_per_epoch), epochs * batches_per_epoch,
            recipe.final_lr_fraction))
    return torch.optim.lr_scheduler.ConstantLR(optimiser, factor=1.0, total_iters=0)


class WarmupCosine:
    """Learning-rate factor at batch ``step``: a linear rise over ``warmup`` steps, then half a
    cosine down to ``final`` at ``total`` (Goyal et al. 2017's warm-up, Loshchilov & Hutter
    2017's cosine). A class rather than a closure so the scheduler's state saves."""

    def __init__(self, warmup: int, total: int, final: float) -> None:
        self.warmup, self.total, self.final = warmup, max(total, 1), final

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(self.total - self.warmup, 1))
        return self.final + (1 - self.final) * 0.5 * (1 + math.cos(math.pi * progress))


def step_scheduler(scheduler, recipe: ScheduleRecipe, metrics: dict) -> None:
    """The end-of-epoch step (per-batch schedules step in the training loop instead)."""
    if recipe.per_batch:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(metrics[recipe.monitor])
    else:
        scheduler.step()


@dataclass(frozen=True)
class Precision:
    """Autocast dtype (None: float32) and whether gradients need loss scaling (fp16)."""

    device_type: str
    dtype: torch.dtype | None

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    @property
    def scaled(self) -> bool:
        return self.dtype == torch.float16

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


def choose_precision(device: torch.device, amp: bool) -> Precision:
    """Mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); on the
    CPU the layout is measured instead (``training.cpu_plan``), so this gives fp32 there."""
    if amp and device.type == "cuda":
        return Precision("cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    return Precision(device.type, None)


def place(module: torch.nn.Module, device: torch.device,
          memory_format: torch.memory_format = torch.contiguous_format) -> torch.nn.Module:
    """Move ``module`` to ``device`` and lay its 4-D tensors out in ``memory_format``.

    ``Module.to(memory_format=channels_last)`` refuses modules holding other-rank weights
    (DynamicConv keeps its K kernels in one 5-D tensor), so convert tensor by tensor.
    """
    module = module.to(device)
    if memory_format is not torch.contiguous_format:
        for tensor in (*module.parameters(), *module.buffers()):
            if tensor.dim() == 4:
                tensor.data = tensor.data.contiguous(memory_format=memory_format)
    return module
