"""Training checkpoints: one typed record, written atomically, read safely, enough to resume or export.

``Checkpoint`` is what ``best.pt`` and ``last.pt`` hold. On disk it is a dict of plain
values and tensors (``to_dict``), so ``torch.load(weights_only=True)`` reads it and
opening one runs no pickled code; the spec is stored as its declared fields only (what
it caches, e.g. an ``AlignmentTemplate``, would make ``weights_only`` refuse the file).
``from_dict`` is the one place that knows which keys older checkpoints lack and what
they default to (``ADDED_SINCE``), so every reader gets typed fields, never a missing key.

``last.pt`` is written every epoch (and mid-epoch on interruption); ``best.pt`` holds
the same minus the optimisation state, at the epoch of the best validation accuracy,
and a finished run stamps its totals into it.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

import torch

from app.face.preprocess import PreprocessSpec
from app.system.output_files import Staged
from training.models import build_model
from training.models.base import EmotionModel
from training.settings import TrainSettings

log = logging.getLogger(__name__)

FORMAT = 1
LAST, BEST = "last.pt", "best.pt"

# Keys written since the first checkpoints, each with the value that reproduces how a run
# without it trained (the option's default). Any other missing key makes a file unreadable.
ADDED_SINCE = {
    "ema": None,  # --ema
    "model": {"ablate": []},  # --ablate
    "settings": {
        "init": None,  # --init
        "ablate": [],  # --ablate
        "recipe": {
            "auxiliary_from": None, "auxiliary_weight": 0.0, "auxiliary_feature_extractor": False,
            "mixup_alpha": 0.0, "cutmix_alpha": 0.0, "ema_decay": 0.0,
            "landmark_emphasis": 0.0,  # --landmark-emphasis
            "teacher": None, "distill_weight": 0.0, "distill_temperature": 1.0,
            "name": "paper",  # --recipe fast
            "optimiser": {"nesterov": False, "weight_decay_on": "all"},
            "schedule": {"warmup_epochs": 0.0},
            "augment": {"erasing": 0.0},
        },
        "data": {"options": {"classes": []}},  # --classes
    },
}

# Keys older versions wrote that no longer mean anything, dropped on reading: the recipe's
# CPU precision and layout switches, now measured on the machine (``training.cpu_plan``).
RETIRED = {"settings": {"recipe": ("cpu_bf16", "cpu_channels_last")}}


class CheckpointError(ValueError):
    """A file is not a checkpoint of this training package."""


@dataclass(frozen=True)
class ModelArguments:
    """The builder's arguments: what rebuilds the network before its weights load."""

    arch: str
    num_classes: int
    in_channels: int
    input_size: int
    ablate: tuple[str, ...] = ()
    """The modules an ablated variant switches off, sorted; empty for the full model."""

    def build(self) -> EmotionModel:
        return build_model(self.arch, num_classes=self.num_classes, in_channels=self.in_channels,
                           input_size=self.input_size, ablate=self.ablate)

    def to_dict(self) -> dict:
        saved = {"arch": self.arch, "num_classes": self.num_classes, "in_channels": self.in_channels,
                 "input_size": self.input_size}
        return {**saved, "ablate": list(self.ablate)} if self.ablate else saved


@dataclass(frozen=True)
class DatasetInfo:
    """What the run trained and selected on: for the card, and to measure an export."""

    name: str
    format: str
    root: str
    train_split: str
    val_split: str
    train_images: int
    val_images: int
    train_class_counts: tuple[float, ...]

    def to_dict(self) -> dict:
        return {**asdict(self), "train_class_counts": list(self.train_class_counts)}


@dataclass
class Progress:
    """Where the run stands. The trainer updates its own as it goes; a checkpoint holds a copy."""

    epoch: int = 0
    """Epochs completed."""
    batches_done: int = 0
    """Batches of the current epoch already trained (non-zero only mid-epoch)."""
    loss_sum: float = 0.0
    samples: int = 0
    best_epoch: int = 0
    best_accuracy: float = -1.0
    best_macro_f1: float = 0.0
    seconds: float = 0.0
    history: list = field(default_factory=list)
    """One dict per epoch: train loss, val loss, accuracy, macro-F1, learning rate, seconds."""


