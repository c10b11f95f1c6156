"""CBAM, GCCA, reverse attention and the partial decoder: each block's defining property."""

import pytest
import torch
import torch.nn.functional as F

from training.models.layers.cbam import CBAM
from training.models.layers.gcca import GCCA, stochastic_pool
from training.models.layers.partial_decoder import PartialDecoder
from training.models.layers.reverse_attention import ReverseAttention, reverse_attention_weight


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# --- CBAM ------------------------------------------------------------------------------


def test_cbam_gates_channels_then_space_and_keeps_the_shape():
    cbam = CBAM(32).eval()
    features = torch.randn(2, 32, 6, 5)
    with torch.no_grad():
        channel_gate = cbam.channel_attention(features)
        after_channels = features * channel_gate
        spatial_gate = cbam.spatial_attention(after_channels)
        output = cbam(features)
    assert channel_gate.shape == (2, 32, 1, 1) and spatial_gate.shape == (2, 1, 6, 5)
    for gate in (channel_gate, spatial_gate):
        assert gate.min() > 0 and gate.max() < 1
    torch.testing.assert_close(output, after_channels * spatial_gate)
    spatial_first = features * cbam.spatial_attention(features)
    assert not torch.allclose(output, spatial_first * cbam.channel_attention(spatial_first))


def test_cbam_gates_follow_the_papers_formulas():
    cbam = CBAM(32, reduction=16).eval()
    features = torch.randn(2, 32, 4, 4)
    mlp = cbam.channel_attention.mlp
    assert mlp[0].out_channels == 2  # C / 16
    with torch.no_grad():
        expected_channel = torch.sigmoid(
            mlp(features.mean((2, 3), keepdim=True)) + mlp(features.amax((2, 3), keepdim=True))
        )
        conv = cbam.spatial_attention.conv
        pooled = torch.cat([features.mean(1, keepdim=True), features.amax(1, keepdim=True)], 1)
        expected_spatial = torch.sigmoid(F.conv2d(pooled, conv.weight, conv.bias, padding=3))
        torch.testing.assert_close(cbam.channel_attention(features), expected_channel)
        torch.testing.assert_close(cbam.spatial_attention(features), expected_spatial)
    assert conv.kernel_size == (7, 7)


# --- GCCA ------------------------------------------------------------------------------

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


# --- reverse attention -------------------------------------------------------------------


def test_reverse_attention_weight_is_one_minus_sigmoid_of_the_upsampled_map():
    features = torch.randn(2, 4, 6, 6)
    same_size = torch.randn(2, 1, 6, 6)
    torch.testing.assert_close(reverse_attention_weight(same_size, features), 1 - torch.sigmoid(same_size))
    constant = torch.full((2, 1, 3, 3), 0.7)  # upsampling a constant map keeps it constant
    expected = torch.full((2, 1, 6, 6), 1 - torch.sigmoid(torch.tensor(0.7)))
    torch.testing.assert_close(reverse_attention_weight(constant, features), expected)
    coarse = torch.randn(2, 1, 3, 3)
    upsampled = F.interpolate(coarse, size=(6, 6), mode="bilinear", align_corners=False)
    torch.testing.assert_close(reverse_attention_weight(coarse, features), 1 - torch.sigmoid(upsampled))


def test_reverse_attention_erases_the_predicted_region_and_refines_the_map():
    module = ReverseAttention(4).eval()
    features = torch.randn(1, 4, 6, 6)
    deeper = torch.zeros(1, 1, 3, 3)
    deeper[..., 0, 0] = 20.0  # confidently predicted corner
    deeper[..., 2, 2] = -20.0  # confidently not predicted
    with torch.no_grad():
        refined, side_map = module(features, deeper)
        upsampled = F.interpolate(deeper, size=(6, 6), mode="bilinear", align_corners=False)
        torch.testing.assert_close(refined, features * (1 - torch.sigmoid(upsampled)))
        torch.testing.assert_close(side_map, module.side_output(refined) + upsampled)
    assert refined[..., 0, 0].abs().max() < 1e-6  # erased
    torch.testing.assert_close(refined[..., 5, 5], features[..., 5, 5], atol=1e-6, rtol=0)  # kept
    assert side_map.shape == (1, 1, 6, 6)


# --- partial decoder -------------------------------------------------------------------


def test_partial_decoder_decodes_blocks_3_to_5_into_one_map_at_block_3_resolution():
    decoder = PartialDecoder((16, 24, 24), channels=8)
    block3 = torch.randn(2, 16, 12, 12, requires_grad=True)
    block4 = torch.randn(2, 24, 6, 6, requires_grad=True)
    block5 = torch.randn(2, 24, 3, 3, requires_grad=True)
    global_map = decoder(block3, block4, block5)
    assert global_map.shape == (2, 1, 12, 12)
    global_map.square().sum().backward()
    for block in (block3, block4, block5):
        assert block.grad.abs().sum() > 0  # every high-level block shapes the map


def test_partial_decoder_takes_exactly_three_blocks():
    with pytest.raises(ValueError, match="blocks 3, 4 and 5"):
        PartialDecoder((64, 128, 256, 512))
