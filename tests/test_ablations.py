"""Every ablation switch really removes or replaces its module, keeps the model contract,
and still exports to ONNX with parity; recipe-level switches change the recipe alone."""

import argparse

import pytest
import torch
from torch import nn

from tests.checkpoint_fixtures import make_checkpoint, settings_for
from tests.onnx_fixtures import fer_card
from training import ablations
from training.checkpoint import Checkpoint, ModelArguments
from training.commands import train
from training.export import export_onnx, parity_error
from training.models import ARCHITECTURES, build_model
from training.models.backbones import densenet121
from training.models.dcrnet import ResidualBlock
from training.models.layers.cbam import CBAM
from training.models.layers.dynamic_conv import DynamicConv
from training.models.layers.gam import GAM
from training.models.layers.gcca import GCCA
from training.models.layers.partial_decoder import PartialDecoder
from training.models.layers.reverse_attention import ReverseAttention
from training.models.layers.simam import SimAM
from training.models.layers.squeeze_excitation import SqueezeExcitation
from training.models.mobilenetv3_dilated_simam import BNECKS, FIRST_CONV

MOBILENET = "mobilenetv3_dilated_simam"


@pytest.fixture(autouse=True)
def tiny_densenet(monkeypatch):
    """One layer per dense block: DCRNet's ablations are in its head, and the tests stay fast."""
    monkeypatch.setattr(densenet121, "BLOCK_LAYERS", (1, 1, 1, 1))


def count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(module, kind) for module in model.modules())


def parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def built(name: str, ablate=(), input_size: int | None = None) -> nn.Module:
    return build_model(name, input_size=input_size, ablate=ablate)


def test_yolov8_dynamic_conv_becomes_plain_conv():
    full, plain = built("yolov8_dyconv_gam"), built("yolov8_dyconv_gam", {"dynamic_conv"})
    assert count(plain, DynamicConv) == 0 and count(full, DynamicConv) > 0
    convolutions = [module.convolution for module in plain.modules() if hasattr(module, "convolution")]
    assert len(convolutions) == count(full, DynamicConv)
    assert all(type(convolution) is nn.Conv2d for convolution in convolutions)
    assert parameters(plain) < parameters(full) / 2  # K = 4 kernels per layer are gone
    assert count(plain, GAM) == count(full, GAM) == 4


def test_yolov8_gam_off():
    full, ablated = built("yolov8_dyconv_gam"), built("yolov8_dyconv_gam", {"gam"})
    assert count(ablated, GAM) == 0 and count(ablated, DynamicConv) == count(full, DynamicConv)
    assert parameters(ablated) == parameters(full) - sum(parameters(gam) for gam in full.modules()
                                                          if isinstance(gam, GAM))


def test_mobilenet_simam_off_or_se():
    full = built("mobilenetv3_dilated_simam")
    marked = sum(row.simam for row in BNECKS)
    assert count(full, SimAM) == marked and count(full, SqueezeExcitation) == 0
    none = built("mobilenetv3_dilated_simam", {"simam"})
    assert count(none, SimAM) == 0 and count(none, SqueezeExcitation) == 0
    assert parameters(none) == parameters(full)  # SimAM has no parameters to lose
    se = built("mobilenetv3_dilated_simam", {"simam_to_se"})
    assert count(se, SimAM) == 0 and count(se, SqueezeExcitation) == marked
    assert isinstance(se.blocks[3].attention.gate, nn.Hardsigmoid)  # MobileNetV3's SE
    assert parameters(se) > parameters(full)
    with pytest.raises(ValueError, match="not both"):
        built("mobilenetv3_dilated_simam", {"simam", "simam_to_se"})


def test_mobilenet_groupnorm_becomes_batchnorm():
    full, ablated = built("mobilenetv3_dilated_simam"), built("mobilenetv3_dilated_simam", {"groupnorm"})
    assert count(ablated, nn.GroupNorm) == 0 and count(ablated, nn.BatchNorm2d) == count(full, nn.GroupNorm)
    assert set(ablated.state_dict()) - set(full.state_dict())  # running statistics appear


