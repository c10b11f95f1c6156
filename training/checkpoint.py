"""Training checkpoints: written atomically, read safely, enough to resume or export.

A checkpoint is a dict of plain values and tensors (readable with
``torch.load(weights_only=True)``, so opening one runs no pickled code):

- ``model``: arch, num_classes, in_channels, input_size (the builder's arguments), and
  ``ablate`` (sorted names) for an ablated variant, absent for the full model;
  ``spec``: the ``PreprocessSpec``'s declared fields only (not ``vars(spec)``: whatever
  the spec caches, e.g. an ``AlignmentTemplate``, would make ``weights_only`` refuse
  the file); ``labels``; ``dataset``: name, sizes;
- ``settings``: the resolved ``TrainSettings``; ``command`` as typed, ``resumed``
  commands, cumulative wall ``seconds``;
- ``state_dict`` (model weights), ``loss_state`` (island centres), ``optimiser``,
  ``scheduler``, ``scaler``, ``rng`` (torch generator states);
- progress: ``epoch`` (epochs completed), ``batches_done`` and ``partial`` (sums of a
  half-done epoch), ``best``, ``history`` (one dict per epoch), ``stopped``.

``last.pt`` is written every epoch (and mid-epoch on interruption); ``best.pt`` holds
the same minus the optimiser state, at the epoch of the best validation accuracy.
"""

from __future__ import annotations

import logging
import os
from dataclasses import fields
from pathlib import Path

import torch

from app.preprocess import PreprocessSpec
from training.models import build_model
from training.models.base import EmotionModel

log = logging.getLogger(__name__)

FORMAT = 1
LAST, BEST = "last.pt", "best.pt"
OPTIMISATION_KEYS = ("optimiser", "scheduler", "scaler")


class CheckpointError(ValueError):
    """A file is not a checkpoint of this training package."""


def save(checkpoint: dict, path: Path) -> Path:
    """Write via a temporary file and an atomic rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, temporary)
    os.replace(temporary, path)
    return path


def load(path: str | Path) -> dict:
    """A checkpoint file, or ``best.pt`` / ``last.pt`` inside a run folder."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / BEST, path / LAST]
        path = next((candidate for candidate in candidates if candidate.is_file()), candidates[0])
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, zip and runtime errors alike
        raise CheckpointError(f"{path}: not a readable checkpoint ({error})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a checkpoint of emotion-train (format {FORMAT})")
    checkpoint["path"] = str(path)
    return checkpoint


def without_optimisation(checkpoint: dict) -> dict:
    return {key: value for key, value in checkpoint.items() if key not in OPTIMISATION_KEYS}


def spec_fields(spec: PreprocessSpec) -> dict:
    """The spec as plain values: its declared fields only, not what it caches."""
    return {field.name: getattr(spec, field.name) for field in fields(PreprocessSpec)}


def spec_of(checkpoint: dict) -> PreprocessSpec:
    """The stored spec; keys that are not ``PreprocessSpec`` fields are ignored, so
    checkpoints written by older or newer versions still resume and export."""
    saved, names = checkpoint["spec"], [field.name for field in fields(PreprocessSpec)]
    missing = [name for name in names if name not in saved]
    if missing:
        raise CheckpointError(f"{checkpoint.get('path', 'checkpoint')}: its spec lacks {missing}")
    ignored = sorted(set(saved) - set(names))
    if ignored:
        log.debug("ignoring spec entries that PreprocessSpec does not declare: %s", ignored)
    spec = {name: saved[name] for name in names}
    for name in ("input_size", "mean", "std"):
        spec[name] = tuple(spec[name])
    return PreprocessSpec(**spec)


def model_of(checkpoint: dict) -> EmotionModel:
    """The trained model, in eval mode on the CPU."""
    arguments = checkpoint["model"]
    model = build_model(arguments["arch"], num_classes=arguments["num_classes"],
                        in_channels=arguments["in_channels"], input_size=arguments["input_size"],
                        ablate=arguments.get("ablate", ()))
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()
