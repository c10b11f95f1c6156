"""An exponential moving average of a model's weights (Polyak & Juditsky 1992; as timm's
``ModelEmaV2``): validated, selected and exported in place of the raw weights.

The average of the last few thousand steps sits nearer the centre of the basin the
optimiser wanders in than any single step does, which on a noisy, label-noisy set like
FER2013 is worth accuracy for nothing but a copy of the weights. The decay warms up
(``min(decay, (1 + t) / (10 + t))``), so the average does not drag the random
initialisation along through a short run. Batch-norm statistics are copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval()
        for module in self.model.modules():  # training hooks (an auxiliary tap) stay on the original
            module._forward_hooks.clear()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for average, current in zip(self.model.parameters(), model.parameters()):
            average.lerp_(current.detach(), 1 - decay)
        for average, current in zip(self.model.buffers(), model.buffers()):
            average.copy_(current)

    def state_dict(self) -> dict:
        return {"updates": self.updates,
                "weights": {name: tensor.contiguous() for name, tensor in self.model.state_dict().items()}}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        self.model.load_state_dict(state["weights"])
