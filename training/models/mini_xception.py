"""Mini-Xception, after Meilu Wang, "Research on Facial Emotion Recognition Based on Deep
Learning", Journal of Computing and Electronic Information Management, DOI
10.54097/kyr70z32 (the copy the project follows prints no year). The network is Arriaga,
Valdenegro-Toro and Plöger's, "Real-time Convolutional Neural Networks for Emotion and
Gender Classification", arXiv:1710.07557, 2017, itself a reduced Xception (Chollet,
"Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017,
DOI 10.1109/CVPR.2017.195).

Two 3x3 convolutions of 8 filters, four residual modules of depthwise-separable
convolutions (16, 32, 64, 128 filters; each halves the resolution with a 3x3 max-pool,
its shortcut a strided 1x1 convolution), then a 3x3 convolution to the classes and
global average pooling, with no fully connected layer. As the paper says, batch
normalisation and ReLU follow every convolution of the main path (the original Keras
model leaves the second separable convolution without ReLU); the shortcut projection
has batch normalisation only, and the class convolution stays linear because its
output is the logits. The paper trains with Adam, batch 32, 150 epochs,
patience 50, and augments with rotation +/-10 degrees, shifts 0.1, zoom 0.1 and
horizontal flips (its Table 3).
"""

from __future__ import annotations

import torch
from torch import nn

from training.models.base import EmotionModel
from training.models.layers.conv_bn import conv_bn_relu
from training.models.registry import checked_ablations, register


class SeparableConv2d(nn.Sequential):
    """Depthwise 3x3 convolution followed by a pointwise 1x1 convolution."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        )


class ResidualSeparableModule(nn.Module):
    """Two separable convolutions and a max-pool, added to a strided 1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.residual = nn.Sequential(
            SeparableConv2d(in_channels, out_channels),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            SeparableConv2d(out_channels, out_channels),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class MiniXception(EmotionModel):
    def __init__(
        self,
        num_classes: int = 7,
        in_channels: int = 1,
        stem_channels: int = 8,
        module_channels: tuple[int, ...] = (16, 32, 64, 128),
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(  # unpadded, as Keras' default "valid": 48 -> 44
            conv_bn_relu(in_channels, stem_channels, 3, padding=0),
            conv_bn_relu(stem_channels, stem_channels, 3, padding=0),
        )
        blocks, channels = [], stem_channels
        for out_channels in module_channels:
            blocks.append(ResidualSeparableModule(channels, out_channels))
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(images))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.pool(self.classifier(features)).flatten(1)


ABLATIONS: dict[str, str] = {}
"""None: the paper (DOI 10.54097/kyr70z32) reports no ablation, only Table 4's comparison."""


@register("mini_xception", input_size=48, paper="Wang, Mini-Xception (after Arriaga et al. 2017)",
          paper_fer2013=71.12, ablations=ABLATIONS)
def mini_xception(
    num_classes: int = 7, in_channels: int = 1, input_size: int = 48, ablate: frozenset[str] = frozenset()
) -> MiniXception:
    checked_ablations("mini_xception", ablate, ABLATIONS)
    return MiniXception(num_classes, in_channels)
