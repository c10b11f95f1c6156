"""How each architecture's paper trains it: the defaults ``emotion-train train`` starts from.

Every value a paper states is used as stated; where a paper is silent the choice is
a practitioner's default, and the recipe's ``notes`` say which and why. Any value can
be overridden on the command line. Inputs are one gray channel for every recipe:
FER2013 is grayscale, and the three-channel inputs of the papers that fine-tune
ImageNet backbones buy nothing when, as here, every backbone trains from scratch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from training.augment import AugmentConfig

log = logging.getLogger(__name__)

OPTIMISERS = ("adam", "adamw", "sgd")
SCHEDULES = ("plateau", "cosine", "linear", "constant", "warmup_cosine")
MONITORS = ("val_accuracy", "val_loss")
DECAY_SCOPES = ("all", "dense")
RECIPE_KINDS = ("paper", "fast")
DEFAULT_DISTILL_WEIGHT = 0.5


@dataclass(frozen=True)
class OptimiserRecipe:
    name: str
    lr: float
    weight_decay: float = 0.0
    momentum: float = 0.9
    """SGD only."""
    nesterov: bool = False
    """SGD only: Nesterov momentum."""
    weight_decay_on: str = "all"
    """``all``: every parameter; ``dense``: the weights of the fully connected layers alone,
    as Keras' ``kernel_regularizer`` on ``Dense`` layers puts L2 there and nowhere else."""

    def __post_init__(self) -> None:
        if self.name not in OPTIMISERS:
            raise ValueError(f"unknown optimiser {self.name!r}; valid: {list(OPTIMISERS)}")
        if self.weight_decay_on not in DECAY_SCOPES:
            raise ValueError(f"unknown weight-decay scope {self.weight_decay_on!r}; "
                             f"valid: {list(DECAY_SCOPES)}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"need lr > 0 and weight decay >= 0, got {self.lr}, {self.weight_decay}")
        if self.nesterov and (self.name != "sgd" or self.momentum <= 0):
            raise ValueError("Nesterov momentum needs --optimiser sgd and a momentum above 0")


@dataclass(frozen=True)
class ScheduleRecipe:
    name: str
    """``plateau``: ReduceLROnPlateau on ``monitor``; ``cosine`` / ``linear``: per epoch down
    to ``final_lr_fraction`` of the start; ``constant``; ``warmup_cosine``: per batch, a
    linear rise over ``warmup_epochs`` then a cosine down to ``final_lr_fraction``."""
    monitor: str = "val_accuracy"
    factor: float = 0.5
    patience: int = 3
    final_lr_fraction: float = 0.01
    warmup_epochs: float = 0.0
    """``warmup_cosine`` only."""

    @property
    def per_batch(self) -> bool:
        return self.name == "warmup_cosine"

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.name!r}; valid: {list(SCHEDULES)}")
        if self.monitor not in MONITORS:
            raise ValueError(f"unknown monitor {self.monitor!r}; valid: {list(MONITORS)}")
        if self.warmup_epochs < 0 or (self.warmup_epochs and self.name != "warmup_cosine"):
            raise ValueError("warm-up epochs must be >= 0, and go with --schedule warmup_cosine")


