"""Improved MobileNetV3-Large, after Bin Jiang, Nanxing Li, Xiaomei Cui, Qiuwen Zhang,
Huanlong Zhang, Zuhe Li and Weihua Liu, "Research on facial expression recognition
algorithm based on improved MobileNetV3", EURASIP Journal on Image and Video Processing,
2024, DOI 10.1186/s13640-024-00638-z. Its parts: MobileNetV3 (Howard et al., "Searching
for MobileNetV3", ICCV 2019, DOI 10.1109/ICCV.2019.00140), SimAM (``layers.simam``) and
Group Normalization (Wu and He, "Group Normalization", ECCV 2018, arXiv:1803.08494).

MobileNetV3-Large laid out row by row as the paper's Table 2 (``FIRST_CONV``,
``BNECKS``, ``LAST_CONV``), with its three changes: GroupNorm instead of every
BatchNorm, parameter-free SimAM instead of SE where the table says Y, and dilated
convolutions in the first convolution and in the shortcuts, with max-pooling in the
shortcut of downsampling blocks (the "first-conv + shortcut + maxpool" variant of its
Table 4, the one proposed). Choices where the paper is vague:

- Strides follow Table 2's ``s`` column. It moves MobileNetV3's last downsampling from
  the 672 -> 160 bneck to the first 960 bneck, while the ``Input`` column still shows
  the original sizes; the ``s`` column is the one the dilation marks agree with (every
  dilated row has stride 1, every stride-2 row none), and the total stride is 32 either way.
- Every bneck has a shortcut ("the shortcut connections of each inverted residual
  structure"), built from its row: a row marked dilation 2 gets a depthwise
  convolution with the row's kernel and dilation 2, then GroupNorm; a stride-2 row gets
  a 3x3 stride-2 max-pool (padded to match the main branch's output size); where the
  channel count changes, a 1x1 convolution and GroupNorm follow, as in ResNet's
  projection shortcuts. The shortcut is linear and is added to the main branch. The
  main branch is MobileNetV3's, its depthwise convolution undilated.
- SimAM sits where MobileNetV3 has SE: after the depthwise convolution's activation.
- GroupNorm uses 8 groups: 8 divides every width of Table 2 (16 to 960) and leaves at
  least two channels per group in the 16-channel layers; Wu and He's default of 32
  divides neither 16, 24, 40, 72, 120, 184 nor 200.
- Table 2 writes "GN" on the pooling row; nothing is normalised after pooling, as in
  MobileNetV3, whose 1x1 convolutions after the pool carry no BatchNorm (its "NBN")
  for GroupNorm to replace. Dropout 0.2 precedes the classifier, as in MobileNetV3.
- The table ends in 8 classes (RaFD, FER2013Plus); the class count is a parameter.
- Default input 48x48, FER2013's own resolution (the table's 224 is ImageNet's); any
  size works (adaptive pooling). No ImageNet weights: trained from scratch. The paper
  gives no parameter count ("reduces the number of network parameters").

Ablations (``ABLATIONS``, ``--ablate``) undo each change: the dilations and the max-pool
shortcut one by one as the rows of Table 4 ("Training recognition rates on RaFD data
set"), SimAM back to MobileNetV3's SE (or to nothing), GroupNorm back to BatchNorm
(MobileNetV3's eps 1e-3, momentum 0.01). With both shortcut changes off a block gets
MobileNetV3's own shortcut: the identity where it keeps size and width, none elsewhere;
all five off give Table 4's "Base", the stock network.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import nn

from training.models.base import EmotionModel
from training.models.layers.simam import SimAM
from training.models.layers.squeeze_excitation import mobilenetv3_se
from training.models.registry import checked_ablations, register

Activation = Literal["RE", "HS"]
Norm = Literal["group", "batch"]
ACTIVATIONS: dict[str, type[nn.Module]] = {"RE": nn.ReLU, "HS": nn.Hardswish}
GROUP_NORM_GROUPS = 8


@dataclass(frozen=True)
class ConvRow:
    """A plain convolution row of Table 2: convolution, GroupNorm, activation."""

    kernel: int
    out_channels: int
    activation: Activation
    stride: int
    dilation: int = 1


@dataclass(frozen=True)
class BneckRow:
    """A bneck row of Table 2 (``expansion`` is its "Exp size")."""

    kernel: int
    expansion: int
    out_channels: int
    simam: bool
    activation: Activation
    stride: int
    dilation: int


FIRST_CONV = ConvRow(kernel=3, out_channels=16, activation="HS", stride=2, dilation=2)
BNECKS: tuple[BneckRow, ...] = (
    BneckRow(3, 16, 16, False, "RE", 1, 2),
    BneckRow(3, 64, 24, False, "RE", 2, 1),
    BneckRow(3, 72, 24, False, "RE", 1, 2),
    BneckRow(5, 72, 40, True, "RE", 2, 1),
    BneckRow(5, 120, 40, True, "RE", 1, 2),
    BneckRow(5, 120, 40, True, "RE", 1, 2),
    BneckRow(3, 240, 80, False, "HS", 2, 1),
    BneckRow(3, 200, 80, False, "HS", 1, 2),
    BneckRow(3, 184, 80, False, "HS", 1, 2),
    BneckRow(3, 184, 80, False, "HS", 1, 2),
    BneckRow(3, 480, 112, True, "HS", 1, 2),
    BneckRow(3, 672, 112, True, "HS", 1, 2),
    BneckRow(5, 672, 160, True, "HS", 1, 2),
    BneckRow(5, 960, 160, True, "HS", 2, 1),
    BneckRow(5, 960, 160, True, "HS", 1, 2),
)
LAST_CONV = ConvRow(kernel=1, out_channels=960, activation="HS", stride=1)
HEAD_CHANNELS = 1280


@dataclass(frozen=True)
class Changes:
    """The paper's changes to MobileNetV3-Large, all on by default; each ablation undoes one."""

    attention: Literal["simam", "se", "none"] = "simam"
    norm: Norm = "group"
    first_conv_dilation: bool = True
    shortcut_dilation: bool = True
    shortcut_maxpool: bool = True


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(channels, GROUP_NORM_GROUPS), channels)


