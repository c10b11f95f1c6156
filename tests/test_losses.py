"""Class weights, (weighted, smoothed, soft) cross-entropy, and the joint island loss."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from training.losses import ClassificationLoss, TrainingObjective, build_loss, class_weights
from training.losses.island import IslandLoss
from training.models import build_model


def test_class_weights_are_n_over_c_times_n_i():
    counts = [3995, 436, 4097, 7215, 4830, 3171, 4965]  # FER2013 train
    total, classes = sum(counts), len(counts)
    expected = torch.tensor([total / (classes * count) for count in counts])
    torch.testing.assert_close(class_weights(counts), expected)
    torch.testing.assert_close(class_weights([5, 5, 5]), torch.ones(3))
    torch.testing.assert_close(class_weights([4, 0, 4]), torch.tensor([8 / 12, 0.0, 8 / 12]))
    with pytest.raises(ValueError, match="class counts"):
        class_weights([3, -1])


def test_weighted_cross_entropy_matches_its_definition():
    torch.manual_seed(0)
    logits, targets = torch.randn(16, 4), torch.randint(0, 4, (16,))
    counts = [10, 2, 5, 3]
    loss = build_loss("weighted_cross_entropy", counts)(logits, targets)
    weights = class_weights(counts)[targets]
    negative_log = -F.log_softmax(logits, dim=1).gather(1, targets[:, None])[:, 0]
    torch.testing.assert_close(loss, (weights * negative_log).sum() / weights.sum())
    torch.testing.assert_close(build_loss("cross_entropy", counts)(logits, targets), negative_log.mean())


def test_label_smoothing_and_soft_targets():
    torch.manual_seed(1)
    logits, targets = torch.randn(8, 5), torch.randint(0, 5, (8,))
    smoothing = 0.1
    smoothed = F.one_hot(targets, 5).float() * (1 - smoothing) + smoothing / 5
    expected = -(smoothed * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(build_loss("cross_entropy", [1] * 5, smoothing)(logits, targets), expected)
    distribution = torch.softmax(torch.randn(8, 5), dim=1)
    expected_soft = -(distribution * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(build_loss("cross_entropy", [1] * 5)(logits, distribution), expected_soft)
    with pytest.raises(ValueError, match="label smoothing"):
        ClassificationLoss(label_smoothing=1.0)


class EmbeddingNet(nn.Module):
    """The interface vgg16_gcca_pdra offers the joint loss."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Linear(6, 4)
        self.embedding_dim = 3
        self.embed = nn.Linear(4, 3)
        self.classifier = nn.Linear(3, 5)

    def forward_features(self, images):
        return self.features(images)

    def forward_embedding(self, features):
        return self.embed(features)

    def forward(self, images):
        return self.classifier(self.forward_embedding(self.forward_features(images)))


def test_joint_loss_is_cross_entropy_plus_island_on_the_classifier_input():
    torch.manual_seed(2)
    model, images, targets = EmbeddingNet(), torch.randn(10, 6), torch.randint(0, 5, (10,))
    loss = build_loss("cross_entropy", [2] * 5, island_weight=0.005, embedding_dim=3)
    assert isinstance(loss.island, IslandLoss) and loss.island.pairwise_weight == 7.0
    loss.island.centers.normal_()
    objective = TrainingObjective(model, loss).eval()
    value, logits = objective(images, targets)
    embeddings = model.forward_embedding(model.forward_features(images))
    torch.testing.assert_close(logits, model(images))
    expected = F.cross_entropy(logits, targets) + 0.005 * loss.island(embeddings, targets)
    torch.testing.assert_close(value, expected)


def test_island_loss_trains_vgg16_gcca_pdra():
    torch.manual_seed(3)
    model = build_model("vgg16_gcca_pdra", num_classes=7)
    objective = TrainingObjective(model, build_loss("cross_entropy", [1] * 7, island_weight=0.005,
                                                    embedding_dim=model.embedding_dim)).train()
    optimiser = torch.optim.SGD(objective.parameters(), lr=0.01)
    before = objective.loss.island.centers.clone()
    loss, logits = objective(torch.randn(4, 1, 48, 48), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    optimiser.step()
    assert logits.shape == (4, 7) and torch.isfinite(loss)
    assert not torch.equal(objective.loss.island.centers, before)  # the centres follow their rule


def test_loss_configuration_errors_are_clear():
    with pytest.raises(ValueError, match="valid"):
        build_loss("focal", [1, 1])
    with pytest.raises(ValueError, match="forward_embedding"):
        build_loss("cross_entropy", [1, 1], island_weight=0.005)
    with pytest.raises(ValueError, match="forward_embedding"):
        TrainingObjective(nn.Linear(2, 2), build_loss("cross_entropy", [1, 1], island_weight=0.005,
                                                      embedding_dim=2))
