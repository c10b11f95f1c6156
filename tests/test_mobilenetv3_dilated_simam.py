"""The improved MobileNetV3 as BUILT matches the paper's Table 2 row by row."""

import pytest
import torch
from torch import nn

from training.models import build_model
from training.models.layers.simam import SimAM
from training.models.mobilenetv3_dilated_simam import MobileNetV3DilatedSimAM

# Jiang et al. 2024, Table 2, copied here independently of the model's own table:
# (kernel, exp size, #out, SimAM, NL, s, dilation) per bneck.
PAPER_TABLE_2 = [
    (3, 16, 16, False, "RE", 1, 2),
    (3, 64, 24, False, "RE", 2, 1),
    (3, 72, 24, False, "RE", 1, 2),
    (5, 72, 40, True, "RE", 2, 1),
    (5, 120, 40, True, "RE", 1, 2),
    (5, 120, 40, True, "RE", 1, 2),
    (3, 240, 80, False, "HS", 2, 1),
    (3, 200, 80, False, "HS", 1, 2),
    (3, 184, 80, False, "HS", 1, 2),
    (3, 184, 80, False, "HS", 1, 2),
    (3, 480, 112, True, "HS", 1, 2),
    (3, 672, 112, True, "HS", 1, 2),
    (5, 672, 160, True, "HS", 1, 2),
    (5, 960, 160, True, "HS", 2, 1),
    (5, 960, 160, True, "HS", 1, 2),
]
ACTIVATION = {"RE": nn.ReLU, "HS": nn.Hardswish}


@pytest.fixture(scope="module")
def model() -> MobileNetV3DilatedSimAM:
    torch.manual_seed(0)
    return build_model("mobilenetv3_dilated_simam", num_classes=7, in_channels=1)


def activation_of(layer: nn.Sequential) -> type:
    return type(layer[-1])


def test_no_batchnorm_anywhere_and_groupnorm_of_8_groups_after_every_backbone_conv(model):
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    backbone = [model.first_conv, model.blocks, model.last_conv]
    for part in backbone:
        for module in part.modules():
            if isinstance(module, nn.Sequential) and isinstance(module[0], nn.Conv2d):
                assert isinstance(module[1], nn.GroupNorm)
                assert module[1].num_groups == 8
    assert not any(isinstance(m, nn.GroupNorm) for m in model.head.modules())


def test_first_convolution_row(model):
    conv = model.first_conv[0]
    assert (conv.out_channels, conv.kernel_size, conv.stride, conv.dilation) == (16, (3, 3), (2, 2), (2, 2))
    assert activation_of(model.first_conv) is nn.Hardswish


@pytest.mark.parametrize("index", range(len(PAPER_TABLE_2)))
def test_bneck_matches_its_table_row(model, index):
    kernel, expansion, out_channels, simam, activation, stride, dilation = PAPER_TABLE_2[index]
    block = model.blocks[index]
    in_channels = 16 if index == 0 else PAPER_TABLE_2[index - 1][2]

    if expansion == in_channels:
        assert isinstance(block.expand, nn.Identity)
    else:
        assert block.expand[0].out_channels == expansion and block.expand[0].kernel_size == (1, 1)
        assert activation_of(block.expand) is ACTIVATION[activation]
    depthwise = block.depthwise[0]
    assert depthwise.kernel_size == (kernel, kernel)
    assert depthwise.groups == depthwise.in_channels == depthwise.out_channels == expansion
    assert depthwise.stride == (stride, stride) and depthwise.dilation == (1, 1)
    assert activation_of(block.depthwise) is ACTIVATION[activation]
    assert isinstance(block.attention, SimAM) == simam
    assert not any(isinstance(m, SimAM) for m in block.shortcut.modules())
    assert block.project[0].out_channels == out_channels and len(block.project) == 2  # linear

    shortcut = dict(block.shortcut.named_children())
    if dilation > 1:
        dilated = shortcut["dilated"][0]
        assert dilated.dilation == (dilation, dilation) and dilated.kernel_size == (kernel, kernel)
        assert dilated.groups == in_channels
    else:
        assert "dilated" not in shortcut
    if stride > 1:
        assert isinstance(shortcut["pool"], nn.MaxPool2d) and shortcut["pool"].stride == stride
    else:
        assert "pool" not in shortcut
    assert ("projection" in shortcut) == (in_channels != out_channels)


def test_every_block_is_either_dilated_or_downsampling(model):
    """Table 2 marks dilation exactly on the stride-1 rows; no shortcut is a bare identity."""
    assert len(model.blocks) == len(PAPER_TABLE_2)
    for block in model.blocks:
        assert isinstance(block.shortcut, nn.Sequential)


def test_head_rows(model):
    assert model.last_conv[0].out_channels == 960 and model.last_conv[0].kernel_size == (1, 1)
    assert activation_of(model.last_conv) is nn.Hardswish
    convolutions = [m for m in model.head if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convolutions] == [(960, 1280), (1280, 7)]


@pytest.mark.parametrize("size, side", [(224, 7), (48, 2), (37, 2), (64, 2)])
def test_total_stride_is_32_and_odd_sizes_work(model, size, side):
    with torch.no_grad():
        features = model.eval().forward_features(torch.randn(1, 1, size, size))
    assert features.shape == (1, 960, side, side)


def test_a_sample_does_not_depend_on_its_batch_even_in_training(model):
    """GroupNorm's point: unlike BatchNorm, statistics never mix samples."""
    torch.manual_seed(1)
    net = MobileNetV3DilatedSimAM(num_classes=7, in_channels=1, dropout=0.0).train()
    images = torch.randn(4, 1, 48, 48)
    torch.testing.assert_close(net(images)[:1], net(images[:1]), rtol=1e-4, atol=1e-5)
