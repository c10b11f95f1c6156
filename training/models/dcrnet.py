"""DCRNet, after Mohamed A. Abdeldayem, Wael Badawy, Hesham F. A. Hamed and Amr M. Nagy,
"Improving Facial Expression Recognition in real-world Environments", Statistics,
Optimization & Information Computing, 2025, DOI 10.19139/soic-2310-5070-3171. Built on
DenseNet121 (Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional
Networks", CVPR 2017, DOI 10.1109/CVPR.2017.243) and CBAM (``layers.cbam``).

DenseNet121 features, then (the paper's Sec. 3 "Experimental Details"):

- Conv 256 + BN + ReLU + Dropout 0.3 + CBAM,
- Conv 512 + BN + ReLU + MaxPool + Dropout 0.4 + CBAM,
- two residual modules of three residual blocks each, 32 and 64 filters,
- CBAM, global average pooling,
- dense 512, 256, 128, each followed by Dropout 0.4, then the classifier (logits).

Choices where the paper is vague, and why:

- No ImageNet weights can be downloaded here, so the DenseNet121 is trained from
  scratch (the paper uses ImageNet weights as a feature extractor); model cards say so.
  Trained end to end from scratch the network stays at chance, so the recipe trains the
  backbone through an auxiliary classifier and stops the head's gradient at the backbone
  (``training/losses/auxiliary.py``); the model itself is unchanged.
- Input and stem: the paper feeds 224x224 images to the stock DenseNet121 (7x7 final
  maps). FER2013 faces are 48x48; the stock stem (stride 32) would bring them to 1x1
  before the head's max-pool (which then cannot run). Below 192 pixels the backbone
  uses a compact stem (3x3 stride-1 convolution and the stock 3x3 max-pool, total
  stride 16; ``backbones.densenet121``): a 48x48 face leaves DenseNet at 3x3, which the
  first CBAM still weighs spatially, at 0.55 G multiply-accumulates per face. The
  paper's geometry (6x6 after DenseNet, 3x3 after the max-pool) is one flag away,
  ``--input-size 96``, at 2.2 G MACs: four times the compute per face and per training
  epoch (measured epoch times: ``docs/results/train-throughput.md``), which is why it
  is not the default. From 192 pixels up the stock stem is used.
- Convolutions are 3x3 with "same" padding, max-pooling 2x2 (Keras' defaults; the paper
  writes Keras layer names and gives no sizes). CBAM uses reduction 16 and a 7x7
  spatial kernel, as the CBAM paper does.
- Residual block (the paper's Fig. 5, ``y = F(x) + x``): 3x3 conv-BN-ReLU-3x3 conv-BN
  plus the input, then ReLU, as in ResNet; where the width changes (the first block of
  each module) the shortcut is a 1x1 convolution + BN. No downsampling inside.
- The dense layers use ReLU. The paper's L2 regularisation (1e-3, on the dense layers)
  is the optimiser's weight decay on those layers' weights, its class-weighted
  cross-entropy the trainer's; neither is in here.

Parameters: 11.14 M at 1 input channel and 7 classes against the paper's 11.6 M (the
DenseNet121 features 6.95 M, the two head convolutions 3.58 M, the residual modules
0.42 M, the dense layers 0.20 M). Keras, which the paper used, also counts BatchNorm's
moving means and variances as (non-trainable) parameters: 11.23 M counted that way.
The remaining 4% lies in what the paper leaves open (kernel sizes, the residual
blocks' layout).

Ablations (``ABLATIONS``, ``--ablate``; DOI 10.19139/soic-2310-5070-3171) rebuild the
rows of Table 8 ("Ablation Study Results on AffectNet-7") and the SE comparison of
Sec. 3: ``cbam`` drops the three CBAMs (``cbam_to_se`` puts Hu et al.'s SE there),
``residual_modules`` the two residual modules, ``gamma`` the adaptive gamma (a recipe
switch, the same as ``--no-gamma``), ``landmarks`` the landmark emphasis of Sec. 2.1.2
(a recipe switch, the same as ``--landmark-emphasis 0``; ``app.face.emphasis``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from training.models.backbones.densenet121 import DenseNet121Features, Stem
from training.models.base import EmotionModel
from training.models.layers.cbam import CBAM
from training.models.layers.conv_bn import conv_bn, conv_bn_relu
from training.models.layers.squeeze_excitation import hu_se
from training.models.registry import checked_ablations, register

Attention = Literal["cbam", "se", "none"]


@dataclass(frozen=True)
class ConvStage:
    """Conv + BN + ReLU [+ MaxPool] + Dropout + CBAM."""

    channels: int
    dropout: float
    max_pool: bool


CONV_STAGES = (ConvStage(256, dropout=0.3, max_pool=False), ConvStage(512, dropout=0.4, max_pool=True))
RESIDUAL_MODULE_WIDTHS = (32, 64)
BLOCKS_PER_RESIDUAL_MODULE = 3
DENSE_WIDTHS = (512, 256, 128)
DENSE_DROPOUT = 0.4
COMPACT_STEM_BELOW = 192
"""Input sides below this use the compact DenseNet stem (see the docstring)."""


def attention_module(channels: int, attention: Attention) -> nn.Module:
    """CBAM as the paper has it, or (ablated) SE or nothing in its place."""
    if attention == "none":
        return nn.Identity()
    return CBAM(channels) if attention == "cbam" else hu_se(channels)


def conv_stage(in_channels: int, stage: ConvStage, attention: Attention = "cbam") -> nn.Sequential:
    layers = list(conv_bn_relu(in_channels, stage.channels, 3))
    if stage.max_pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Dropout(stage.dropout), attention_module(stage.channels, attention))


class ResidualBlock(nn.Module):
    """``ReLU(F(x) + shortcut(x))`` with ``F`` two 3x3 conv-BN layers."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(*conv_bn_relu(in_channels, channels), *conv_bn(channels, channels))
        self.shortcut = nn.Identity() if in_channels == channels else conv_bn(in_channels, channels, 1)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.activation(self.residual(features) + self.shortcut(features))


