"""The model-card contract: round trip through a real ONNX file, and every refusal."""

import json

import pytest

from app.model.card import PREFIX, ModelCard, ModelCardError, read_card
from tests.onnx_fixtures import (
    fer_card,
    linear_model,
    write_model,
    write_model_with_metadata,
    write_model_with_raw_metadata,
)


def test_round_trip_through_an_onnx_file(tmp_path):
    card = fer_card(metrics={"val_accuracy": 0.661, "val_macro_f1": 0.63},
                    training={"command": "emotion-train train --arch x", "epochs": 3})
    path = write_model(tmp_path / "model.onnx", linear_model(), card)
    assert read_card(path) == card


def test_embedding_keeps_foreign_metadata_and_replaces_an_old_card(tmp_path):
    model = linear_model()
    entry = model.metadata_props.add()
    entry.key, entry.value = "producer_note", "kept"
    fer_card(version="1").embed(model)
    fer_card(version="2").embed(model)
    keys = [p.key for p in model.metadata_props]
    assert "producer_note" in keys and len(keys) == len(set(keys))
    path = write_model(tmp_path / "model.onnx", model)
    assert read_card(path).version == "2"


def test_metadata_is_plain_readable_strings():
    metadata = fer_card().to_metadata()
    assert metadata[PREFIX + "architecture"] == "linear_probe"
    assert json.loads(metadata[PREFIX + "labels"])[3] == "happy"
    assert json.loads(metadata[PREFIX + "input_size"]) == [48, 48]


def test_foreign_onnx_file_is_named_as_such(tmp_path):
    path = write_model(tmp_path / "foreign.onnx", linear_model())
    with pytest.raises(ModelCardError, match="not an emotion model.*emotion.labels"):
        read_card(path)


@pytest.mark.parametrize("content", [b"", b"this is not a protobuf at all" * 10, b"\x08\x07\x12"])
def test_corrupt_file_gives_a_clear_error(tmp_path, content):
    path = tmp_path / "corrupt.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelCardError, match="not a readable ONNX model"):
        read_card(path)


def test_truncated_model_is_refused(tmp_path):
    good = write_model(tmp_path / "good.onnx", linear_model(), fer_card()).read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelCardError, match="truncated.onnx"):
        read_card(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelCardError, match="no such model file"):
        read_card(tmp_path / "absent.onnx")


@pytest.mark.parametrize(
    "model, message",
    [
        (linear_model(input_name="image"), "inputs are \\['image'\\]"),
        (linear_model(output_name="probabilities"), "expected 'logits'"),
        (linear_model(classes=8), "8 labels|7 labels"),
        (linear_model(size=64), "does not match the card"),
        (linear_model(batch=1), "must be dynamic"),
    ],
)
def test_graph_that_breaks_the_contract_is_refused(tmp_path, model, message):
    path = write_model(tmp_path / "model.onnx", model, fer_card())
    with pytest.raises(ModelCardError, match=message):
        read_card(path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"labels": ("happy",)}, "at least two distinct"),
        ({"labels": ("happy", "happy")}, "at least two distinct"),
        ({"channels": 2}, "channels must be 1 or 3"),
        ({"color_space": "cmyk"}, "color_space must be one of"),
        ({"mean": (0.5, 0.5, 0.5)}, "mean needs 1 values"),
        ({"std": (0.0,)}, "std must be positive"),
        ({"input_size": (4, 4)}, "input_size"),
        ({"input_size": (48, 64)}, "must be square"),
        ({"alignment_template": "nonesuch"}, "unknown alignment template 'nonesuch'.*fer2013-mesh-v1"),
    ],
)
def test_invalid_cards_name_the_problem(changes, message):
    with pytest.raises(ModelCardError, match=message):
        fer_card(**changes)


@pytest.mark.parametrize("values, message", [
    ({"alignment_template": "nonesuch"}, "unknown alignment template"),
    ({"input_size": "[48, 40]"}, "must be square"),
])
def test_a_card_the_app_cannot_preprocess_for_is_refused_when_read(tmp_path, values, message):
    """Such a file used to pass every check and stop the run at its first face."""
    path = write_model_with_metadata(tmp_path / "model.onnx", linear_model(), **values)
    with pytest.raises(ModelCardError, match=message):
        read_card(path)


def test_malformed_metadata_values_are_reported(tmp_path):
    path = write_model_with_metadata(tmp_path / "bad.onnx", linear_model(), labels="[not json")
    with pytest.raises(ModelCardError, match="emotion.labels is not JSON"):
        read_card(path)


def test_card_error_is_a_value_error():
    assert issubclass(ModelCardError, ValueError)
    assert ModelCard.from_metadata(fer_card().to_metadata()) == fer_card()


def test_metadata_that_is_not_utf8_is_refused_with_a_reason(tmp_path):
    path = write_model_with_raw_metadata(tmp_path / "latin1.onnx", linear_model(), "dataset",
                                         "FER2013 (Gen\xe8ve)".encode("latin-1"))
    with pytest.raises(ModelCardError, match="latin1.onnx: its ONNX metadata is not valid UTF-8"):
        read_card(path)


@pytest.mark.parametrize("key, value, reason", [
    ("labels", json.dumps(["=cmd|' /C calc'!A0", "happy"]), "labels must be names"),
    ("labels", json.dumps(["happy\nsad", "neutral"]), "labels must be names"),
    ("labels", json.dumps(["@SUM(A1)", "neutral"]), "labels must be names"),
    ("labels", json.dumps(["x" * 33, "neutral"]), "labels must be names of at most 32"),
    ("architecture", "x" * 50_000, "architecture is 50000 characters long; at most 64"),
    ("architecture", "mini\x1b[31mxception", r"holds control or invisible characters \(U\+001B\)"),
    ("dataset", "FER\u202e3102", r"holds control or invisible characters \(U\+202E\)"),
])
def test_card_strings_that_would_reach_the_screen_or_the_csv_unsafely_are_refused(
        tmp_path, key, value, reason):
    path = write_model_with_metadata(tmp_path / "crafted.onnx", linear_model(), **{key: value})
    with pytest.raises(ModelCardError, match=reason) as refused:
        read_card(path)
    assert len(str(refused.value)) < 600  # the refusal quotes a shortened value


def test_labels_may_be_names_in_any_script(tmp_path):
    labels = ["überrascht", "悲しい", "not face", "neutral_2", "fear-ish", "6", "happy"]
    path = write_model(tmp_path / "m.onnx", linear_model(), fer_card(labels=tuple(labels)))
    assert read_card(path).labels == tuple(labels)
