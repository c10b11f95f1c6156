"""GCCA: average, max and stochastic-pool descriptors fused per channel into a residual gate."""

import pytest
import torch

from training.models.layers.gcca import GCCA, stochastic_pool


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# Channel 0 holds activations 1 and 3 (p = 1/4, 3/4); channel 1 a negative and a 2;
# channel 2 is zero everywhere.
TINY = torch.tensor([[[[1.0, 0.0], [3.0, 0.0]], [[-2.0, 0.0], [2.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]])


def test_stochastic_pooling_in_eval_is_the_probability_weighted_average():
    pooled = stochastic_pool(TINY, sample=False).flatten()
    # 1 * 1/4 + 3 * 3/4 = 2.5; negatives count as zero: 2 * 1 = 2; an all-zero channel pools to 0.
    torch.testing.assert_close(pooled, torch.tensor([2.5, 2.0, 0.0]))


def test_stochastic_pooling_in_training_samples_activations_by_their_probability():
    draws = stochastic_pool(TINY.expand(4000, -1, -1, -1), sample=True).flatten(1)
    channel0 = draws[:, 0]
    assert set(channel0.unique().tolist()) == {1.0, 3.0}  # never a zero-probability location
    assert abs((channel0 == 3).float().mean().item() - 0.75) < 0.03
    assert (draws[:, 1] == 2).all() and (draws[:, 2] == 0).all()


def test_gcca_samples_in_training_and_is_deterministic_in_eval():
    gcca = GCCA(3, reduction=1)
    features = TINY.expand(64, -1, -1, -1)
    gcca.train()
    sampled = gcca.descriptors(features).view(64, 3, 3)[:, 0, 2]  # channel 0's random descriptor
    assert set(sampled.unique().tolist()) == {1.0, 3.0}
    gcca.eval()
    descriptors = gcca.descriptors(TINY).view(3, 3)  # rows: channels; columns: avg, max, rdm
    torch.testing.assert_close(descriptors[0], torch.tensor([1.0, 3.0, 2.5]))
    torch.testing.assert_close(gcca(TINY), gcca(TINY))


def test_gcca_output_is_attention_times_input_plus_input():
    gcca = GCCA(32).eval()
    features = torch.rand(2, 32, 5, 5)
    with torch.no_grad():
        weights = gcca.attention(features)
        output = gcca(features)
    assert weights.shape == (2, 32, 1, 1) and weights.min() > 0 and weights.max() < 1
    torch.testing.assert_close(output, weights * features + features)
    assert gcca.excitation[1].out_channels == 2  # the C / 16 bottleneck


def test_gcca_group_convolution_fuses_exactly_the_three_descriptors_of_each_channel():
    gcca = GCCA(8)
    assert gcca.fuse.groups == 8 and gcca.fuse.weight.shape == (8, 3, 1, 1)
    descriptors = torch.randn(1, 24, 1, 1)
    changed = descriptors.clone()
    changed[0, 3 * 5 : 3 * 5 + 3] += 1.0  # channel 5's avg, max and random descriptors
    with torch.no_grad():
        difference = (gcca.fuse(changed) - gcca.fuse(descriptors)).flatten()
    assert difference[5] != 0
    assert torch.count_nonzero(difference) == 1
