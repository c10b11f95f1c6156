"""How each architecture's paper trains it: the defaults ``emotion-train train`` starts from.

Every value a paper states is used as stated; where a paper is silent the choice is
a practitioner's default, and the recipe's ``notes`` say which and why. Any value can
be overridden on the command line. Inputs are one gray channel for every recipe:
FER2013 is grayscale, and the three-channel inputs of the papers that fine-tune
ImageNet backbones buy nothing when, as here, every backbone trains from scratch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from training.augment import AugmentConfig

log = logging.getLogger(__name__)

OPTIMISERS = ("adam", "adamw", "sgd")
SCHEDULES = ("plateau", "cosine", "linear", "constant")
MONITORS = ("val_accuracy", "val_loss")
DECAY_SCOPES = ("all", "dense")


@dataclass(frozen=True)
class OptimiserRecipe:
    name: str
    lr: float
    weight_decay: float = 0.0
    momentum: float = 0.9
    """SGD only."""
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


@dataclass(frozen=True)
class ScheduleRecipe:
    name: str
    """``plateau``: ReduceLROnPlateau on ``monitor``; ``cosine`` / ``linear``: per epoch down
    to ``final_lr_fraction`` of the start; ``constant``."""
    monitor: str = "val_accuracy"
    factor: float = 0.5
    patience: int = 3
    final_lr_fraction: float = 0.01

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.name!r}; valid: {list(SCHEDULES)}")
        if self.monitor not in MONITORS:
            raise ValueError(f"unknown monitor {self.monitor!r}; valid: {list(MONITORS)}")


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
    gamma: bool = False
    """Adaptive gamma on every crop (DCRNet's preprocessing)."""
    input_size: int | None = None
    """Square input side; None: the architecture's registered default."""
    channels: int = 1
    color_space: str = "gray"
    cpu_bf16: bool = True
    cpu_channels_last: bool = True
    """bf16 autocast and channels-last memory on the CPU (about 3x fp32 for plain
    convolutions on AVX-512); switched off where an architecture's layers run slower with
    them, as measured with ``benchmarks/train_speed.py``."""
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
        cpu_bf16=False,
        source="Sec. 3.2-3.3: SGD, initial learning rate 1e-4, batch 16; 100-epoch runs (Sec. 3.3.1)",
        notes=("momentum 0.9, cosine decay and early-stopping patience 20: the paper names "
               "none of them",
               "the paper names no augmentation; flip, rotation 10, shift 0.1 and zoom 0.1 as "
               "for Mini-Xception",
               "lr 1e-4 with SGD is the paper's value for its setting; from scratch on FER2013 "
               "a larger rate (e.g. --lr 0.01) converges far sooner",
               "fp32 on the CPU: GroupNorm and depthwise convolutions ran 2.5x slower under "
               "bf16 autocast with channels-last (benchmarks/train_speed.py, batch 32)"),
    ),
    "yolov8_dyconv_gam": Recipe(
        optimiser=OptimiserRecipe("sgd", 0.01, weight_decay=5e-4, momentum=0.937),
        schedule=ScheduleRecipe("linear", final_lr_fraction=0.01),
        batch_size=16, epochs=50, early_stopping_patience=10,
        augment=AugmentConfig(horizontal_flip=True, crop_area=(0.64, 1.0),
                              brightness=0.3, contrast=0.3),
        cpu_channels_last=False,
        source="Sec. IV-B and IV-C: lr0 0.01, 50 epochs, early stopping, batch 16, 64x64 inputs; "
               "random cropping and colour jitter",
        notes=("momentum 0.937, weight decay 5e-4, linear decay to 0.01 x lr0 and horizontal "
               "flips are the YOLOv8 framework's defaults, which the paper trains with",
               "early-stopping patience 10 for its 'several consecutive epochs'",
               "random crop keeps 64-100 % of the area; brightness and contrast +/-30 %",
               "bf16 without channels-last on the CPU: with it, DynamicConv's sum of K "
               "convolutions ran 2.2x slower (benchmarks/train_speed.py, batch 32)"),
    ),
    "dcrnet": Recipe(
        optimiser=OptimiserRecipe("adam", 1e-4, weight_decay=1e-3, weight_decay_on="dense"),
        auxiliary_from="backbone", auxiliary_weight=1.0, auxiliary_feature_extractor=True,
        schedule=ScheduleRecipe("plateau", monitor="val_accuracy", factor=0.5, patience=3),
        batch_size=32, epochs=50, early_stopping_patience=10,
        augment=AugmentConfig(horizontal_flip=True, rotation_degrees=10, shift=0.1,
                              shear_degrees=10),
        loss="weighted_cross_entropy", gamma=True, cpu_channels_last=False,
        source="Sec. 3 and Table 2 (AffectNet-7 column): Adam 1e-4, L2 1e-3, batch 32, 50 epochs, "
               "early stopping on val accuracy (patience 10), ReduceLROnPlateau on val accuracy "
               "(patience 3, factor 0.5), class-weighted cross-entropy, adaptive gamma; "
               "rotation, shift, shear, flip",
        notes=("L2 1e-3 on the dense layers' weights alone, where the paper puts it; Adam's "
               "coupled decay on every parameter took the from-scratch BatchNorm scales to zero",
               "an auxiliary classifier trains the DenseNet121 in place of the paper's ImageNet "
               "weights: from scratch and end to end, the network stayed at chance for a whole "
               "epoch",
               "bf16 without channels-last on the CPU: with it a step ran 1.2x slower "
               "(benchmarks/train_speed.py, batch 32)",
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


def recipe_for(architecture: str) -> Recipe:
    """The paper recipe of ``architecture``, or a generic one (logged) if it has none."""
    if architecture not in RECIPES:
        log.warning("no paper recipe for %s; using the generic recipe", architecture)
    return RECIPES.get(architecture, GENERIC_RECIPE)
