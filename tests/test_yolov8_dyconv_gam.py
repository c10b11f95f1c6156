"""YOLOv8n-cls with every Conv dynamic and a GAM after every C2f."""

import pytest
import torch
from torch import nn

from tests.onnx_fixtures import fer_card
from training.export import export_onnx, parity_error
from training.models import build_model
from training.models.layers.dynamic_conv import DynamicConv, KernelAttention, anneal_temperature
from training.models.layers.gam import GAM
from training.models.yolov8_dyconv_gam import C2f, Conv, YOLOv8DynamicConvGAM

# Per-layer parameters Ultralytics prints for yolov8n-cls.yaml (3 channels, 1000 classes),
# e.g. in github.com/ultralytics/ultralytics/issues/17547; total 2,719,288 with the head.
ULTRALYTICS_N_LAYER_PARAMETERS = [464, 4672, 7360, 18560, 49664, 73984, 197632, 295424, 460288]
ULTRALYTICS_N_TOTAL = 2_719_288


@pytest.fixture(scope="module")
def model() -> YOLOv8DynamicConvGAM:
    torch.manual_seed(0)
    return build_model("yolov8_dyconv_gam", num_classes=7, in_channels=1)


def test_every_convolution_is_dynamic_except_gams_own(model):
    inside_gam = {id(m) for gam in model.modules() if isinstance(gam, GAM) for m in gam.modules()}
    plain = [m for m in model.modules() if isinstance(m, nn.Conv2d) and id(m) not in inside_gam]
    assert plain == []
    conv_blocks = [m for m in model.modules() if isinstance(m, Conv)]
    convolutions = [block.convolution for block in conv_blocks]
    assert all(isinstance(conv, DynamicConv) and conv.kernels == 4 for conv in convolutions)
    # 5 backbone Convs, C2f: 2 each plus 2 per bottleneck (1+2+2+1), and the head's Conv.
    assert len(conv_blocks) == 5 + 4 * 2 + 2 * 6 + 1
    assert isinstance(model.head.projection.convolution, DynamicConv)


def test_a_gam_follows_every_c2f_and_nothing_else(model):
    layers = list(model.backbone)
    for index, layer in enumerate(layers):
        if isinstance(layer, C2f):
            following = layers[index + 1]
            assert isinstance(following, GAM)
            c2f_channels = layer.output_projection.convolution.out_channels
            assert following.channel_attention.mlp[0].in_features == c2f_channels
        if isinstance(layer, GAM):
            assert isinstance(layers[index - 1], C2f)
    assert sum(isinstance(layer, GAM) for layer in layers) == 4


def test_scale_n_widths_and_depths(model):
    layers = [layer for layer in model.backbone if not isinstance(layer, GAM)]
    convs = [layer.convolution.out_channels for layer in layers if isinstance(layer, Conv)]
    c2fs = [(layer.output_projection.convolution.out_channels, len(layer.bottlenecks))
            for layer in layers if isinstance(layer, C2f)]
    assert convs == [16, 32, 64, 128, 256]
    assert c2fs == [(32, 1), (64, 2), (128, 2), (256, 1)]
    assert model.head.projection.convolution.out_channels == 1280 and model.head.linear.out_features == 7
    with torch.no_grad():
        assert model.eval().forward_features(torch.randn(1, 1, 64, 64)).shape == (1, 256, 2, 2)


def test_layout_matches_ultralytics_yolov8n_cls_at_one_kernel():
    """With K = 1 and the additions taken out, every layer has exactly YOLOv8n-cls's parameters."""
    plain = YOLOv8DynamicConvGAM(num_classes=1000, in_channels=3, scale="n", kernels=1)

    def original_parameters(module: nn.Module) -> int:
        added = [m for m in module.modules() if isinstance(m, (GAM, KernelAttention))]
        extra = sum(p.numel() for m in added for p in m.parameters())
        return sum(p.numel() for p in module.parameters()) - extra

    layers = [layer for layer in plain.backbone if not isinstance(layer, GAM)]
    assert [original_parameters(layer) for layer in layers] == ULTRALYTICS_N_LAYER_PARAMETERS
    assert original_parameters(plain) == ULTRALYTICS_N_TOTAL


def test_scale_s_doubles_the_widths():
    wide = YOLOv8DynamicConvGAM(scale="s")
    convs = [layer.convolution.out_channels for layer in wide.backbone if isinstance(layer, Conv)]
    assert convs == [32, 64, 128, 256, 512]


def test_unknown_scale_names_the_valid_ones():
    with pytest.raises(ValueError, match="'n', 's'"):
        YOLOv8DynamicConvGAM(scale="xl")


@pytest.mark.slow
def test_exports_with_a_dynamic_batch_and_input_dependent_kernels(tmp_path):
    """Parity where it means something: at random init, eval-mode BatchNorm (unit running
    statistics) shrinks the signal to ~1e-13 by the last layer, so the contract test's
    parity holds trivially. Calibrating BatchNorm on one batch and annealing the
    temperature to 1 gives logits that depend on the input and on the kernel attention."""
    torch.manual_seed(0)
    model = build_model("yolov8_dyconv_gam")
    anneal_temperature(model, epoch=10)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: one pass sets the batch's statistics
    with torch.no_grad():
        model.train()(torch.randn(16, 1, 64, 64))
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(8, 1, 64, 64))
    assert (logits - logits.mean(dim=0)).abs().max() > 1e-2
    path = export_onnx(model, fer_card(architecture="yolov8_dyconv_gam", input_size=(64, 64)),
                       tmp_path / "yolov8.onnx")
    assert parity_error(model, path, batch_sizes=(1, 3, 8)) < 1e-4


def test_state_dict_keys_spell_out_ultralytics_abbreviations(model):
    keys = set(model.state_dict())
    assert "backbone.2.input_projection.convolution.weight" in keys
    assert "backbone.2.bottlenecks.0.second.norm.running_mean" in keys
    assert "head.projection.convolution.attention.mlp.0.weight" in keys
    abbreviated = {"cv1", "cv2", "m", "bn", "act", "conv", "drop"}
    assert not [key for key in keys if abbreviated & set(key.split("."))]
