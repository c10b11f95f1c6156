"""Training losses: cross-entropy (class-weighted, label-smoothed, soft targets) and the
joint cross-entropy + island loss of ``vgg16_gcca_pdra``.

``TrainingObjective`` joins a model and its loss into the one module a training step
calls (and ``DistributedDataParallel`` wraps): images and targets in, loss and logits
out. With an island term it runs the model as ``forward_features`` ->
``forward_embedding`` -> ``classifier`` so the loss sees the embedding the classifier
reads (``forward_head(f) == classifier(forward_embedding(f))``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from training.losses.island import IslandLoss

LOSSES = ("cross_entropy", "weighted_cross_entropy")


def class_weights(counts: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """``w_i = N / (C * n_i)`` (DCRNet, Eq. 7): a balanced set gets weight 1 for every class.

    A class without samples gets weight 0 (it never appears as a target anyway).
    """
    counts = torch.as_tensor(counts, dtype=torch.float64)
    if counts.ndim != 1 or len(counts) < 2 or bool((counts < 0).any()) or counts.sum() <= 0:
        raise ValueError(f"class counts must be >= 0 for at least two classes, got {counts.tolist()}")
    weights = counts.sum() / (len(counts) * counts)
    return torch.where(counts > 0, weights, torch.zeros_like(weights)).float()


class ClassificationLoss(nn.Module):
    """Cross-entropy with optional class weights and label smoothing, plus an optional island term.

    Targets are class indices (N,) or distributions (N, K) (FER+ soft labels); the
    island term takes the argmax class of a distribution.
    """

    def __init__(
        self,
        weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        island: IslandLoss | None = None,
        island_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label smoothing must be in [0, 1), got {label_smoothing}")
        if (island is None) != (island_weight == 0.0):
            raise ValueError("an island loss needs a positive island_weight, and the weight a loss")
        self.register_buffer("weights", weights)
        self.label_smoothing = label_smoothing
        self.island = island
        self.island_weight = island_weight

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, embeddings: torch.Tensor | None = None
    ) -> torch.Tensor:
        loss = F.cross_entropy(logits.float(), targets, weight=self.weights,
                               label_smoothing=self.label_smoothing)
        if self.island is not None:
            if embeddings is None:
                raise ValueError("the island loss needs the embeddings the classifier reads")
            labels = targets.argmax(dim=1) if targets.ndim == 2 else targets
            loss = loss + self.island_weight * self.island(embeddings, labels)
        return loss


def build_loss(
    name: str,
    class_counts: Sequence[float],
    label_smoothing: float = 0.0,
    island_weight: float = 0.0,
    embedding_dim: int | None = None,
) -> ClassificationLoss:
    """The loss a recipe names; ``island_weight > 0`` adds the island term (needs ``embedding_dim``)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid: {list(LOSSES)}")
    weights = class_weights(class_counts) if name == "weighted_cross_entropy" else None
    island = None
    if island_weight:
        if embedding_dim is None:
            raise ValueError("the island loss needs a model with forward_embedding and embedding_dim")
        island = IslandLoss(len(class_counts), embedding_dim)
    return ClassificationLoss(weights, label_smoothing, island, island_weight)


class TrainingObjective(nn.Module):
    """``(images, targets) -> (loss, logits)``: the model and its loss as one module."""

    def __init__(self, model: nn.Module, loss: ClassificationLoss) -> None:
        super().__init__()
        if loss.island is not None and not hasattr(model, "forward_embedding"):
            raise ValueError(f"{type(model).__name__} has no forward_embedding for the island loss")
        self.model = model
        self.loss = loss

    def forward(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.loss.island is None:
            logits = self.model(images)
            return self.loss(logits, targets), logits
        embeddings = self.model.forward_embedding(self.model.forward_features(images))
        logits = self.model.classifier(embeddings)
        return self.loss(logits, targets, embeddings), logits


__all__ = ["LOSSES", "ClassificationLoss", "IslandLoss", "TrainingObjective", "build_loss",
           "class_weights"]
