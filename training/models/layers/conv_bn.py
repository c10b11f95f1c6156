"""Convolution + BatchNorm (+ ReLU) with "same" padding, the unit most blocks are built of."""

from __future__ import annotations

from torch import nn


def conv_bn(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Bias-free convolution (BatchNorm's shift replaces the bias) and BatchNorm."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    return nn.Sequential(*conv_bn(in_channels, out_channels, kernel_size), nn.ReLU(inplace=True))