def test_mobilenet_dilation_switches():
    full = built("mobilenetv3_dilated_simam")
    assert full.first_conv[0].dilation == (FIRST_CONV.dilation,) * 2
    undilated = built("mobilenetv3_dilated_simam", {"first_conv_dilation"})
    assert undilated.first_conv[0].dilation == (1, 1) and parameters(undilated) == parameters(full)
    no_shortcut_dilation = built("mobilenetv3_dilated_simam", {"shortcut_dilation"})
    assert all(conv.dilation == (1, 1) for conv in no_shortcut_dilation.blocks.modules()
               if isinstance(conv, nn.Conv2d))
    assert parameters(no_shortcut_dilation) < parameters(full)
    neither = built("mobilenetv3_dilated_simam", {"dilation"})
    assert all(conv.dilation == (1, 1) for conv in neither.modules() if isinstance(conv, nn.Conv2d))


def test_mobilenet_without_maxpool_downsampling_blocks_lose_their_shortcut():
    full, ablated = built(MOBILENET), built(MOBILENET, {"shortcut_maxpool"})
    assert count(full, nn.MaxPool2d) == sum(row.stride > 1 for row in BNECKS)
    assert count(ablated, nn.MaxPool2d) == 0
    for block, row in zip(ablated.blocks, BNECKS):
        assert (block.shortcut is None) == (row.stride > 1)


def test_mobilenet_base_row_is_the_stock_network():
    """Table 4's Base: SE, BatchNorm, no dilation, MobileNetV3's own identity shortcuts."""
    base = built(MOBILENET, ablations.table_for(MOBILENET).variant("base").ablate)
    channels = FIRST_CONV.out_channels
    for block, row in zip(base.blocks, BNECKS):
        stock_residual = row.stride == 1 and channels == row.out_channels
        assert isinstance(block.shortcut, nn.Identity) if stock_residual else block.shortcut is None
        channels = row.out_channels
    assert count(base, nn.GroupNorm) == count(base, SimAM) == 0
    assert all(conv.dilation == (1, 1) for conv in base.modules() if isinstance(conv, nn.Conv2d))


def test_dcrnet_cbam_off_or_se_and_residual_modules_off():
    full = built("dcrnet")
    assert count(full, CBAM) == 3
    none = built("dcrnet", {"cbam"})
    assert count(none, CBAM) == 0 and count(none, SqueezeExcitation) == 0
    se = built("dcrnet", {"cbam_to_se"})
    assert count(se, CBAM) == 0 and count(se, SqueezeExcitation) == 3
    assert isinstance(se.attention.gate, nn.Sigmoid)  # Hu et al.'s SE
    assert parameters(none) < parameters(se) < parameters(full)
    flat = built("dcrnet", {"residual_modules"})
    assert count(full, ResidualBlock) == 6 and count(flat, ResidualBlock) == 0
    assert flat.dense[0].in_features == 512 and parameters(flat) < parameters(full)
    with pytest.raises(ValueError, match="not both"):
        built("dcrnet", {"cbam", "cbam_to_se"})


def test_vgg_switches():
    full = built("vgg16_gcca_pdra")
    assert count(built("vgg16_gcca_pdra", {"gcca"}), GCCA) == 0 and count(full, GCCA) == 5
    no_decoder = built("vgg16_gcca_pdra", {"partial_decoder"})
    assert count(no_decoder, PartialDecoder) == 0 and no_decoder.block5_map.out_channels == 1
    no_reverse = built("vgg16_gcca_pdra", {"reverse_attention"})
    assert count(no_reverse, ReverseAttention) == 0 and count(no_reverse, PartialDecoder) == 1
    plain = built("vgg16_gcca_pdra", {"multi_feature_fusion", "partial_decoder", "reverse_attention"})
    assert plain.edge is None and plain.fusion[1].in_features == 512
    for model in (no_decoder, no_reverse, plain):
        assert parameters(model) < parameters(full)
    with pytest.raises(ValueError, match="partial_decoder and reverse_attention"):
        built("vgg16_gcca_pdra", {"multi_feature_fusion"})


@pytest.mark.parametrize("name, switch", [("vgg16_gcca_pdra", "island_loss"), ("dcrnet", "gamma"),
                                          ("dcrnet", "landmarks")])
def test_recipe_switches_leave_the_model_alone(name, switch):
    assert switch in ARCHITECTURES[name].recipe_ablations
    shapes = {key: value.shape for key, value in built(name).state_dict().items()}
    assert {key: value.shape for key, value in built(name, {switch}).state_dict().items()} == shapes


