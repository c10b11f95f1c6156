"""SimAM (Yang, Zhang, Li and Xie, "SimAM: A Simple, Parameter-Free Attention Module for
Convolutional Neural Networks", ICML 2021, PMLR 139; no DOI or arXiv id): the improved
MobileNetV3's attention.

Every neuron ``t`` of a channel gets the minimal energy of separating it from the other
neurons of that channel (Jiang et al. eq. 6, SimAM eq. 5)::

    e_t* = 4 (var + lambda) / ((t - mean)^2 + 2 var + 2 lambda)

with the mean and variance of the channel's ``M = H x W`` neurons; a neuron that stands
out has low energy and high importance ``1 / e_t*``. The output is
``sigmoid(1 / E) * X``: a full 3-D (channel and spatial) weight with no parameters.

The variance divides by ``M`` as the papers' equation does; SimAM's reference code
divides by ``M - 1``, which differs by a factor close to one at usual sizes and is
undefined on a 1x1 map, where this form gives every neuron the neutral weight
``sigmoid(1/2)``.
"""

from __future__ import annotations

import torch
from torch import nn


class SimAM(nn.Module):
    def __init__(self, regularisation: float = 1e-4) -> None:
        super().__init__()
        if regularisation <= 0:
            raise ValueError(f"regularisation (lambda) must be positive, got {regularisation}")
        self.regularisation = regularisation

    def inverse_energy(self, x: torch.Tensor) -> torch.Tensor:
        """``1 / e_t*`` for every neuron, rewritten as ``(t - mean)^2 / (4 (var + lambda)) + 1/2``."""
        squared_deviation = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
        variance = squared_deviation.mean(dim=(2, 3), keepdim=True)
        return squared_deviation / (4 * (variance + self.regularisation)) + 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.inverse_energy(x))

    def extra_repr(self) -> str:
        return f"regularisation={self.regularisation}"
