"""``emotion-train train --init FILE.onnx``: a run that starts from a shipped model's weights."""

import logging
import re

import numpy as np
import pytest
import torch

from app.face.preprocess import to_tensor
from app.model.card import read_card
from tests.conftest import REPO_ROOT
from training import checkpoint as checkpoints
from training.cli import main
from training.data import DataOptions, load_split
from training.models import build_model
from training.warm_start import WarmStartError, load_exported

MODELS = REPO_ROOT / "models_onnx"
SINGLE_MODELS = ("dcrnet", "mini_xception", "mobilenetv3_dilated_simam", "vgg16_gcca_pdra",
                 "yolov8_dyconv_gam")


def shipped(name: str):
    path = MODELS / f"{name}.onnx"
    if not path.is_file():
        pytest.skip(f"needs the shipped {path.name}")
    return path


def crops_for(path, fer2013_root, count: int = 24) -> torch.Tensor:
    spec = read_card(path).preprocess
    crops = load_split("auto", fer2013_root, "val", spec, DataOptions(limit_per_class=4)).crops[:count]
    return torch.from_numpy(np.stack([to_tensor(crop, spec)[0] for crop in crops]))


def model_for(path) -> torch.nn.Module:
    card = read_card(path)
    return build_model(card.architecture, num_classes=card.num_classes, in_channels=card.preprocess.channels,
                       input_size=card.preprocess.input_size[0])


@pytest.mark.parametrize("name", SINGLE_MODELS)
def test_each_shipped_file_loads_back_into_its_architecture(name, fer2013_root):
    """Named weights, norms the exporter fused into convolutions, constants it renamed:
    the rebuilt PyTorch model computes what the file computes."""
    path = shipped(name)
    crops = crops_for(path, fer2013_root)
    model = model_for(path)
    started = load_exported(model, path, crops)
    assert started.max_logit_error < 1e-3
    assert started.card.architecture == name


def test_rebuilt_norms_keep_the_function_in_training_mode(fer2013_root):
    """A fused norm comes back with the statistics of its input, so batch statistics on
    those crops normalise exactly as the file's eval graph does."""
    path = shipped("mini_xception")
    crops = crops_for(path, fer2013_root)
    model = model_for(path)
    assert load_exported(model, path, crops).rebuilt_norms > 0
    with torch.no_grad():
        evaluated = model.eval()(crops)
        trained = model.train()(crops)
    torch.testing.assert_close(trained, evaluated, atol=1e-3, rtol=1e-3)


def test_a_file_of_another_architecture_is_refused(fer2013_root):
    path = shipped("mini_xception")
    crops = crops_for(path, fer2013_root, count=4)
    with pytest.raises(WarmStartError, match="mini_xception"):
        load_exported(build_model("mobilenetv3_dilated_simam"), path, crops)


@pytest.mark.parametrize("extra, message", [
    (["--init", "ensemble.onnx"], "an ensemble has no single set of weights"),
    (["--init", "mini_xception.onnx", "--arch", "dcrnet"], "holds mini_xception, not --arch dcrnet"),
    (["--init", "mini_xception.onnx", "--input-size", "64"], "--input-size 64 \\(the file has 48\\)"),
    (["--init", "README.md"], "--init"),
])
def test_bad_init_options_exit_2_with_the_reason(extra, message, fer2013_root, tmp_path, caplog):
    extra = [str(MODELS / item) if item.endswith((".onnx", ".md")) else item for item in extra]
    shipped("ensemble")
    shipped("mini_xception")
    with caplog.at_level(logging.ERROR):
        assert main(["train", "--data", str(fer2013_root), "--out", str(tmp_path / "run"), *extra]) == 2
    messages = [record.getMessage() for record in caplog.records]
    assert any(re.search(message, text) for text in messages), messages


def test_a_run_from_a_shipped_file_starts_at_its_accuracy_and_its_card_says_so(fer2013_root, tmp_path):
    path = shipped("mini_xception")
    out = tmp_path / "run"
    assert main(["train", "--init", str(path), "--data", str(fer2013_root), "--limit-per-class", "20",
                 "--epochs", "1", "--batch", "28", "--lr", "1e-5", "--augment", "none",
                 "--threads", "1", "--out", str(out)]) == 0
    saved = checkpoints.load(out / checkpoints.BEST)
    # A model from scratch is near chance (1/7) after one epoch on 140 images; the shipped
    # weights are not.
    assert saved.progress.best_accuracy > 0.45
    assert saved.settings.init["file"] == "mini_xception.onnx"
    assert saved.spec == read_card(path).preprocess
    exported = tmp_path / "continued.onnx"
    assert main(["export", str(out / checkpoints.BEST), "--out", str(exported)]) == 0
    card = read_card(exported)
    assert card.training["notes"][0].startswith("continued from mini_xception.onnx after its")
    assert card.training["initialised_from"]["weights_sha256"] == read_card(path).training["weights_sha256"]
