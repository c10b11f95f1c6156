"""Small ONNX graphs built by hand, to test the model-card contract without torch."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from app.face.preprocess import PreprocessSpec
from app.model.card import ModelCard
from training.data.labels import FER2013_LABELS

PREPROCESS_FIELDS = [field.name for field in fields(PreprocessSpec)]


def fer_card(**changes) -> ModelCard:
    fields = dict(
        architecture="linear_probe",
        labels=FER2013_LABELS,
        input_size=(48, 48),
        channels=1,
        color_space="gray",
        mean=(0.5,),
        std=(0.25,),
        gamma=True,
        alignment_template="fer2013-mesh-v1",
        landmark_emphasis=0.0,
        dataset="FER2013",
        metrics={"val_accuracy": 0.5},
        training={"command": "hand-built test graph"},
    )
    fields.update(changes)
    spec = PreprocessSpec(**{name: fields.pop(name) for name in PREPROCESS_FIELDS})
    return ModelCard(preprocess=spec, **fields)


def linear_model(
    channels: int = 1,
    size: int = 48,
    classes: int = 7,
    input_name: str = "input",
    output_name: str = "logits",
    batch: int | str = "N",
    seed: int = 0,
) -> onnx.ModelProto:
    """Flatten -> MatMul -> Add: a linear classifier with the contract's signature."""
    rng = np.random.default_rng(seed)
    features = channels * size * size
    weight = numpy_helper.from_array(rng.normal(0, 0.01, (features, classes)).astype(np.float32), "weight")
    bias = numpy_helper.from_array(np.zeros(classes, np.float32), "bias")
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", [input_name], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "weight"], ["product"]),
            helper.make_node("Add", ["product", "bias"], [output_name]),
        ],
        "linear_probe",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, channels, size, size])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [batch, classes])],
        initializer=[weight, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_model(path: Path, model: onnx.ModelProto, card: ModelCard | None = None) -> Path:
    if card is not None:
        card.embed(model)
    onnx.save_model(model, str(path))
    return path


def write_model_with_metadata(path: Path, model: onnx.ModelProto, **values: str) -> Path:
    """``model`` with a valid FER2013 card whose ``emotion.<key>`` entries ``values`` then
    overwrite as raw strings: a card the ``ModelCard`` class itself would not make."""
    fer_card().embed(model)
    for entry in model.metadata_props:
        key = entry.key.removeprefix("emotion.")
        if key in values:
            entry.value = values[key]
    onnx.save_model(model, str(path))
    return path


def write_ensemble(path: Path, members, weights=None, input_size: int | None = None,
                   **card_changes) -> Path:
    """An ensemble of the member files, built as ``emotion-train ensemble`` builds it;
    ``card_changes`` replace fields of its card (``metrics=...``)."""
    from training.commands.ensemble import ensemble_card
    from training.ensemble_graph import build_graph, load_members

    loaded = load_members(members)
    weights = weights or [1] * len(loaded)
    model, base = build_graph(loaded, weights, input_size)
    side = base.preprocess.input_size[0] if input_size is None else input_size
    card = ensemble_card(loaded, weights, base, side, "hand-built test ensemble", None)
    replace(card, **card_changes).embed(model)
    onnx.save_model(model, str(path))
    return path


def write_model_with_raw_metadata(path: Path, model: onnx.ModelProto, key: str, raw: bytes) -> Path:
    """``model`` with a valid FER2013 card whose ``emotion.<key>`` value is ``raw``, bytes
    that need not be UTF-8 (protobuf will not set such a string, so it is spliced into the
    serialised file in place of a placeholder of the same length)."""
    placeholder = "\x01" * len(raw)
    write_model_with_metadata(path, model, **{key: placeholder})
    data = path.read_bytes()
    assert data.count(placeholder.encode()) == 1
    path.write_bytes(data.replace(placeholder.encode(), raw))
    return path
