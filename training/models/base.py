"""The interface every architecture implements."""

from __future__ import annotations

import torch
from torch import nn


class EmotionModel(nn.Module):
    """A classifier split into a feature extractor and a head.

    ``forward`` returns logits (no softmax: the loss and the app apply it), so the same
    module trains with cross-entropy and exports to ONNX with a ``logits`` output.
    Subclasses implement ``forward_features`` (image -> whatever the head consumes) and
    ``forward_head`` (that -> logits).
    """

    def forward_features(self, images: torch.Tensor):
        raise NotImplementedError

    def forward_head(self, features) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(images))
