"""Reverse attention: erase what the deeper map already predicts, refine the rest."""

import pytest
import torch
import torch.nn.functional as F

from training.models.layers.reverse_attention import ReverseAttention, reverse_attention_weight


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


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
