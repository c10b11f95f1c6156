"""GAM: a per-position channel MLP gate, then a 7x7 convolutional spatial gate, no residual."""

import pytest
import torch
from torch import nn

from training.models.layers.gam import GAM


@pytest.fixture
def gam() -> GAM:
    torch.manual_seed(0)
    return GAM(16).eval()


def test_output_is_the_two_gates_applied_in_turn_with_no_residual(gam):
    x = torch.randn(2, 16, 6, 5)
    with torch.no_grad():
        channel_gated = gam.channel_attention(x) * x
        expected = gam.spatial_attention(channel_gated) * channel_gated
        torch.testing.assert_close(gam(x), expected)
        assert gam(torch.zeros(1, 16, 4, 4)).abs().max() == 0  # gates only: zero in, zero out


def test_gates_are_full_size_and_in_the_unit_interval(gam):
    x = torch.randn(2, 16, 6, 5)
    with torch.no_grad():
        for gate in (gam.channel_attention(x), gam.spatial_attention(x)):
            assert gate.shape == x.shape
            assert 0 < gate.min() and gate.max() < 1


def test_channel_attention_is_an_mlp_per_position_that_pools_nothing(gam):
    """Changing one position's channel vector changes the channel gate there and only there."""
    x = torch.randn(1, 16, 5, 5)
    changed = x.clone()
    changed[0, :, 2, 3] = torch.randn(16)
    with torch.no_grad():
        before, after = gam.channel_attention(x), gam.channel_attention(changed)
    differs = (before - after).abs().amax(dim=1)[0] > 0
    assert differs[2, 3] and differs.sum() == 1
    hidden, output = gam.channel_attention.mlp[0], gam.channel_attention.mlp[2]
    assert (hidden.in_features, hidden.out_features, output.out_features) == (16, 4, 16)


def test_spatial_attention_is_two_7x7_convolutions_with_a_c_over_r_bottleneck(gam):
    convolutions = [m for m in gam.spatial_attention.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convolutions] == [
        (16, 4, (7, 7)),
        (4, 16, (7, 7)),
    ]
    x = torch.randn(1, 16, 9, 9)
    changed = x.clone()
    changed[0, :, 0, 0] += 10
    with torch.no_grad():
        differs = (gam.spatial_attention(x) - gam.spatial_attention(changed)).abs().amax(dim=1)[0] > 0
    assert differs[6, 6] and not differs[7, 7]  # two 7x7 convolutions reach 6 pixels away


def test_rejects_nonsense_sizes():
    with pytest.raises(ValueError, match="positive"):
        GAM(0)
