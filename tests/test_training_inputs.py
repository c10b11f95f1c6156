"""Training inputs that went wrong quietly or loudly: a misspelled class folder
(``train/hapy``) trained an 8-class model in which "happy" had no images, and
``emotion-train ensemble`` on a member whose external data escapes its folder printed a
traceback."""

from __future__ import annotations

import cv2
import onnx
import pytest
from onnx import TensorProto

from tests.onnx_fixtures import fer_card, linear_model
from tests.test_datasets import GRAY, pixels
from training.cli import main
from training.data import DataOptions, DatasetLayoutError, load_split
from training.data.labels import FER2013_LABELS


def tree(root, folders: dict[str, int]):
    """``split/class`` -> that many images."""
    for folder, count in folders.items():
        (root / folder).mkdir(parents=True)
        for index in range(count):
            cv2.imwrite(str(root / folder / f"{index}.png"), pixels(index))
    return root


def test_a_misspelled_class_folder_is_refused_by_name(tmp_path):
    root = tree(tmp_path, {"train/happy": 2, "train/sad": 2, "train/hapy": 1, "val/happy": 1, "val/sad": 1})
    with pytest.raises(DatasetLayoutError, match=r"\['hapy'\] are not FER2013 classes.*--classes"):
        load_split("auto", root, "train", GRAY)
    chosen = load_split("image-tree", root, "train", GRAY, DataOptions(classes=("happy", "sad", "hapy")))
    assert chosen.labels == ("happy", "sad", "hapy") and list(chosen.class_counts()) == [2, 2, 1]


def test_a_class_folder_empty_in_one_split_is_refused_by_name(tmp_path):
    root = tree(tmp_path, {"train/happy": 2, "train/sad": 2, "val/happy": 1, "val/sad": 0})
    with pytest.raises(DatasetLayoutError, match="val/sad holds no images.*--classes"):
        load_split("auto", root, "train", GRAY)
    listed = load_split("auto", root, "train", GRAY, DataOptions(classes=FER2013_LABELS))
    assert listed.labels == FER2013_LABELS


def test_an_ensemble_member_whose_weights_escape_its_folder_is_a_clean_error(tmp_path, capsys, caplog):
    model = linear_model()
    fer_card(architecture="escaping").embed(model)
    weights = model.graph.initializer[0]
    weights.ClearField("raw_data")
    weights.ClearField("float_data")
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../../../etc/passwd"), ("offset", "0"), ("length", "64")):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    member = tmp_path / "models" / "escaping.onnx"
    member.parent.mkdir()
    onnx.save_model(model, str(member))
    other = tmp_path / "models" / "plain.onnx"
    onnx.save_model(fer_card_model(), str(other))
    assert main(["ensemble", str(member), str(other), "--out", str(tmp_path / "e.onnx")]) == 2
    assert "escaping.onnx cannot be read" in caplog.text and "outside" in caplog.text
    assert not (tmp_path / "e.onnx").exists()


def fer_card_model() -> onnx.ModelProto:
    model = linear_model(seed=1)
    fer_card(architecture="plain").embed(model)
    return model
