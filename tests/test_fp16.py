"""Float16 weight storage keeps float32 inputs and outputs and changes logits only by rounding."""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, numpy_helper

from tests.onnx_fixtures import linear_model
from training.fp16 import with_fp16_weights


def run(model: onnx.ModelProto, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input": batch})[0]


def test_weights_halve_and_outputs_stay_float32():
    model = linear_model()
    half = with_fp16_weights(model)
    assert len(half.SerializeToString()) < 0.6 * len(model.SerializeToString())
    types = {tensor.name: tensor.data_type for tensor in half.graph.initializer}
    assert types["weight__fp16"] == TensorProto.FLOAT16
    assert types["bias"] == TensorProto.FLOAT  # 7 values: not worth converting
    assert half.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert half.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    batch = np.random.default_rng(0).normal(size=(3, 1, 48, 48)).astype(np.float32)
    full, rounded = run(model, batch), run(half, batch)
    assert rounded.dtype == np.float32
    assert 0 < np.abs(full - rounded).max() < 1e-3


def test_values_beyond_float16_stay_float32():
    model = linear_model()
    weight = next(t for t in model.graph.initializer if t.name == "weight")
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 1e7, "weight"))
    half = with_fp16_weights(model)
    assert {t.name for t in half.graph.initializer} == {"weight", "bias"}
