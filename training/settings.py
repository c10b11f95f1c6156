"""Everything that defines a training run, resolved once and stored in its checkpoints.

``TrainSettings`` is the recipe after command-line overrides, plus the data and the
run's own options. It round-trips through plain dicts, so a checkpoint carries it and
``--resume`` continues with exactly the settings the run started with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from training.augment import AugmentConfig
from training.data import DataOptions
from training.recipes import OptimiserRecipe, Recipe, ScheduleRecipe


@dataclass(frozen=True)
class DataSettings:
    format: str
    root: str
    train_split: str = "train"
    val_split: str = "val"
    options: DataOptions = field(default_factory=DataOptions)


@dataclass(frozen=True)
class RunSettings:
    """How this machine runs the training; may change between a run and its resumption."""

    out: str
    device: str = "auto"
    amp: bool = True
    """Allow bf16 autocast on a CPU (taken where measured faster, ``training.cpu_plan``) and
    mixed precision on CUDA; False: float32."""
    channels_last: bool = True
    """Allow channels-last memory (taken on a CPU where measured faster)."""
    workers: int | None = None
    """DataLoader worker processes; None: chosen from the CPU count."""
    threads: int | None = None
    """CPU threads for PyTorch; None: as many as there are idle cores, up to cores /
    processes (``training.cpu_plan.ThreadGovernor``). ``--resume`` keeps the run's choice
    unless ``--threads`` is given."""
    eval_batch_size: int = 256
    max_minutes: float | None = None
    """Pause (save and exit 75) after this much wall time, to resume later."""
    save_every_minutes: float = 10.0
    """Also save mid-epoch this often, so a killed run loses little."""
    progress: bool | None = None
    """Progress bar; None: only on a terminal."""


@dataclass(frozen=True)
class TrainSettings:
    arch: str
    recipe: Recipe
    data: DataSettings
    run: RunSettings
    input_size: int
    seed: int = 0
    init: dict | None = None
    """``--init``: the exported model the weights started from (``warm_start.provenance``)."""
    ablate: tuple[str, ...] = ()
    """``--ablate``: the modules switched off (``ArchitectureSpec.ablations``), sorted;
    empty for the paper's full model."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainSettings:
        """Settings as ``to_dict`` gives them; a checkpoint's older layouts are completed
        first (``training.checkpoint.ADDED_SINCE``)."""
        recipe = dict(data["recipe"])
        augment = dict(recipe["augment"])
        augment["crop_area"] = tuple(augment["crop_area"])
        recipe.update(
            optimiser=OptimiserRecipe(**recipe["optimiser"]),
            schedule=ScheduleRecipe(**recipe["schedule"]),
            augment=AugmentConfig(**augment),
            notes=tuple(recipe["notes"]),
        )
        data_settings = dict(data["data"])
        options = dict(data_settings["options"])
        options["exclude_classes"] = tuple(options["exclude_classes"])
        options["classes"] = tuple(options.get("classes", ()))
        data_settings["options"] = DataOptions(**options)
        return cls(
            arch=data["arch"],
            recipe=Recipe(**recipe),
            data=DataSettings(**data_settings),
            run=RunSettings(**data["run"]),
            input_size=int(data["input_size"]),
            seed=int(data["seed"]),
            init=data["init"],
            ablate=tuple(data["ablate"]),
        )

    def with_run(self, **changes) -> TrainSettings:
        """A copy with run options changed (the ones that may differ on resumption)."""
        unknown = set(changes) - {f.name for f in fields(RunSettings)}
        if unknown:
            raise ValueError(f"not run options: {sorted(unknown)}")
        return replace(self, run=replace(self.run, **changes))
