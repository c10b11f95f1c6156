"""Training losses: cross-entropy (class-weighted, label-smoothed, soft targets), the
joint cross-entropy + island loss of ``vgg16_gcca_pdra``, an auxiliary classifier's
cross-entropy on an intermediate feature map (``dcrnet`` from scratch), and distillation
from a teacher's probabilities.

``TrainingObjective`` joins a model and its loss into the one module a training step
calls (and ``DistributedDataParallel`` wraps): images and targets in, loss and logits
out. With an island term it runs the model as ``forward_features`` ->
``forward_embedding`` -> ``classifier`` so the loss sees the embedding the classifier
reads (``forward_head(f) == classifier(forward_embedding(f))``). With an auxiliary
classifier it keeps the output of the submodule that classifier reads (a forward hook),
so the model runs once. Training-only parameters (island centres, the auxiliary
classifier) live in the loss: checkpoints keep them, exports leave them out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from training.losses.auxiliary import AuxiliaryClassifier, tapped_channels
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
        auxiliary: AuxiliaryClassifier | None = None,
        auxiliary_weight: float = 0.0,
        distill_weight: float = 0.0,
        distill_temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= distill_weight <= 1.0 or distill_temperature <= 0:
            raise ValueError(f"distillation weight must be in [0, 1] and temperature > 0, got "
                             f"{distill_weight}, {distill_temperature}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label smoothing must be in [0, 1), got {label_smoothing}")
        if (island is None) != (island_weight == 0.0):
            raise ValueError("an island loss needs a positive island_weight, and the weight a loss")
        if (auxiliary is None) != (auxiliary_weight == 0.0):
            raise ValueError("an auxiliary classifier needs a positive auxiliary_weight, and the "
                             "weight a classifier")
        self.register_buffer("weights", weights)
        self.label_smoothing = label_smoothing
        self.island = island
        self.island_weight = island_weight
        self.auxiliary = auxiliary
        self.auxiliary_weight = auxiliary_weight
        self.distill_weight, self.distill_temperature = distill_weight, distill_temperature

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, embeddings: torch.Tensor | None = None,
        tapped: torch.Tensor | None = None, teacher: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``tapped``: the feature map the auxiliary classifier reads, when there is one;
        ``teacher``: (N, K) teacher probabilities, when distilling."""
        loss = self.cross_entropy(logits, targets)
        if self.distill_weight:
            if teacher is None:
                raise ValueError("distillation needs the teacher's probabilities of the batch")
            loss = ((1 - self.distill_weight) * loss
                    + self.distill_weight * distillation(logits, teacher, self.distill_temperature))
        if self.island is not None:
            if embeddings is None:
                raise ValueError("the island loss needs the embeddings the classifier reads")
            labels = targets.argmax(dim=1) if targets.ndim == 2 else targets
            loss = loss + self.island_weight * self.island(embeddings, labels)
        if self.auxiliary is not None:
            if tapped is None:
                raise ValueError("the auxiliary classifier needs the feature map it reads")
            loss = loss + self.auxiliary_weight * self.cross_entropy(self.auxiliary(tapped), targets)
        return loss

    def cross_entropy(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), targets, weight=self.weights,
                               label_smoothing=self.label_smoothing)


def distillation(logits: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton et al. 2015 ("Distilling the Knowledge in a Neural Network",
    doi:10.48550/arXiv.1503.02531): ``T^2 KL(teacher_T || student_T)``, both softened by the
    temperature; the teacher arrives as probabilities, so it is softened as ``p^(1/T)``
    renormalised, which equals softmax(teacher logits / T). ``T^2`` keeps the gradient's
    scale independent of ``T``."""
    softened = torch.log(teacher.float().clamp_min(1e-8)) / temperature
    teacher_log = softened - torch.logsumexp(softened, dim=1, keepdim=True)
    student_log = F.log_softmax(logits.float() / temperature, dim=1)
    return temperature ** 2 * F.kl_div(student_log, teacher_log, log_target=True, reduction="batchmean")


def build_loss(
    name: str,
    class_counts: Sequence[float],
    label_smoothing: float = 0.0,
    island_weight: float = 0.0,
    embedding_dim: int | None = None,
    auxiliary_weight: float = 0.0,
    auxiliary_channels: int | None = None,
    distill_weight: float = 0.0,
    distill_temperature: float = 1.0,
) -> ClassificationLoss:
    """The loss a recipe names; ``island_weight > 0`` adds the island term (needs
    ``embedding_dim``), ``auxiliary_weight > 0`` an auxiliary classifier's cross-entropy
    (needs the ``auxiliary_channels`` of the feature map it reads)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid: {list(LOSSES)}")
    weights = class_weights(class_counts) if name == "weighted_cross_entropy" else None
    island = None
    if island_weight:
        if embedding_dim is None:
            raise ValueError("the island loss needs a model with forward_embedding and embedding_dim")
        island = IslandLoss(len(class_counts), embedding_dim)
    auxiliary = None
    if auxiliary_weight:
        if auxiliary_channels is None:
            raise ValueError("an auxiliary classifier needs the channels of the map it reads")
        auxiliary = AuxiliaryClassifier(auxiliary_channels, len(class_counts))
    return ClassificationLoss(weights, label_smoothing, island, island_weight,
                              auxiliary, auxiliary_weight, distill_weight, distill_temperature)


class TrainingObjective(nn.Module):
    """``(images, targets) -> (loss, logits)``: the model and its loss as one module."""

    def __init__(self, model: nn.Module, loss: ClassificationLoss,
                 auxiliary_from: str | None = None, feature_extractor: bool = False) -> None:
        super().__init__()
        if loss.island is not None and not hasattr(model, "forward_embedding"):
            raise ValueError(f"{type(model).__name__} has no forward_embedding for the island loss")
        if (loss.auxiliary is None) != (auxiliary_from is None):
            raise ValueError("an auxiliary classifier needs the submodule it reads, and the "
                             "submodule a classifier")
        self.model = model
        self.loss = loss
        self.feature_extractor = feature_extractor
        self._tapped: dict[str, torch.Tensor] = {}  # one slot: evaluation passes overwrite it
        if auxiliary_from is not None:
            tapped_channels(model, auxiliary_from)  # a clear error for a wrong name
            model.get_submodule(auxiliary_from).register_forward_hook(self._tap)

    def _tap(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        """Keep the map for the auxiliary classifier; as a ``feature_extractor`` the rest of
        the model reads it with the gradient stopped, so the tapped submodule learns from
        the auxiliary classifier alone (a backbone used as a fixed feature extractor, as
        transfer learning uses a pretrained one, except that this one keeps learning)."""
        self._tapped["map"] = output
        return output.detach() if self.feature_extractor else output

    def forward(self, images: torch.Tensor, targets: torch.Tensor,
                teacher: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = None
        if self.loss.island is None:
            logits = self.model(images)
        else:
            embeddings = self.model.forward_embedding(self.model.forward_features(images))
            logits = self.model.classifier(embeddings)
        tapped = self._tapped.pop("map", None)
        return self.loss(logits, targets, embeddings, tapped, teacher), logits


__all__ = ["LOSSES", "AuxiliaryClassifier", "ClassificationLoss", "IslandLoss",
           "TrainingObjective", "build_loss", "class_weights", "distillation", "tapped_channels"]