def normalisation(channels: int, norm: Norm) -> nn.Module:
    if norm == "batch":  # MobileNetV3's own (torchvision's eps and momentum)
        return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)
    return group_norm(channels)


def conv_norm(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    activation: Activation | None = None,
    norm: Norm = "group",
) -> nn.Sequential:
    """Convolution ("same" padding for odd kernels), GroupNorm (BatchNorm when ablated), and
    the activation if any."""
    padding = dilation * (kernel - 1) // 2
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding, dilation, groups, bias=False),
        normalisation(out_channels, norm),
    ]
    if activation is not None:
        layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def shortcut_branch(in_channels: int, row: BneckRow, changes: Changes = Changes()) -> nn.Module | None:
    """Max-pool where the row downsamples, dilated depthwise conv where it says dilation,
    1x1 projection where the width changes; the identity when none applies.

    None (no shortcut, as in MobileNetV3) where an ablation leaves a downsampling block
    without its max-pool, or leaves nothing but the projection to add.
    """
    parts: OrderedDict[str, nn.Module] = OrderedDict()
    if row.stride > 1:
        if not changes.shortcut_maxpool:
            return None
        parts["pool"] = nn.MaxPool2d(3, row.stride, padding=1)
    if row.dilation > 1 and changes.shortcut_dilation:
        parts["dilated"] = conv_norm(
            in_channels, in_channels, row.kernel, dilation=row.dilation, groups=in_channels,
            norm=changes.norm,
        )
    if in_channels != row.out_channels:
        if not parts:
            return None
        parts["projection"] = conv_norm(in_channels, row.out_channels, 1, norm=changes.norm)
    return nn.Sequential(parts) if parts else nn.Identity()


def attention_module(channels: int, row: BneckRow, changes: Changes) -> nn.Module:
    """SimAM where Table 2 says Y (MobileNetV3's SE there when ablated), else nothing."""
    if not row.simam or changes.attention == "none":
        return nn.Identity()
    return SimAM() if changes.attention == "simam" else mobilenetv3_se(channels)