@dataclass(frozen=True)
class Optimisation:
    """What only continuing a run needs; ``last.pt`` holds it, ``best.pt`` does not."""

    optimiser: dict
    scheduler: dict
    scaler: dict
    ema: dict | None = None
    """The weights' moving average (``--ema``); None without one."""

    @property
    def learning_rate(self) -> float:
        return self.optimiser["param_groups"][0]["lr"]

    def to_dict(self) -> dict:  # not ``asdict``: it would deep-copy every tensor
        return {"optimiser": self.optimiser, "scheduler": self.scheduler, "scaler": self.scaler,
                "ema": self.ema}


@dataclass(frozen=True)
class RunTotals:
    """A finished run's totals, stamped into ``best.pt``, whose own progress stops at the best epoch."""

    epochs: int
    seconds: float
    history: list
    stopped: str


@dataclass(frozen=True)
class Checkpoint:
    """What a run saves: enough to continue it (``last.pt``) or to export it (``best.pt``)."""

    model: ModelArguments
    spec: PreprocessSpec
    labels: tuple[str, ...]
    dataset: DatasetInfo
    settings: TrainSettings
    command: str
    """The command that started the run, as typed."""
    resumed: tuple[str, ...]
    """The command of each later session."""
    parameters: int
    precision: str
    device: str
    world_size: int
    torch_version: str
    state_dict: dict
    """The model's weights (the moving average's in a ``best.pt`` of a run with ``--ema``)."""
    loss_state: dict
    """The loss's own state (island centres)."""
    rng: dict
    """Torch generator states, for a mid-epoch resume."""
    progress: Progress
    stopped: str | None
    """How the session that wrote it ended (None: written at an epoch's end)."""
    optimisation: Optimisation | None = None
    run_totals: RunTotals | None = None
    path: str | None = field(default=None, compare=False)
    """The file it was read from; not written."""

    def trained_model(self) -> EmotionModel:
        """The trained model, in eval mode on the CPU."""
        model = self.model.build()
        model.load_state_dict(self.state_dict)
        return model.eval()

    def for_best(self) -> Checkpoint:
        """What ``best.pt`` holds: no optimisation state, and the moving average's weights where
        the run keeps one (they are the ones validated and exported)."""
        average = self.optimisation.ema if self.optimisation is not None else None
        return replace(self, optimisation=None,
                       state_dict=average["weights"] if average is not None else self.state_dict)

    def to_dict(self) -> dict:
        """The dict ``torch.save`` writes, in the layout every version of this package reads."""
        saved = {
            "format": FORMAT, "model": self.model.to_dict(), "spec": asdict(self.spec),
            "labels": list(self.labels), "dataset": self.dataset.to_dict(),
            "settings": self.settings.to_dict(), "command": self.command, "resumed": list(self.resumed),
            "parameters": self.parameters, "precision": self.precision, "device": self.device,
            "world_size": self.world_size, "torch_version": self.torch_version,
            "state_dict": self.state_dict, "loss_state": self.loss_state,
        }
        if self.optimisation is not None:
            saved.update(self.optimisation.to_dict())
        saved.update(rng=self.rng, progress=asdict(self.progress), stopped=self.stopped)
        if self.run_totals is not None:
            saved["run_totals"] = asdict(self.run_totals)
        return saved

    @classmethod
    def from_dict(cls, data: dict, path: str | None = None) -> Checkpoint:
        """A checkpoint from what ``torch.load`` read; keys older versions did not write get
        their defaults (``ADDED_SINCE``)."""
        where = path or "checkpoint"
        saved = without_retired(with_defaults(data, ADDED_SINCE), RETIRED)
        try:
            optimisation = (Optimisation(saved["optimiser"], saved["scheduler"], saved["scaler"],
                                         saved["ema"]) if "optimiser" in saved else None)
            totals = saved.get("run_totals")
            return cls(
                model=ModelArguments(**{**saved["model"], "ablate": tuple(saved["model"]["ablate"])}),
                spec=spec_from(saved["spec"], where), labels=tuple(saved["labels"]),
                dataset=DatasetInfo(**{**saved["dataset"],
                                       "train_class_counts": tuple(saved["dataset"]["train_class_counts"])}),
                settings=TrainSettings.from_dict(saved["settings"]), command=saved["command"],
                resumed=tuple(saved["resumed"]), parameters=saved["parameters"],
                precision=saved["precision"], device=saved["device"], world_size=saved["world_size"],
                torch_version=saved["torch_version"], state_dict=saved["state_dict"],
                loss_state=saved["loss_state"], rng=saved["rng"],
                progress=Progress(**{**saved["progress"], "history": list(saved["progress"]["history"])}),
                stopped=saved["stopped"], optimisation=optimisation,
                run_totals=RunTotals(**totals) if totals is not None else None, path=path)
        except (KeyError, TypeError) as error:
            raise CheckpointError(f"{where}: not a complete checkpoint of emotion-train "
                                  f"(missing or unexpected entries: {error})") from None


