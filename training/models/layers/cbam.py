"""Convolutional Block Attention Module (Woo, Park, Lee and Kweon, "CBAM: Convolutional
Block Attention Module", ECCV 2018, arXiv:1807.06521): DCRNet's attention.

Channel attention first, then spatial attention, each a gate in (0, 1) multiplied into
the features: ``F' = Mc(F) * F`` and ``F'' = Ms(F') * F'``. The channel gate is a shared
two-layer MLP (reduction 16, as in the paper) applied to the average- and max-pooled
channel descriptors and summed before the sigmoid; the spatial gate is one 7x7
convolution over the channel-wise average and maximum maps. The paper's formula has no
normalisation in the spatial branch, so none is added.
"""

from __future__ import annotations

import torch
from torch import nn


class ChannelAttention(nn.Module):
    """``Mc(F) = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))``, shape (N, C, 1, 1)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        average = features.mean(dim=(2, 3), keepdim=True)
        maximum = features.amax(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.mlp(average) + self.mlp(maximum))


class SpatialAttention(nn.Module):
    """``Ms(F) = sigmoid(conv7x7([AvgPool_c(F); MaxPool_c(F)]))``, shape (N, 1, H, W)."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        average = features.mean(dim=1, keepdim=True)
        maximum = features.amax(dim=1, keepdim=True)
        return torch.sigmoid(self.conv(torch.cat([average, maximum], dim=1)))


class CBAM(nn.Module):
    """Channel gating followed by spatial gating; output has the input's shape."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel_attention = ChannelAttention(channels, reduction)
        self.spatial_attention = SpatialAttention(kernel_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = features * self.channel_attention(features)
        return features * self.spatial_attention(features)
