"""Mini-Xception: an unpadded ("valid") stem from the shared conv-BN-ReLU block."""

import torch
from torch import nn

from training.models import build_model
from training.models.layers.conv_bn import conv_bn_relu


def test_the_shared_block_pads_to_same_unless_told_otherwise():
    assert conv_bn_relu(1, 8)[0].padding == (1, 1)
    assert conv_bn_relu(1, 8, 5)[0].padding == (2, 2)
    assert conv_bn_relu(1, 8, 3, padding=0)[0].padding == (0, 0)


def test_the_stem_is_unpadded_and_keeps_the_checkpoint_keys():
    model = build_model("mini_xception").eval()
    with torch.no_grad():
        assert model.stem(torch.zeros(1, 1, 48, 48)).shape == (1, 8, 44, 44)  # two 3x3 "valid" convs
        assert model.forward_features(torch.zeros(1, 1, 48, 48)).shape == (1, 128, 3, 3)
    stem_keys = [key for key in model.state_dict() if key.startswith("stem.")]
    # Keys of checkpoints written before the stem used the shared block: they must still load.
    assert stem_keys == [f"stem.{conv}.{part}" for conv in (0, 1) for part in (
        "0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked")]
    assert [type(layer) for layer in model.stem[0]] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