@dataclass(frozen=True)
class Recipe:
    optimiser: OptimiserRecipe
    schedule: ScheduleRecipe
    batch_size: int
    epochs: int
    early_stopping_patience: int
    """Stop after this many epochs without a better validation accuracy."""
    augment: AugmentConfig
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    island_weight: float = 0.0
    """Weight of the island loss joined to cross-entropy (0: none)."""
    auxiliary_from: str | None = None
    """Submodule whose output an auxiliary linear classifier reads during training
    (``training/losses/auxiliary.py``); None: no auxiliary classifier."""
    auxiliary_weight: float = 0.0
    """Weight of the auxiliary classifier's cross-entropy (0: none)."""
    auxiliary_feature_extractor: bool = False
    """The rest of the model reads ``auxiliary_from`` with the gradient stopped: that
    submodule learns from the auxiliary classifier alone."""
    mixup_alpha: float = 0.0
    """Mixup (Zhang et al. 2018): blend pairs of images and their targets by a Beta(a, a)
    weight (0: off)."""
    cutmix_alpha: float = 0.0
    """CutMix (Yun et al. 2019): paste a box of another image, targets by its area (0: off);
    with mixup too, each batch uses one of them at random."""
    ema_decay: float = 0.0
    """Validate and export an exponential moving average of the weights (0: off)."""
    teacher: str | None = None
    """Soft-label file of ``emotion-train soft-labels`` to distil from (None: no teacher)."""
    distill_weight: float = 0.0
    """Share of the loss given to matching the teacher (Hinton et al. 2015)."""
    distill_temperature: float = 1.0
    gamma: bool = False
    """Adaptive gamma on every crop (DCRNet's preprocessing)."""
    landmark_emphasis: float = 0.0
    """Fade the face off its eyes, brows, nose and mouth toward the crop's mean by this much
    (DCRNet Sec. 2.1.2, ``app.face.emphasis``; 0: off)."""
    input_size: int | None = None
    """Square input side; None: the architecture's registered default."""
    channels: int = 1
    color_space: str = "gray"
    name: str = "paper"
    """``paper`` (as its paper trains it) or ``fast`` (``fast_recipe``), for the model card."""
    source: str = ""
    """Where the values come from."""
    notes: tuple[str, ...] = field(default=())
    """Choices made where the paper is silent, and why."""

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.epochs < 1 or self.early_stopping_patience < 1:
            raise ValueError("batch size, epochs and patience must be at least 1, got "
                             f"{self.batch_size}, {self.epochs}, {self.early_stopping_patience}")
        if self.channels not in (1, 3) or self.color_space not in ("gray", "rgb"):
            raise ValueError(f"channels must be 1 or 3 and colour space gray or rgb, got "
                             f"{self.channels}, {self.color_space!r}")
        if self.color_space == "rgb" and self.channels != 3:
            raise ValueError("an rgb input needs --channels 3")
        if self.island_weight < 0 or not 0 <= self.label_smoothing < 1:
            raise ValueError("island weight must be >= 0 and label smoothing in [0, 1)")
        if self.mixup_alpha < 0 or self.cutmix_alpha < 0 or not 0 <= self.ema_decay < 1:
            raise ValueError("mixup and CutMix alphas must be >= 0 and the EMA decay in [0, 1), got "
                             f"{self.mixup_alpha}, {self.cutmix_alpha}, {self.ema_decay}")
        if not 0 <= self.distill_weight <= 1 or self.distill_temperature <= 0 or (
                (self.distill_weight > 0) != (self.teacher is not None)):
            raise ValueError("distillation needs a teacher, a weight in (0, 1] and a temperature "
                             f"above 0; got {self.teacher!r}, {self.distill_weight}, "
                             f"{self.distill_temperature}")
        if self.auxiliary_weight < 0 or (self.auxiliary_weight > 0) != (self.auxiliary_from is not None):
            raise ValueError("an auxiliary weight must be >= 0, and > 0 exactly when the recipe "
                             f"names the submodule it reads; got {self.auxiliary_weight}, "
                             f"{self.auxiliary_from!r}")


KERAS_GEOMETRY = AugmentConfig(horizontal_flip=True, rotation_degrees=10, shift=0.1, zoom=0.1)

