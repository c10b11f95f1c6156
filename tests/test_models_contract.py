"""Every registered architecture honours the model interface and exports with parity."""

import pytest
import torch

from app.model.inference import EmotionClassifier
from tests.onnx_fixtures import fer_card
from training.data.labels import FER2013_LABELS
from training.export import export_onnx, parity_error
from training.model_table import count_macs, count_parameters, format_table, table_rows
from training.models import ARCHITECTURES, EmotionModel, build_model

NAMES = sorted(ARCHITECTURES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("in_channels", [1, 3])
def test_forward_is_head_of_features_and_gives_logits(name, in_channels):
    torch.manual_seed(0)
    size = ARCHITECTURES[name].input_size
    model = build_model(name, num_classes=7, in_channels=in_channels).eval()
    assert isinstance(model, EmotionModel)
    images = torch.randn(3, in_channels, size, size)
    with torch.no_grad():
        logits = model(images)
        again = model.forward_head(model.forward_features(images))
    assert logits.shape == (3, 7)
    torch.testing.assert_close(logits, again)
    assert not torch.allclose(logits.sum(dim=1), torch.ones(3)), "forward must not apply softmax"


@pytest.mark.parametrize("name", NAMES)
def test_other_input_sizes_and_class_counts(name):
    size = ARCHITECTURES[name].input_size
    model = build_model(name, num_classes=5, in_channels=1, input_size=size * 2).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, size * 2, size * 2)).shape == (2, 5)


@pytest.mark.parametrize("name", NAMES)
def test_trains_one_step(name):
    size = ARCHITECTURES[name].input_size
    model = build_model(name).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 1, size, size)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimiser.step()
    assert torch.isfinite(loss)


def _calibrated(name: str, size: int) -> torch.nn.Module:
    """A random-init model whose normalisation statistics come from data, not defaults.

    With default running statistics, deep random nets give nearly constant logits and a
    parity check would compare constants; a few training-mode passes make them vary.
    """
    model = build_model(name).train()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the calibration batches
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(16, 1, size, size))
    return model.eval()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_exports_to_onnx_with_parity(name, tmp_path):
    torch.manual_seed(0)
    size = ARCHITECTURES[name].input_size
    model = _calibrated(name, size)
    with torch.no_grad():
        spread = model(torch.randn(8, 1, size, size)).std(dim=0).max().item()
    assert spread > 1e-3, "logits must depend on the input for parity to mean anything"
    card = fer_card(architecture=name, input_size=(size, size))
    path = export_onnx(model, card, tmp_path / f"{name}.onnx")
    assert parity_error(model, path, batch_sizes=(1, 8)) < 1e-4
    classifier = EmotionClassifier(path)
    assert classifier.labels == FER2013_LABELS
    probabilities = classifier.probabilities(torch.randn(5, 1, size, size).numpy())
    assert probabilities.shape == (5, 7)
    assert abs(probabilities.sum(axis=1) - 1).max() < 1e-5


def test_model_table_lists_every_architecture():
    rows = table_rows()
    assert [row["name"] for row in rows] == NAMES
    for row in rows:
        assert row["parameters"] > 1000 and row["macs"] > 1000
    text = format_table(rows)
    assert all(name in text for name in NAMES) and "paper params" in text


def test_counters_on_a_known_layer():
    layer = torch.nn.Conv2d(2, 4, 3, padding=1)
    assert count_parameters(layer) == 2 * 4 * 9 + 4
    assert count_macs(layer, 2, 8) == 2 * 4 * 9 * 8 * 8


def test_unknown_architecture_names_the_valid_ones():
    with pytest.raises(ValueError, match="mini_xception"):
        build_model("resnet9000")
