"""Convolution + BatchNorm (+ ReLU), "same" padding unless told otherwise: the unit most
blocks are built of. Batch normalisation: Ioffe and Szegedy, "Batch Normalization:
Accelerating Deep Network Training by Reducing Internal Covariate Shift", ICML 2015,
arXiv:1502.03167."""

from __future__ import annotations

from torch import nn


def conv_bn(
    in_channels: int, out_channels: int, kernel_size: int = 3, padding: int | None = None
) -> nn.Sequential:
    """Bias-free convolution (BatchNorm's shift replaces the bias) and BatchNorm.

    ``padding`` defaults to ``kernel_size // 2`` ("same" at stride 1); 0 gives Keras'
    "valid" convolution, which shrinks the map by ``kernel_size - 1``.
    """
    padding = kernel_size // 2 if padding is None else padding
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False),
        nn.BatchNorm2d(out_channels),
    )


def conv_bn_relu(
    in_channels: int, out_channels: int, kernel_size: int = 3, padding: int | None = None
) -> nn.Sequential:
    return nn.Sequential(*conv_bn(in_channels, out_channels, kernel_size, padding), nn.ReLU(inplace=True))