def with_defaults(saved: dict, defaults: dict) -> dict:
    """``saved`` with the keys of ``defaults`` it lacks, at every depth; a copy, ``saved`` is
    left as read. A missing section stays missing, to be reported as such."""
    merged = dict(saved)
    for key, default in defaults.items():
        if isinstance(default, dict):
            if isinstance(merged.get(key), dict):
                merged[key] = with_defaults(merged[key], default)
        elif key not in merged:
            merged[key] = copy.copy(default)
    return merged


def without_retired(saved: dict, retired: dict) -> dict:
    """``saved`` less the ``retired`` keys, at every depth; a copy where anything changes."""
    merged = dict(saved)
    for key, inner in retired.items():
        if isinstance(inner, dict):
            if isinstance(merged.get(key), dict):
                merged[key] = without_retired(merged[key], inner)
        elif isinstance(merged.get(key), dict):
            merged[key] = {name: value for name, value in merged[key].items() if name not in inner}
    return merged


def save(checkpoint: Checkpoint, path: Path) -> Path:
    """Staged and renamed into place (``app.system.output_files``): a crash never leaves
    half a file, and nothing is written through a link."""
    with Staged(path) as stage:
        torch.save(checkpoint.to_dict(), stage.path)
        return stage.commit()


def load(path: str | Path) -> Checkpoint:
    """A checkpoint file, or ``best.pt`` / ``last.pt`` inside a run folder."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / BEST, path / LAST]
        path = next((candidate for candidate in candidates if candidate.is_file()), candidates[0])
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, zip and runtime errors alike
        raise CheckpointError(f"{path}: not a readable checkpoint ({error})") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a checkpoint of emotion-train (format {FORMAT})")
    return Checkpoint.from_dict(saved, str(path))


def spec_from(saved: dict, where: str = "checkpoint") -> PreprocessSpec:
    """The stored spec; keys that are not ``PreprocessSpec`` fields are ignored, and fields
    added since (those with a default, such as ``landmark_emphasis``) take it, so
    checkpoints written by older or newer versions still resume and export."""
    names = [field.name for field in fields(PreprocessSpec)]
    missing = [field.name for field in fields(PreprocessSpec)
               if field.name not in saved and field.default is MISSING]
    if missing:
        raise CheckpointError(f"{where}: its spec lacks {missing}")
    ignored = sorted(set(saved) - set(names))
    if ignored:
        log.debug("ignoring spec entries that PreprocessSpec does not declare: %s", ignored)
    return PreprocessSpec.from_values(saved)