class Bneck(nn.Module):
    """MobileNetV3's inverted residual with SimAM for SE, GroupNorm, and a built shortcut."""

    def __init__(self, in_channels: int, row: BneckRow, changes: Changes = Changes()) -> None:
        super().__init__()
        norm = changes.norm
        if row.expansion == in_channels:  # MobileNetV3 skips the expansion at ratio 1
            self.expand: nn.Module = nn.Identity()
        else:
            self.expand = conv_norm(in_channels, row.expansion, 1, activation=row.activation, norm=norm)
        self.depthwise = conv_norm(
            row.expansion, row.expansion, row.kernel, row.stride,
            groups=row.expansion, activation=row.activation, norm=norm,
        )
        self.attention = attention_module(row.expansion, row, changes)
        self.project = conv_norm(row.expansion, row.out_channels, 1, norm=norm)
        self.shortcut = shortcut_branch(in_channels, row, changes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.project(self.attention(self.depthwise(self.expand(x))))
        return main if self.shortcut is None else main + self.shortcut(x)


class MobileNetV3DilatedSimAM(EmotionModel):
    def __init__(
        self,
        num_classes: int = 7,
        in_channels: int = 1,
        dropout: float = 0.2,
        first_conv: ConvRow = FIRST_CONV,
        bnecks: tuple[BneckRow, ...] = BNECKS,
        last_conv: ConvRow = LAST_CONV,
        head_channels: int = HEAD_CHANNELS,
        changes: Changes = Changes(),
    ) -> None:
        super().__init__()
        if not changes.first_conv_dilation:
            first_conv = replace(first_conv, dilation=1)
        self.first_conv = conv_norm(
            in_channels, first_conv.out_channels, first_conv.kernel, first_conv.stride,
            first_conv.dilation, activation=first_conv.activation, norm=changes.norm,
        )
        blocks, channels = [], first_conv.out_channels
        for row in bnecks:
            blocks.append(Bneck(channels, row, changes))
            channels = row.out_channels
        self.blocks = nn.Sequential(*blocks)
        self.last_conv = conv_norm(
            channels, last_conv.out_channels, last_conv.kernel, last_conv.stride,
            last_conv.dilation, activation=last_conv.activation, norm=changes.norm,
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Conv2d(last_conv.out_channels, head_channels, 1),
            nn.Hardswish(),
            nn.Dropout(dropout),
            nn.Conv2d(head_channels, num_classes, 1),
        )

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.last_conv(self.blocks(self.first_conv(images)))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(features)).flatten(1)


ABLATIONS = {
    "simam": "SimAM off: no attention in the bnecks Table 2 marks (in no table; isolates SimAM)",
    "simam_to_se": "SimAM -> MobileNetV3's SE block (Table 4 'Base', the stock MobileNetV3)",
    "groupnorm": "GroupNorm -> BatchNorm (Table 4 'Base', the stock MobileNetV3)",
    "first_conv_dilation": "first convolution undilated (Table 4 'Shortcut'; with the others: 'Base')",
    "shortcut_dilation": "no dilated convolution in the shortcuts (Table 4 'First-conv'; 'Base')",
    "shortcut_maxpool": "no max-pool shortcut: downsampling bnecks get none, as in MobileNetV3 "
                        "(Table 4 'First-conv + shortcut' and every row above it)",
    "dilation": "first_conv_dilation + shortcut_dilation: no dilation anywhere (Table 4 'Base')",
}


@register(
    "mobilenetv3_dilated_simam",
    input_size=48,
    paper="Jiang et al. 2024, improved MobileNetV3 (dilation, SimAM, GroupNorm)",
    paper_fer2013=67.7,
    ablations=ABLATIONS,
)
def mobilenetv3_dilated_simam(
    num_classes: int = 7, in_channels: int = 1, input_size: int = 48, ablate: frozenset[str] = frozenset()
) -> MobileNetV3DilatedSimAM:
    ablate = checked_ablations("mobilenetv3_dilated_simam", ablate, ABLATIONS)
    if {"simam", "simam_to_se"} <= ablate:
        raise ValueError("ablate either simam (no attention) or simam_to_se (SE instead), not both")
    changes = Changes(
        attention="none" if "simam" in ablate else "se" if "simam_to_se" in ablate else "simam",
        norm="batch" if "groupnorm" in ablate else "group",
        first_conv_dilation=not ablate & {"first_conv_dilation", "dilation"},
        shortcut_dilation=not ablate & {"shortcut_dilation", "dilation"},
        shortcut_maxpool="shortcut_maxpool" not in ablate,
    )
    return MobileNetV3DilatedSimAM(num_classes, in_channels, changes=changes)