def residual_module(in_channels: int, channels: int) -> nn.Sequential:
    return nn.Sequential(
        ResidualBlock(in_channels, channels),
        *(ResidualBlock(channels, channels) for _ in range(BLOCKS_PER_RESIDUAL_MODULE - 1)),
    )


class DCRNet(EmotionModel):
    def __init__(
        self, num_classes: int = 7, in_channels: int = 1, stem: Stem = "compact",
        attention: Attention = "cbam", residual_modules: bool = True,
    ) -> None:
        super().__init__()
        self.backbone = DenseNet121Features(in_channels, stem)
        channels = self.backbone.out_channels
        stages = []
        for stage in CONV_STAGES:
            stages.append(conv_stage(channels, stage, attention))
            channels = stage.channels
        self.conv_stages = nn.Sequential(*stages)
        modules = []
        for width in RESIDUAL_MODULE_WIDTHS if residual_modules else ():
            modules.append(residual_module(channels, width))
            channels = width
        self.residual_modules = nn.Sequential(*modules)  # empty: passes the features on
        self.attention = attention_module(channels, attention)
        self.pool = nn.AdaptiveAvgPool2d(1)
        dense: list[nn.Module] = []
        for width in DENSE_WIDTHS:
            dense += [nn.Linear(channels, width), nn.ReLU(inplace=True), nn.Dropout(DENSE_DROPOUT)]
            channels = width
        self.dense = nn.Sequential(*dense)
        self.classifier = nn.Linear(channels, num_classes)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        features = self.conv_stages(self.backbone(images))
        return self.attention(self.residual_modules(features))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dense(self.pool(features).flatten(1)))


ABLATIONS = {
    "cbam": "CBAM off, all three (Table 8: the rows before '+ CBAM Modules')",
    "cbam_to_se": "CBAM -> SE, reduction 16 (Sec. 3: 65.43 % with SE vs 65.80 % on AffectNet)",
    "residual_modules": "both residual modules off (Table 8: the rows before '+ Residual Connections')",
    "gamma": "adaptive gamma off, as --no-gamma (Table 8: 'DenseNet121 (Backbone) only')",
    "landmarks": "landmark emphasis off, as --landmark-emphasis 0 (Table 8: the rows before "
                 "'+ Facial Landmarks')",
}
RECIPE_ABLATIONS = {"gamma": {"gamma": False}, "landmarks": {"landmark_emphasis": 0.0}}


@register(
    "dcrnet",
    input_size=48,
    paper="Abdeldayem et al. 2025, DCRNet (DenseNet121 + CBAM + residual)",
    paper_parameters=11.6,
    ablations=ABLATIONS,
    recipe_ablations=RECIPE_ABLATIONS,
)
def dcrnet(
    num_classes: int = 7, in_channels: int = 1, input_size: int = 48, ablate: frozenset[str] = frozenset()
) -> DCRNet:
    ablate = checked_ablations("dcrnet", ablate, ABLATIONS)
    if input_size < 32:
        raise ValueError(f"dcrnet needs inputs of at least 32 pixels (2x2 at its max-pool); got {input_size}")
    if {"cbam", "cbam_to_se"} <= ablate:
        raise ValueError("ablate either cbam (no attention) or cbam_to_se (SE instead), not both")
    attention = "none" if "cbam" in ablate else "se" if "cbam_to_se" in ablate else "cbam"
    return DCRNet(num_classes, in_channels, stem="compact" if input_size < COMPACT_STEM_BELOW else "imagenet",
                  attention=attention, residual_modules="residual_modules" not in ablate)