def test_unknown_names_list_the_valid_choices():
    with pytest.raises(ValueError, match="valid: dynamic_conv, gam"):
        built("yolov8_dyconv_gam", {"cbam"})
    with pytest.raises(ValueError, match="its paper ablates nothing"):
        built("mini_xception", {"gam"})


def train_settings(*argv: str):
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    return train.settings_from_args(parser.parse_args([*argv, "--data", "unused", "--out", "unused"]))


def test_the_cli_stores_the_variant_and_maps_loss_and_preprocessing_switches():
    settings = train_settings("--arch", "yolov8_dyconv_gam", "--ablate", "gam, dynamic_conv")
    assert settings.ablate == ("dynamic_conv", "gam")
    assert type(settings).from_dict(settings.to_dict()) == settings
    assert train_settings("--arch", "vgg16_gcca_pdra").recipe.island_weight > 0
    assert train_settings("--arch", "vgg16_gcca_pdra", "--ablate", "island_loss").recipe.island_weight == 0
    assert train_settings("--arch", "dcrnet", "--gamma").recipe.gamma
    assert not train_settings("--arch", "dcrnet", "--ablate", "gamma").recipe.gamma
    assert train_settings("--arch", "dcrnet").recipe.landmark_emphasis == 0.5  # the paper's Sec. 2.1.2
    assert train_settings("--arch", "dcrnet", "--recipe", "fast").recipe.landmark_emphasis == 0.5
    assert train_settings("--arch", "dcrnet", "--landmark-emphasis", "0").recipe.landmark_emphasis == 0
    assert train_settings("--arch", "dcrnet", "--ablate", "landmarks").recipe.landmark_emphasis == 0
    with pytest.raises(ValueError, match="island_weight"):
        train_settings("--arch", "vgg16_gcca_pdra", "--ablate", "island_loss", "--island-weight", "0.01")
    with pytest.raises(ValueError, match="landmark_emphasis"):
        train_settings("--arch", "dcrnet", "--ablate", "landmarks", "--landmark-emphasis", "0.3")
    with pytest.raises(ValueError, match="valid: "):
        train_settings("--arch", "mobilenetv3_dilated_simam", "--ablate", "landmarks")


def test_a_checkpoint_rebuilds_its_variant():
    model = built("yolov8_dyconv_gam", {"gam"}, input_size=32)
    saved = make_checkpoint(settings_for("unused", arch="yolov8_dyconv_gam"), state_dict=model.state_dict(),
                            model=ModelArguments("yolov8_dyconv_gam", 7, 1, 32, ("gam",))).to_dict()
    assert count(Checkpoint.from_dict(saved).trained_model(), GAM) == 0
    del saved["model"]["ablate"]
    with pytest.raises(RuntimeError):  # the full model does not take the variant's weights
        Checkpoint.from_dict(saved).trained_model()


@pytest.mark.parametrize("name, input_size, ablate", [
    ("yolov8_dyconv_gam", 32, {"dynamic_conv", "gam"}),
    ("mobilenetv3_dilated_simam", 32, {"simam_to_se", "groupnorm", "dilation", "shortcut_maxpool"}),
    ("mobilenetv3_dilated_simam", 32, {"simam", "shortcut_dilation"}),
    ("dcrnet", 32, {"cbam_to_se", "residual_modules"}),
    ("dcrnet", 32, {"cbam"}),
    ("vgg16_gcca_pdra", 16, {"gcca", "partial_decoder"}),
    ("vgg16_gcca_pdra", 16, {"reverse_attention"}),
    ("vgg16_gcca_pdra", 16, {"multi_feature_fusion", "partial_decoder", "reverse_attention"}),
])
def test_ablated_models_keep_the_contract_and_export_with_parity(name, input_size, ablate, tmp_path):
    torch.manual_seed(0)
    model = built(name, ablate, input_size).eval()
    images = torch.randn(2, 1, input_size, input_size)
    with torch.no_grad():
        logits = model(images)
        assert torch.equal(logits, model.forward_head(model.forward_features(images)))
    assert logits.shape == (2, 7)
    card = fer_card(architecture=name, input_size=(input_size, input_size))
    path = export_onnx(model, card, tmp_path / f"{name}.onnx")
    assert parity_error(model, path) < 1e-4
