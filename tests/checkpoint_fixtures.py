"""Checkpoints for tests of what reads one: complete, of an untrained model, written in seconds.

``OLD_LAYOUT`` is what the first checkpoints held, before the options that added keys
(``training.checkpoint.ADDED_SINCE``); ``old_layout`` cuts a checkpoint written now back to it.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch

from app.face.alignment import DEFAULT_TEMPLATE_ID
from app.face.preprocess import PreprocessSpec
from training.checkpoint import Checkpoint, DatasetInfo, ModelArguments, Optimisation, Progress
from training.data.labels import FER2013_LABELS
from training.recipes import RECIPES
from training.settings import DataSettings, RunSettings, TrainSettings

OLD_LAYOUT = ("format", "model", "spec", "labels", "dataset", "settings", "command", "resumed",
              "parameters", "precision", "device", "world_size", "torch_version", "state_dict",
              "loss_state", "optimiser", "scheduler", "scaler", "rng", "progress", "stopped", "run_totals")
"""The keys the first checkpoints had (no ``ema``): ``best.pt`` lacks the optimisation state,
and only a finished run's ``best.pt`` has ``run_totals``."""
OLD_MODEL = ("arch", "num_classes", "in_channels", "input_size")
LATER_SETTINGS = ("init", "ablate")
LATER_RECIPE = ("auxiliary_from", "auxiliary_weight", "auxiliary_feature_extractor", "mixup_alpha",
                "cutmix_alpha", "ema_decay", "teacher", "distill_weight", "distill_temperature", "name")
LATER_PARTS = {"optimiser": ("nesterov", "weight_decay_on"), "schedule": ("warmup_epochs",),
               "augment": ("erasing",)}


def settings_for(out: str, epochs: int = 150, arch: str = "mini_xception") -> TrainSettings:
    recipe = replace(RECIPES[arch], epochs=epochs)
    return TrainSettings(arch, recipe, DataSettings("auto", "data/fer2013"), RunSettings(out, threads=1), 48)


def make_checkpoint(settings: TrainSettings, progress: Progress | None = None, learning_rate: float = 1e-3,
                    **changes) -> Checkpoint:
    """A ``last.pt`` of an untrained model (pass ``optimisation=None`` for a ``best.pt``)."""
    spec = PreprocessSpec((48, 48), 1, "gray", (0.5,), (0.25,), False, DEFAULT_TEMPLATE_ID)
    checkpoint = Checkpoint(
        model=ModelArguments(settings.arch, len(FER2013_LABELS), 1, settings.input_size, settings.ablate),
        spec=spec, labels=FER2013_LABELS,
        dataset=DatasetInfo("FER2013", "image-tree", settings.data.root, "train", "val", 70, 70, (10.0,) * 7),
        settings=settings, command=f"emotion-train train --arch {settings.arch}", resumed=(),
        parameters=0, precision="fp32", device="cpu", world_size=1, torch_version=str(torch.__version__),
        state_dict={}, loss_state={}, rng={}, progress=progress or Progress(), stopped=None,
        optimisation=Optimisation({"param_groups": [{"lr": learning_rate}]}, {}, {}))
    return replace(checkpoint, **changes)


def old_layout(written: dict) -> dict:
    """A checkpoint dict as the first versions wrote it: ``written`` without the keys added since."""
    old = {key: copy.deepcopy(written[key]) for key in OLD_LAYOUT if key in written}
    old["model"] = {key: written["model"][key] for key in OLD_MODEL}
    for key in LATER_SETTINGS:
        del old["settings"][key]
    recipe = old["settings"]["recipe"]
    for key in LATER_RECIPE:
        del recipe[key]
    for part, keys in LATER_PARTS.items():
        for key in keys:
            del recipe[part][key]
    return old