RECIPES: dict[str, Recipe] = {
    "mini_xception": Recipe(
        optimiser=OptimiserRecipe("adam", 1e-3),
        schedule=ScheduleRecipe("plateau", monitor="val_loss", factor=0.1, patience=12),
        batch_size=32, epochs=150, early_stopping_patience=50,
        augment=KERAS_GEOMETRY,
        source="Wang, Tables 2-3: Adam, batch 32, 150 epochs, patience 50; rotation 10, "
               "shifts 0.1, zoom 0.1, horizontal flip",
        notes=("learning rate 1e-3 is Keras's Adam default (the paper gives none)",
               "ReduceLROnPlateau on val loss, factor 0.1, patience 50/4, as in Arriaga et "
               "al.'s training script that the Keras model comes from"),
    ),
    "mobilenetv3_dilated_simam": Recipe(
        optimiser=OptimiserRecipe("sgd", 1e-4, momentum=0.9),
        schedule=ScheduleRecipe("cosine"),
        batch_size=16, epochs=100, early_stopping_patience=20,
        augment=KERAS_GEOMETRY,
        source="Sec. 3.2-3.3: SGD, initial learning rate 1e-4, batch 16; 100-epoch runs (Sec. 3.3.1)",
        notes=("momentum 0.9, cosine decay and early-stopping patience 20: the paper names "
               "none of them",
               "the paper names no augmentation; flip, rotation 10, shift 0.1 and zoom 0.1 as "
               "for Mini-Xception",
               "lr 1e-4 with SGD is the paper's value for its setting; from scratch on FER2013 "
               "a larger rate (e.g. --lr 0.01) converges far sooner"),
    ),
    "yolov8_dyconv_gam": Recipe(
        optimiser=OptimiserRecipe("sgd", 0.01, weight_decay=5e-4, momentum=0.937),
        schedule=ScheduleRecipe("linear", final_lr_fraction=0.01),
        batch_size=16, epochs=50, early_stopping_patience=10,
        augment=AugmentConfig(horizontal_flip=True, crop_area=(0.64, 1.0),
                              brightness=0.3, contrast=0.3),
        source="Sec. IV-B and IV-C: lr0 0.01, 50 epochs, early stopping, batch 16, 64x64 inputs; "
               "random cropping and colour jitter",
        notes=("momentum 0.937, weight decay 5e-4, linear decay to 0.01 x lr0 and horizontal "
               "flips are the YOLOv8 framework's defaults, which the paper trains with",
               "early-stopping patience 10 for its 'several consecutive epochs'",
               "random crop keeps 64-100 % of the area; brightness and contrast +/-30 %"),
    ),
    "dcrnet": Recipe(
        optimiser=OptimiserRecipe("adam", 1e-4, weight_decay=1e-3, weight_decay_on="dense"),
        auxiliary_from="backbone", auxiliary_weight=1.0, auxiliary_feature_extractor=True,
        schedule=ScheduleRecipe("plateau", monitor="val_accuracy", factor=0.5, patience=3),
        batch_size=32, epochs=50, early_stopping_patience=10,
        augment=AugmentConfig(horizontal_flip=True, rotation_degrees=10, shift=0.1,
                              shear_degrees=10),
        loss="weighted_cross_entropy", gamma=True, landmark_emphasis=0.5,
        source="Sec. 3 and Table 2 (AffectNet-7 column): Adam 1e-4, L2 1e-3, batch 32, 50 epochs, "
               "early stopping on val accuracy (patience 10), ReduceLROnPlateau on val accuracy "
               "(patience 3, factor 0.5), class-weighted cross-entropy, adaptive gamma, "
               "landmark emphasis (Sec. 2.1.2); rotation, shift, shear, flip",
        notes=("L2 1e-3 on the dense layers' weights alone, where the paper puts it; Adam's "
               "coupled decay on every parameter took the from-scratch BatchNorm scales to zero",
               "an auxiliary classifier trains the DenseNet121 in place of the paper's ImageNet "
               "weights: from scratch and end to end, the network stayed at chance for a whole "
               "epoch",
               "augmentation ranges are not given: rotation 10, shift 0.1, shear 10 degrees"),
    ),
    "vgg16_gcca_pdra": Recipe(
        optimiser=OptimiserRecipe("sgd", 0.01, weight_decay=5e-4, momentum=0.9),
        schedule=ScheduleRecipe("plateau", monitor="val_loss", factor=0.5, patience=3),
        batch_size=32, epochs=60, early_stopping_patience=12,
        augment=AugmentConfig(horizontal_flip=True, rotation_degrees=10, rotation_step=5),
        island_weight=0.005,
        source="Sec. 3.1/3.3: flips and rotations of +/-10 degrees in 5-degree steps; learning "
               "rate halved when the loss stops falling for 3 epochs; softmax + 0.005 x island "
               "loss (lambda1 7)",
        notes=("the paper names no optimiser, rate, batch or epoch count: SGD momentum 0.9, "
               "lr 0.01, weight decay 5e-4 (VGG's own recipe), batch 32, 60 epochs, patience 12",
               "the augmented copies are drawn online each epoch instead of stored 15-fold"),
    ),
}

