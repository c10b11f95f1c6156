"""CBAM (Woo et al. 2018): a channel gate, then a spatial gate, as the paper's formulas."""

import pytest
import torch
import torch.nn.functional as F

from training.models.layers.cbam import CBAM


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


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
