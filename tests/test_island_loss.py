"""Island loss: centre loss + lambda1 x pairwise centre cosines, centres updated by rule."""

import pytest
import torch

from training.losses.island import IslandLoss


def loss_with_centers(centers: torch.Tensor, pairwise_weight: float = 7.0) -> IslandLoss:
    loss = IslandLoss(centers.shape[0], centers.shape[1], pairwise_weight=pairwise_weight)
    loss.centers.copy_(centers)
    return loss.eval()


def test_equals_the_centre_loss_when_the_pairwise_weight_is_zero():
    centers = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    embeddings = torch.tensor([[2.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    labels = torch.tensor([0, 1, 2, 1])
    # squared distances: 1, 4, 8, 0 -> half their mean
    expected = 0.5 * (1 + 4 + 8 + 0) / 4
    loss = loss_with_centers(centers, pairwise_weight=0.0)
    torch.testing.assert_close(loss(embeddings, labels), torch.tensor(expected))
    torch.testing.assert_close(loss.center_loss(embeddings, labels), torch.tensor(expected))


def test_grows_when_class_centres_align():
    embeddings, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    orthogonal = loss_with_centers(torch.eye(3))
    aligned = loss_with_centers(torch.tensor([[1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0]]))
    opposed = loss_with_centers(torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0]]))
    # sum over the 6 ordered pairs of (cos + 1): orthogonal 6 x 1, aligned 6 x 2.
    torch.testing.assert_close(orthogonal.pairwise_term(), torch.tensor(6.0))
    torch.testing.assert_close(aligned.pairwise_term(), torch.tensor(12.0))
    assert opposed.pairwise_term() < orthogonal.pairwise_term() < aligned.pairwise_term()
    # what the loss adds to the centre loss is lambda1 (7) times the pairwise term
    difference = aligned(embeddings, labels) - aligned.center_loss(embeddings, labels)
    torch.testing.assert_close(difference, torch.tensor(7.0 * 12.0))


@pytest.mark.parametrize(
    "centers",
    [torch.zeros(3, 4), torch.ones(3, 4), torch.tensor([[0.0] * 4, [1.0] * 4, [1.0] * 4])],
    ids=["all zero", "all coincident", "zero and coincident"],
)
def test_zero_and_coincident_centres_give_finite_loss_gradients_and_updates(centers):
    loss = loss_with_centers(centers).train()
    embeddings = torch.zeros(6, 4, requires_grad=True)
    value = loss(embeddings, torch.tensor([0, 1, 2, 0, 1, 2]))
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(embeddings.grad).all()
    assert torch.isfinite(loss.centers).all()


def test_gradients_reach_the_embeddings_as_the_centre_loss_says():
    centers = torch.randn(4, 5)
    loss = loss_with_centers(centers)
    embeddings = torch.randn(8, 5, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    loss(embeddings, labels).backward()
    torch.testing.assert_close(embeddings.grad, (embeddings - centers[labels]).detach() / 8)


def test_centres_follow_the_update_rule_in_training_only():
    centers = torch.tensor([[0.0, 0.0], [4.0, 4.0]])
    embeddings = torch.tensor([[2.0, 0.0], [0.0, 2.0], [4.0, 4.0]])
    labels = torch.tensor([0, 0, 1])
    loss = loss_with_centers(centers, pairwise_weight=0.0)
    loss(embeddings, labels)
    torch.testing.assert_close(loss.centers, centers)  # eval: no update
    loss.train()(embeddings, labels)
    # class 0: delta = ((0 - 2) + (0 - 0), (0 - 0) + (0 - 2)) / (1 + 2); c <- c - 0.5 delta
    torch.testing.assert_close(loss.centers[0], torch.tensor([1 / 3, 1 / 3]))
    torch.testing.assert_close(loss.centers[1], torch.tensor([4.0, 4.0]))  # already at its sample


def test_the_pairwise_update_pushes_aligned_centres_apart():
    centers = torch.tensor([[1.0, 0.1], [1.0, -0.1], [1.0, 0.0]])
    loss = loss_with_centers(centers).train()
    before = loss.pairwise_term()
    loss(centers.clone(), torch.tensor([0, 1, 2]))  # samples on their centres: only the pairwise push
    assert loss.pairwise_term() < before


def test_accepts_bf16_embeddings_and_returns_float32():
    loss = IslandLoss(3, 4).train()
    value = loss(torch.randn(5, 4, dtype=torch.bfloat16), torch.tensor([0, 1, 2, 0, 1]))
    assert value.dtype == torch.float32 and loss.centers.dtype == torch.float32


def test_bad_input_is_named():
    loss = IslandLoss(3, 4)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        loss(torch.randn(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        loss(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="labels must be"):
        loss(torch.randn(2, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        IslandLoss(1, 4)
    assert list(IslandLoss(3, 4).parameters()) == []  # centres move by rule, not by optimiser
