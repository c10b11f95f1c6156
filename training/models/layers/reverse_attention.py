"""Reverse attention (Chen, Tan, Wang and Hu, "Reverse Attention for Salient Object
Detection", ECCV 2018, DOI 10.1007/978-3-030-01240-3_15; as used by Chen and Chen,
JIPS 2024, DOI 10.3745/JIPS.01.0107, Sec. 2.5, Eqs. 3-4).

The deeper side-output map says where the network already looks; reverse attention
erases that region from a block's features so the next side output learns what is
missing:

    A_i = 1 - sigmoid(up(map_{i+1}))        (Eq. 4)
    R_i = C_i * A_i                          (Eq. 3)

A small convolution stack turns ``R_i`` into a residual that is added to the resized
deeper map, giving ``map_i`` for the next, shallower block. The stack is the side-output
layout of the RA paper and of PraNet (Fan et al., "PraNet: Parallel Reverse Attention
Network for Polyp Segmentation", MICCAI 2020, arXiv:2006.11392): a 1x1 reduction to 64
channels, a 3x3 convolution, and a 3x3 convolution to one channel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.models.layers.conv_bn import conv_bn_relu


def upsample_to(tensor: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``tensor`` to ``reference``'s height and width (``U`` in Eq. 4).

    Resizes down as well as up: block 5 takes the decoder's map, made at block 3's
    resolution.
    """
    if tensor.shape[-2:] == reference.shape[-2:]:
        return tensor
    return F.interpolate(tensor, size=reference.shape[-2:], mode="bilinear", align_corners=False)


def reverse_attention_weight(deeper_map: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """``A_i = 1 - sigmoid(up(map_{i+1}))`` at the features' resolution, (N, 1, H, W)."""
    return 1 - torch.sigmoid(upsample_to(deeper_map, features))


class ReverseAttention(nn.Module):
    """One reverse-attention side output: ``(C_i, map_{i+1}) -> (R_i, map_i)``."""

    def __init__(self, in_channels: int, hidden_channels: int = 64) -> None:
        super().__init__()
        self.side_output = nn.Sequential(
            *conv_bn_relu(in_channels, hidden_channels, 1),
            *conv_bn_relu(hidden_channels, hidden_channels, 3),
            nn.Conv2d(hidden_channels, 1, 3, padding=1),
        )

    def forward(
        self, features: torch.Tensor, deeper_map: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        refined = features * reverse_attention_weight(deeper_map, features)
        return refined, self.side_output(refined) + upsample_to(deeper_map, features)