GENERIC_RECIPE = Recipe(
    optimiser=OptimiserRecipe("adam", 1e-3),
    schedule=ScheduleRecipe("plateau", monitor="val_accuracy", factor=0.5, patience=5),
    batch_size=64, epochs=60, early_stopping_patience=15,
    augment=KERAS_GEOMETRY,
    source="generic default for an architecture without a paper recipe",
)


@dataclass(frozen=True)
class FastSettings:
    """What differs per architecture in the fast recipe."""

    lr: float
    epochs: int
    batch_size: int = 128
    """128: several times the paper batches' images per second on a CPU
    (``benchmarks/train_throughput.py``), and the usual batch for SGD at lr 0.05-0.1."""


# Learning rates: mini_xception's chosen by benchmarks/recipe_experiments.py (its lr rows in
# docs/results/recipe-experiments.md); the others' are Goyal et al.'s linear rule (0.1 per
# 256 images) until measured for them.
FAST = {
    "mini_xception": FastSettings(lr=0.1, epochs=30),
    "mobilenetv3_dilated_simam": FastSettings(lr=0.05, epochs=40),
    "yolov8_dyconv_gam": FastSettings(lr=0.05, epochs=30),
    "vgg16_gcca_pdra": FastSettings(lr=0.02, epochs=20),
    "dcrnet": FastSettings(lr=0.05, epochs=20),
}
FAST_AUGMENT = AugmentConfig(horizontal_flip=True, rotation_degrees=10, shift=0.1, zoom=0.1,
                             erasing=0.5)


def fast_recipe(paper: Recipe, architecture: str) -> Recipe:
    """The paper recipe with the optimisation this project measured to converge in few epochs
    (``benchmarks/recipe_experiments.py``, ``docs/results/recipe-experiments.md``): SGD with
    Nesterov momentum, a per-batch warm-up and cosine, label smoothing, random erasing.
    What makes the architecture (its loss terms, gamma, an auxiliary classifier,
    DCRNet's landmark emphasis) stays the paper's, so a paper's ablation
    table keeps its meaning under either recipe."""
    settings = FAST.get(architecture, FastSettings(lr=0.05, epochs=30))
    return replace(
        paper,
        optimiser=OptimiserRecipe("sgd", settings.lr, weight_decay=5e-4, momentum=0.9, nesterov=True),
        schedule=ScheduleRecipe("warmup_cosine", warmup_epochs=1.0, final_lr_fraction=0.0),
        batch_size=settings.batch_size, epochs=settings.epochs,
        early_stopping_patience=settings.epochs, augment=FAST_AUGMENT, label_smoothing=0.1,
        name="fast", source="fast recipe on " + paper.source,
        notes=(*paper.notes, "fast recipe (--recipe fast): SGD Nesterov, per-batch warm-up and "
               "cosine, label smoothing 0.1, random erasing 0.5, batch 128, chosen by "
               "benchmarks/recipe_experiments.py on FER2013 val"),
    )


def recipe_for(architecture: str, kind: str = "paper") -> Recipe:
    """The ``paper`` recipe of ``architecture`` (a generic one, logged, if it has none), or the
    ``fast`` one that this project measured to reach more accuracy per CPU-hour."""
    if kind not in RECIPE_KINDS:
        raise ValueError(f"unknown recipe {kind!r}; valid: {list(RECIPE_KINDS)}")
    if architecture not in RECIPES:
        log.warning("no paper recipe for %s; using the generic recipe", architecture)
    paper = RECIPES.get(architecture, GENERIC_RECIPE)
    return paper if kind == "paper" else fast_recipe(paper, architecture)
