"""Partial decoder (Wu, Su and Huang, "Cascaded Partial Decoder for Fast and Accurate
Salient Object Detection", CVPR 2019, DOI 10.1109/CVPR.2019.00403; as used by Chen and
Chen, JIPS 2024, DOI 10.3745/JIPS.01.0107, Sec. 2.4).

Only the three high-level blocks are decoded, ``P_d = pd(C_3, C_4, C_5)``: the shallow,
high-resolution blocks are dropped because they cost much and add little. Each input is
first reduced to ``channels`` (32 in CPD); CPD does this with its receptive-field
blocks, which the FER paper never mentions, so a 1x1 convolution + BN + ReLU stands in.
Then CPD's aggregation: deeper features are upsampled and multiplied into shallower
ones (so a location survives only where every level agrees), the products are
concatenated with upsampled deeper aggregates, and a 3x3 and a 1x1 convolution give a
one-channel global map at block 3's resolution. CPD's aggregation convolutions are
convolution + BN without ReLU; kept so.
"""

from __future__ import annotations

import torch
from torch import nn

from training.models.layers.conv_bn import conv_bn, conv_bn_relu
from training.models.layers.reverse_attention import upsample_to


class PartialDecoder(nn.Module):
    """``(C_3, C_4, C_5) -> P_d``, a (N, 1, H_3, W_3) map."""

    def __init__(self, in_channels: tuple[int, int, int], channels: int = 32) -> None:
        super().__init__()
        if len(in_channels) != 3:
            raise ValueError(f"the partial decoder takes blocks 3, 4 and 5; got {in_channels}")
        self.reduce = nn.ModuleList(conv_bn_relu(width, channels, 1) for width in in_channels)
        self.block5_to_block4 = conv_bn(channels, channels)
        self.block5_to_block3 = conv_bn(channels, channels)
        self.block4_to_block3 = conv_bn(channels, channels)
        self.block5_to_concat4 = conv_bn(channels, channels)
        self.concat4_to_concat3 = conv_bn(2 * channels, 2 * channels)
        self.fuse4 = conv_bn(2 * channels, 2 * channels)
        self.fuse3 = conv_bn(3 * channels, 3 * channels)
        self.head = nn.Sequential(conv_bn(3 * channels, 3 * channels), nn.Conv2d(3 * channels, 1, 1))

    def forward(self, block3: torch.Tensor, block4: torch.Tensor, block5: torch.Tensor) -> torch.Tensor:
        block3, block4, block5 = (reduce(x) for reduce, x in zip(self.reduce, (block3, block4, block5)))
        agreed4 = self.block5_to_block4(upsample_to(block5, block4)) * block4
        agreed3 = (
            self.block5_to_block3(upsample_to(block5, block3))
            * self.block4_to_block3(upsample_to(block4, block3))
            * block3
        )
        concat4 = self.fuse4(torch.cat([agreed4, self.block5_to_concat4(upsample_to(block5, block4))], 1))
        concat3 = self.fuse3(torch.cat([agreed3, self.concat4_to_concat3(upsample_to(concat4, block3))], 1))
        return self.head(concat3)
