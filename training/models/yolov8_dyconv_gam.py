"""Improved YOLOv8 classifier, after Ziyue Wang, Hang Yin, Honghe Xie and Jiaqi Gu,
"Research on Expression Recognition Algorithm Based on Deep Learning", journal article,
2025 (manuscript received May 2025; the project's copy names no journal, and the paper
prints no DOI). YOLOv8 itself has no paper: it is Ultralytics' software (Jocher,
Chaurasia and Qiu, "Ultralytics YOLOv8", 2023, https://github.com/ultralytics/ultralytics).

The YOLOv8 classification network (Ultralytics ``yolov8-cls.yaml``: Conv, C2f and the
Classify head, laid out below as ``BACKBONE``) with the paper's two changes: every
Conv module's convolution is a dynamic convolution (Chen et al. 2020, K = 4 kernels,
``layers.dynamic_conv``), and a GAM block (Liu et al. 2021, ``layers.gam``) follows
every C2f. Input 64x64 as in the paper. Choices where the paper is vague:

- Scale n (depth 0.33, width 0.25: widths 16-32-64-128-256, C2f repeats 1-2-2-1). The
  paper names no scale. n is YOLOv8's real-time scale, and both changes are costly:
  K = 4 kernels quadruple every convolution's weights and GAM's 7x7 convolutions grow
  with the square of the width, so s (twice the width) would be about 4x the
  parameters, with no gain to expect from 64x64 grey faces that n's width cannot hold.
- "Every Conv" includes the Classify head's 1x1 Conv (an Ultralytics Conv module), but
  not GAM's own convolutions, nor the final Linear layer.
- Modules keep Ultralytics' details: C2f splits its 1x1 projection in two halves and
  concatenates every bottleneck output; bottlenecks are residual; BatchNorm uses
  eps 1e-3 and momentum 0.03; the head's dropout defaults to 0 as in YOLOv8-cls.
  Attribute names are spelled out: Ultralytics' ``cv1``, ``m``, ``cv2`` are
  ``input_projection``, ``bottlenecks``, ``output_projection``; ``bn``, ``act`` are
  ``norm``, ``activation`` (so its checkpoints do not load here by key).
- Dynamic convolution starts at temperature 30; the training loop anneals it to 1
  over the first 10 epochs (``layers.dynamic_conv.anneal_temperature``), as Chen et al.
- No ImageNet weights: trained from scratch. The paper gives no parameter count.

Ablations (``ABLATIONS``, ``--ablate``) rebuild the rows of the paper's Table V
("Ablation experiments on the CK+, FER2013, RAF-DB dataset"): ``dynamic_conv`` puts
YOLOv8's plain convolution back in every Conv, ``gam`` drops the GAM blocks; both give
the plain YOLOv8n-cls row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from training.models.base import EmotionModel
from training.models.layers.dynamic_conv import DynamicConv
from training.models.layers.gam import GAM
from training.models.registry import checked_ablations, register


@dataclass(frozen=True)
class Scale:
    """Ultralytics' compound scaling: repeats x depth, widths x width (capped)."""

    depth: float
    width: float
    max_channels: int

    def channels(self, channels: int) -> int:
        return math.ceil(min(channels, self.max_channels) * self.width / 8) * 8

    def repeats(self, repeats: int) -> int:
        return max(round(repeats * self.depth), 1)


SCALES = {"n": Scale(0.33, 0.25, 1024), "s": Scale(0.33, 0.50, 1024)}


@dataclass(frozen=True)
class Layer:
    """A backbone row of ``yolov8-cls.yaml`` at full scale."""

    module: Literal["Conv", "C2f"]
    out_channels: int
    repeats: int = 1
    kernel: int = 3
    stride: int = 1


BACKBONE: tuple[Layer, ...] = (
    Layer("Conv", 64, kernel=3, stride=2),
    Layer("Conv", 128, kernel=3, stride=2),
    Layer("C2f", 128, repeats=3),
    Layer("Conv", 256, kernel=3, stride=2),
    Layer("C2f", 256, repeats=6),
    Layer("Conv", 512, kernel=3, stride=2),
    Layer("C2f", 512, repeats=6),
    Layer("Conv", 1024, kernel=3, stride=2),
    Layer("C2f", 1024, repeats=3),
)
HEAD_CHANNELS = 1280
"""Classify's 1x1 Conv width, fixed across scales in Ultralytics."""


