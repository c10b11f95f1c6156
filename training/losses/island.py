"""Island loss (Cai et al., "Island Loss for Learning Discriminative Features in Facial
Expression Recognition", FG 2018; the joint loss of Chen & Chen 2024, Sec. 2.6).

    L_IL = L_C + lambda1 * sum_j sum_{k != j} (cos(c_k, c_j) + 1)

``L_C`` is the centre loss (Wen et al. 2016), ``1/2 ||x_i - c_{y_i}||^2``, here averaged
over the batch rather than summed so that the joint weight (lambda = 0.005 in the FER
paper) does not depend on the batch size. The pairwise term pushes the class centres
apart in angle; ``+ 1`` keeps it non-negative. The FER paper's Eq. 6 omits ``k != j``;
the diagonal only adds the constant ``2K``, so Cai et al.'s form is used.

The centres are not learnt by the optimiser. As both papers prescribe, they follow an
update rule of their own after each training batch (``alpha`` = 0.5 as in Wen et al.):

    c_j <- c_j - alpha * ( sum_{i: y_i = j} (c_j - x_i) / (1 + n_j)
                         + lambda1 / (K - 1) * sum_{k != j} d cos(c_k, c_j) / d c_j )

with ``d cos / d c_j = c_k / (|c_k||c_j|) - (c_k . c_j) c_j / (|c_k| |c_j|^3)``. So the
network receives gradients from the centre term only; the pairwise term moves centres.
The cosine is undefined at a zero centre (all centres start at zero): its value is then
taken as 0 and that centre gets no pairwise move until the centre term has moved it.
Under ``torch.distributed`` the per-class sums are all-reduced so every rank applies the
same update and the centres stay identical.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

_EPS = 1e-8


class IslandLoss(nn.Module):
    """``island_loss(embeddings (N, D), labels (N,)) -> scalar``; updates centres in training."""

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        pairwise_weight: float = 7.0,
        center_rate: float = 0.5,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"island loss needs at least 2 classes, got {num_classes}")
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be positive, got {embedding_dim}")
        if pairwise_weight < 0:
            raise ValueError(f"pairwise_weight must be >= 0, got {pairwise_weight}")
        if not 0 < center_rate <= 1:
            raise ValueError(f"center_rate (alpha) must be in (0, 1], got {center_rate}")
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.pairwise_weight = pairwise_weight
        self.center_rate = center_rate
        self.register_buffer("centers", torch.zeros(num_classes, embedding_dim))

    def center_loss(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``L_C``: half the squared distance to the own class centre, batch mean."""
        return 0.5 * (embeddings - self.centers[labels]).square().sum(dim=1).mean()

    def pairwise_term(self) -> torch.Tensor:
        """``sum_j sum_{k != j} (cos(c_k, c_j) + 1)``; 0 for a zero centre's cosines."""
        cosines = _cosine_matrix(self.centers)
        off_diagonal = ~torch.eye(self.num_classes, dtype=torch.bool, device=cosines.device)
        return (cosines[off_diagonal] + 1).sum()

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self._check(embeddings, labels)
        embeddings = embeddings.float()  # centres and distances in float32 under autocast
        loss = self.center_loss(embeddings, labels) + self.pairwise_weight * self.pairwise_term()
        if self.training:
            self._update_centers(embeddings.detach(), labels)
        return loss

    @torch.no_grad()
    def _update_centers(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        counts = torch.zeros(self.num_classes, device=embeddings.device)
        counts.index_add_(0, labels, torch.ones_like(labels, dtype=counts.dtype))
        sums = torch.zeros_like(self.centers).index_add_(0, labels, embeddings)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        counts = counts.unsqueeze(1)
        center_step = (counts * self.centers - sums) / (1 + counts)
        step = center_step + self.pairwise_weight / (self.num_classes - 1) * self._cosine_gradient()
        self.centers.sub_(self.center_rate * step)

    def _cosine_gradient(self) -> torch.Tensor:
        """Row j: ``sum_{k != j} d cos(c_k, c_j) / d c_j``; zero for a zero centre."""
        norms = self.centers.norm(dim=1, keepdim=True)
        units = self.centers / norms.clamp_min(_EPS)
        cosines = units @ units.T
        cosines.fill_diagonal_(0)
        others = units.sum(dim=0, keepdim=True) - units
        gradient = (others - cosines.sum(dim=1, keepdim=True) * units) / norms.clamp_min(_EPS)
        return torch.where(norms > _EPS, gradient, torch.zeros_like(gradient))

    def _check(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"embeddings must be (N, {self.embedding_dim}), got {tuple(embeddings.shape)}"
            )
        if labels.shape != embeddings.shape[:1]:
            raise ValueError(f"labels must be ({embeddings.shape[0]},), got {tuple(labels.shape)}")
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must be class indices in [0, {self.num_classes})")


def _cosine_matrix(vectors: torch.Tensor) -> torch.Tensor:
    units = vectors / vectors.norm(dim=1, keepdim=True).clamp_min(_EPS)
    return units @ units.T
