"""Squeeze-and-excitation (Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018,
DOI 10.1109/CVPR.2018.00745): the channel-only attention two of the papers measure their
modules against, so the ablations can put it back.

``x * gate(W2 ReLU(W1 mean(x)))``: global average pooling squeezes each channel to one
number, a bottleneck MLP (1x1 convolutions with bias) learns channel weights, and a gate
in (0, 1) scales the channels. Two flavours:

- ``hu_se``: Hu et al.'s block, reduction 16 and a sigmoid gate: DCRNet's comparison
  (Abdeldayem et al., "Improving Facial Expression Recognition in real-world
  Environments", DOI 10.19139/soic-2310-5070-3171, Sec. 3: CBAM replaced by SE).
- ``mobilenetv3_se``: MobileNetV3's (Howard et al., "Searching for MobileNetV3", ICCV
  2019, DOI 10.1109/ICCV.2019.00140): a quarter of the channels rounded to a multiple of
  8 and a hard-sigmoid gate; the module SimAM replaces in Jiang et al.'s network.
"""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, hidden: int, gate: nn.Module) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.activation = nn.ReLU(inplace=True)
        self.expand = nn.Conv2d(hidden, channels, 1)
        self.gate = gate

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The channel weights in (0, 1), shape (N, C, 1, 1)."""
        return self.gate(self.expand(self.activation(self.reduce(x.mean(dim=(2, 3), keepdim=True)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


def hu_se(channels: int, reduction: int = 16) -> SqueezeExcitation:
    return SqueezeExcitation(channels, max(channels // reduction, 1), nn.Sigmoid())


def mobilenetv3_se(channels: int, divisor: int = 8) -> SqueezeExcitation:
    """MobileNetV3's ``_make_divisible(channels // 4, 8)``: rounded to the nearest multiple
    of 8, never below 8 nor more than 10 % under the quarter."""
    quarter = channels // 4
    hidden = max(divisor, (quarter + divisor // 2) // divisor * divisor)
    if hidden < 0.9 * quarter:
        hidden += divisor
    return SqueezeExcitation(channels, hidden, nn.Hardsigmoid())
