"""GAM, the Global Attention Mechanism (Liu, Shao and Hoffmann, "Global Attention
Mechanism: Retain Information to Enhance Channel-Spatial Interactions", arXiv preprint,
2021, arXiv:2112.05561): the improved YOLOv8's attention after every C2f.

Channel attention then spatial attention, each a multiplicative gate with no residual::

    F2 = Mc(F1) * F1,    F3 = Ms(F2) * F2

``Mc`` permutes the map to channels-last and runs a two-layer MLP (reduction ``r``)
over every position's channel vector, then a sigmoid: unlike SE and CBAM it pools
nothing away, which is GAM's point ("retain information"). ``Ms`` is two 7x7
convolutions (C -> C/r -> C), each followed by batch normalisation, with a ReLU
between and a sigmoid after; GAM drops CBAM's spatial max-pooling for the same reason.
``r = 4`` as in GAM's experiments.

The YOLOv8 paper (Wang et al. eq. 3-5) writes the channel branch with global average
pooling first, which is SE rather than GAM; the project follows GAM's own definition
(channel MLP and 7x7 spatial convolutions), the module that paper cites and names.
"""

from __future__ import annotations

import torch
from torch import nn


class GAMChannelAttention(nn.Module):
    """``Mc``: sigmoid of a per-position channel MLP, shaped like its input."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels_last = x.permute(0, 2, 3, 1)
        return torch.sigmoid(self.mlp(channels_last)).permute(0, 3, 1, 2)


class GAMSpatialAttention(nn.Module):
    """``Ms``: sigmoid of two 7x7 convolutions with a C/r bottleneck, shaped like its input."""

    def __init__(self, channels: int, reduction: int = 4, kernel_size: int = 7) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        padding = kernel_size // 2
        self.convolutions = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size, padding=padding),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size, padding=padding),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.convolutions(x))


class GAM(nn.Module):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(
                f"channels and reduction must be positive, got {channels} and {reduction}"
            )
        self.channel_attention = GAMChannelAttention(channels, reduction)
        self.spatial_attention = GAMSpatialAttention(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.channel_attention(x) * x
        return self.spatial_attention(x) * x
