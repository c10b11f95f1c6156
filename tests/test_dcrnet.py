"""DCRNet: DenseNet121 features and the head exactly as DESIGN.md lists it."""

import pytest
import torch
from torch import nn

from training.model_table import count_parameters
from training.models import build_model
from training.models.backbones.densenet121 import DenseBlock, DenseNet121Features, Transition
from training.models.dcrnet import DCRNet, ResidualBlock
from training.models.layers.cbam import CBAM


def signature(module: nn.Module) -> tuple:
    """What a layer is, in the words of DESIGN.md's list."""
    if isinstance(module, nn.Conv2d):
        return ("conv", module.out_channels, module.kernel_size)
    if isinstance(module, nn.Linear):
        return ("dense", module.out_features)
    if isinstance(module, nn.Dropout):
        return ("dropout", module.p)
    if isinstance(module, CBAM):
        return ("cbam", module.channel_attention.mlp[0].in_channels)
    if isinstance(module, ResidualBlock):
        return ("residual block", module.residual[0].out_channels)
    names = {nn.BatchNorm2d: "bn", nn.ReLU: "relu", nn.MaxPool2d: "maxpool", nn.AdaptiveAvgPool2d: "gap"}
    return (names[type(module)],)


def test_head_follows_the_design_list():
    model = DCRNet(num_classes=7, in_channels=1)
    layers = [
        *model.conv_stages[0], *model.conv_stages[1], *model.residual_modules[0],
        *model.residual_modules[1], model.attention, model.pool, *model.dense, model.classifier,
    ]
    assert [signature(layer) for layer in layers] == [
        ("conv", 256, (3, 3)), ("bn",), ("relu",), ("dropout", 0.3), ("cbam", 256),
        ("conv", 512, (3, 3)), ("bn",), ("relu",), ("maxpool",), ("dropout", 0.4), ("cbam", 512),
        *[("residual block", 32)] * 3,
        *[("residual block", 64)] * 3,
        ("cbam", 64), ("gap",),
        ("dense", 512), ("relu",), ("dropout", 0.4),
        ("dense", 256), ("relu",), ("dropout", 0.4),
        ("dense", 128), ("relu",), ("dropout", 0.4),
        ("dense", 7),
    ]


def test_residual_blocks_add_their_input_and_project_only_when_the_width_changes():
    model = DCRNet()
    blocks = [*model.residual_modules[0], *model.residual_modules[1]]
    projected = [not isinstance(block.shortcut, nn.Identity) for block in blocks]
    assert projected == [True, False, False, True, False, False]
    block = blocks[1].eval()
    features = torch.randn(2, 32, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(block(features), torch.relu(block.residual(features) + features))


def test_densenet121_is_the_papers_layout():
    backbone = DenseNet121Features(in_channels=3, stem="imagenet")
    blocks = [module for module in backbone if isinstance(module, DenseBlock)]
    transitions = [module for module in backbone if isinstance(module, Transition)]
    assert [len(block) for block in blocks] == [6, 12, 24, 16]
    assert [block.out_channels for block in blocks] == [256, 512, 1024, 1024]  # growth 32
    assert [transition[2].out_channels for transition in transitions] == [128, 256, 512]  # x 0.5
    assert blocks[0][0][2].out_channels == 128  # bottleneck: 4 x growth
    # torchvision's densenet121().features has 6,953,856 parameters; the same layout here.
    assert count_parameters(backbone) == 6_953_856


def test_small_inputs_get_a_stem_that_keeps_feature_maps_meaningful():
    small, stock = build_model("dcrnet", input_size=48), build_model("dcrnet", input_size=224)
    assert small.backbone[0][0].stride == (1, 1) and small.backbone[0][0].kernel_size == (3, 3)
    assert isinstance(small.backbone[0][-1], nn.MaxPool2d)
    assert stock.backbone[0][0].stride == (2, 2) and isinstance(stock.backbone[0][-1], nn.MaxPool2d)
    with torch.no_grad():
        backbone_maps = small.eval().backbone(torch.randn(1, 1, 48, 48))
        paper_geometry = build_model("dcrnet", input_size=96).eval().forward_features(
            torch.randn(1, 1, 96, 96))
    assert backbone_maps.shape == (1, 1024, 3, 3)  # stride 16: the first CBAM sees 3x3
    assert paper_geometry.shape == (1, 64, 3, 3)  # 6x6 after DenseNet, 3x3 after the max-pool


def test_parameter_count_is_near_the_papers_figure():
    parameters = count_parameters(build_model("dcrnet"))
    print(f"dcrnet parameters: {parameters / 1e6:.2f} M (paper: 11.6 M)")
    assert abs(parameters / 11.6e6 - 1) < 0.1


def test_too_small_inputs_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="at least 32 pixels"):
        build_model("dcrnet", input_size=24)
