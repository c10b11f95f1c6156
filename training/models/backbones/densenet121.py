"""DenseNet121 feature extractor (Huang, Liu, van der Maaten and Weinberger, "Densely
Connected Convolutional Networks", CVPR 2017, DOI 10.1109/CVPR.2017.243), written out
because torchvision is not a dependency.

Growth rate 32, dense blocks of 6, 12, 24 and 16 layers, bottleneck layers
(BN-ReLU-1x1 conv to 4 x growth, BN-ReLU-3x3 conv to growth) whose outputs are
concatenated to their inputs, and transitions (BN-ReLU-1x1 conv halving the channels,
2x2 average pool) between blocks; the features end with BN + ReLU, as Keras'
``DenseNet121(include_top=False)`` does. 1024 output channels.

Two stems. ``"imagenet"`` is the paper's: 7x7 convolution with stride 2 and a 3x3
max-pool with stride 2, total stride 32, meant for 224-pixel images (7x7 final maps).
``"compact"`` is a 3x3 convolution with stride 1 and the same 3x3 max-pool, total
stride 16, for face crops: a 48x48 face reaches the dense blocks at 24/12/6/3 instead
of 12/6/3/1 (where a 1x1 map leaves attention nothing to attend to), and a 96x96 face
gets the 48/24/12/6 maps that 224-pixel images give the stock net (56/28/14/7).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

GROWTH_RATE = 32
BLOCK_LAYERS = (6, 12, 24, 16)
BOTTLENECK_WIDTH = 4  # x growth rate
COMPRESSION = 0.5
STEM_CHANNELS = 64

Stem = Literal["imagenet", "compact"]


def _bn_relu_conv(in_channels: int, out_channels: int, kernel_size: int) -> list[nn.Module]:
    return [
        nn.BatchNorm2d(in_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
    ]


class DenseLayer(nn.Sequential):
    """BN-ReLU-1x1 conv (bottleneck) then BN-ReLU-3x3 conv to ``GROWTH_RATE`` channels."""

    def __init__(self, in_channels: int) -> None:
        bottleneck = BOTTLENECK_WIDTH * GROWTH_RATE
        super().__init__(
            *_bn_relu_conv(in_channels, bottleneck, 1), *_bn_relu_conv(bottleneck, GROWTH_RATE, 3)
        )


class DenseBlock(nn.ModuleList):
    """Each layer sees the concatenation of the block input and all earlier outputs."""

    def __init__(self, in_channels: int, num_layers: int) -> None:
        super().__init__(DenseLayer(in_channels + index * GROWTH_RATE) for index in range(num_layers))
        self.out_channels = in_channels + num_layers * GROWTH_RATE

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        collected = [features]
        for layer in self:
            collected.append(layer(torch.cat(collected, dim=1)))
        return torch.cat(collected, dim=1)


class Transition(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(*_bn_relu_conv(in_channels, out_channels, 1), nn.AvgPool2d(2))


def _stem(in_channels: int, stem: Stem) -> nn.Sequential:
    if stem == "imagenet":
        return nn.Sequential(
            nn.Conv2d(in_channels, STEM_CHANNELS, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(STEM_CHANNELS),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
    if stem == "compact":
        return nn.Sequential(
            nn.Conv2d(in_channels, STEM_CHANNELS, 3, padding=1, bias=False),
            nn.BatchNorm2d(STEM_CHANNELS),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
    raise ValueError(f"unknown DenseNet121 stem {stem!r}; valid: 'imagenet', 'compact'")


class DenseNet121Features(nn.Sequential):
    """Image (N, C, H, W) -> features (N, 1024, H/s, W/s); s = 32 ("imagenet") or 16 ("compact")."""

    def __init__(self, in_channels: int = 3, stem: Stem = "imagenet") -> None:
        modules: list[nn.Module] = [_stem(in_channels, stem)]
        channels = STEM_CHANNELS
        for index, num_layers in enumerate(BLOCK_LAYERS):
            block = DenseBlock(channels, num_layers)
            modules.append(block)
            channels = block.out_channels
            if index < len(BLOCK_LAYERS) - 1:
                modules.append(Transition(channels, int(channels * COMPRESSION)))
                channels = int(channels * COMPRESSION)
        modules += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        super().__init__(*modules)
        self.out_channels = channels