class Conv(nn.Module):
    """YOLOv8's Conv (convolution, BatchNorm, SiLU) with a dynamic convolution of ``kernels``
    kernels, or YOLOv8's own plain convolution when ``kernels`` is None (the ablation)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1,
        kernels: int | None = 4,
    ) -> None:
        super().__init__()
        if kernels is None:
            self.convolution: nn.Module = nn.Conv2d(in_channels, out_channels, kernel, stride,
                                                    padding=kernel // 2, bias=False)
        else:
            self.convolution = DynamicConv(in_channels, out_channels, kernel, stride, bias=False,
                                           kernels=kernels)
        self.norm = nn.BatchNorm2d(out_channels, eps=1e-3, momentum=0.03)
        self.activation = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(self.convolution(x)))


class Bottleneck(nn.Module):
    """Two 3x3 Convs with a residual connection (C2f's inner block, expansion 1)."""

    def __init__(self, channels: int, kernels: int | None = 4) -> None:
        super().__init__()
        self.first = Conv(channels, channels, 3, kernels=kernels)
        self.second = Conv(channels, channels, 3, kernels=kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.second(self.first(x))


class C2f(nn.Module):
    """CSP bottleneck with two convolutions: split, chain bottlenecks, concatenate all."""

    def __init__(self, in_channels: int, out_channels: int, repeats: int, kernels: int | None = 4) -> None:
        super().__init__()
        self.hidden = out_channels // 2
        self.input_projection = Conv(in_channels, 2 * self.hidden, 1, kernels=kernels)
        self.bottlenecks = nn.ModuleList(Bottleneck(self.hidden, kernels) for _ in range(repeats))
        self.output_projection = Conv((2 + repeats) * self.hidden, out_channels, 1, kernels=kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = list(self.input_projection(x).chunk(2, dim=1))
        for bottleneck in self.bottlenecks:
            parts.append(bottleneck(parts[-1]))
        return self.output_projection(torch.cat(parts, dim=1))


class Classify(nn.Module):
    """YOLOv8-cls head: 1x1 Conv to 1280, global average pooling, dropout, linear logits."""

    def __init__(
        self, in_channels: int, num_classes: int, dropout: float = 0.0, kernels: int | None = 4
    ) -> None:
        super().__init__()
        self.projection = Conv(in_channels, HEAD_CHANNELS, 1, kernels=kernels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(self.pool(self.projection(x)).flatten(1)))


class YOLOv8DynamicConvGAM(EmotionModel):
    def __init__(
        self,
        num_classes: int = 7,
        in_channels: int = 1,
        scale: str = "n",
        kernels: int | None = 4,
        dropout: float = 0.0,
        gam: bool = True,
    ) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"unknown YOLOv8 scale {scale!r}; valid: {sorted(SCALES)}")
        self.scale = SCALES[scale]
        layers: list[nn.Module] = []
        channels = in_channels
        for layer in BACKBONE:
            out_channels = self.scale.channels(layer.out_channels)
            if layer.module == "Conv":
                layers.append(Conv(channels, out_channels, layer.kernel, layer.stride, kernels))
            else:
                repeats = self.scale.repeats(layer.repeats)
                layers.append(C2f(channels, out_channels, repeats, kernels))
                if gam:
                    layers.append(GAM(out_channels))
            channels = out_channels
        self.backbone = nn.Sequential(*layers)
        self.head = Classify(channels, num_classes, dropout, kernels)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)


ABLATIONS = {
    "dynamic_conv": "DynamicConv -> YOLOv8's plain Conv (Table V: YOLOv8+GAM; with gam: YOLOv8)",
    "gam": "GAM attention off after every C2f (Table V: YOLOv8+DyConv; with dynamic_conv: YOLOv8)",
}


@register("yolov8_dyconv_gam", input_size=64, paper="Wang et al. 2025, YOLOv8n-cls + DynamicConv + GAM",
          paper_fer2013=83.5, ablations=ABLATIONS)
def yolov8_dyconv_gam(
    num_classes: int = 7, in_channels: int = 1, input_size: int = 64, ablate: frozenset[str] = frozenset()
) -> YOLOv8DynamicConvGAM:
    ablate = checked_ablations("yolov8_dyconv_gam", ablate, ABLATIONS)
    return YOLOv8DynamicConvGAM(num_classes, in_channels, scale="n",
                                kernels=None if "dynamic_conv" in ablate else 4, gam="gam" not in ablate)
