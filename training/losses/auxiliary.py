"""Auxiliary classifier on an intermediate feature map (Szegedy et al., "Going Deeper with
Convolutions", CVPR 2015, Sec. 5): a training-time aid that the exported model never holds.

Why DCRNet needs one here: its paper starts the DenseNet121 from ImageNet weights, which
cannot be downloaded. From scratch, the deep head on top (two conv stages, six residual
blocks on a 1x1 map, three dense layers with dropout 0.4) passes the backbone no gradient
it can learn from, and the whole network stays at chance (train loss ln 7, one class
predicted) for a full FER2013 epoch, while the same backbone under a linear classifier
learns at once. Pooling the backbone's features into a linear classifier whose loss joins
the main one gives the backbone that short path to the labels, so it learns the features
a pretrained backbone would have brought, and the head learns on top of them.
"""

from __future__ import annotations

import torch
from torch import nn


class AuxiliaryClassifier(nn.Module):
    """Global average pooling then one linear layer: (N, C, H, W) -> logits (N, K)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(features.mean(dim=(2, 3)))


def tapped_channels(model: nn.Module, name: str) -> int:
    """Output channels of ``model``'s submodule ``name``, which an auxiliary classifier reads."""
    try:
        module = model.get_submodule(name)
    except AttributeError:
        children = [child for child, _ in model.named_children()]
        raise ValueError(f"{type(model).__name__} has no submodule {name!r} to attach an "
                         f"auxiliary classifier to; valid: {children}") from None
    channels = getattr(module, "out_channels", None)
    if not isinstance(channels, int):
        raise ValueError(f"{type(model).__name__}.{name} does not say its out_channels")
    return channels
