"""Store an ONNX model's weights in float16 while it still computes, and talks, in float32.

Each large float32 initializer is replaced by its float16 copy followed by a ``Cast``
back to float32, so the file is about half the size, the input and output stay
float32 (the app's contract), and ONNX Runtime folds the casts when it loads the
model: inference runs in float32 on weights rounded to float16. The only change in
the outputs is that rounding; ``emotion-train export --fp16`` measures what it costs
in accuracy. Tensors that float16 cannot hold (values beyond its range) stay float32.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT16_MAX = float(np.finfo(np.float16).max)


def with_fp16_weights(model: onnx.ModelProto, min_elements: int = 64) -> onnx.ModelProto:
    """A copy of ``model`` with float32 initializers of at least ``min_elements`` stored as float16."""
    converted = onnx.ModelProto()
    converted.CopyFrom(model)
    graph = converted.graph
    kept, casts = [], []
    for initializer in graph.initializer:
        array = numpy_helper.to_array(initializer)
        if (initializer.data_type != TensorProto.FLOAT or array.size < min_elements
                or not np.isfinite(array).all() or np.abs(array).max() > FLOAT16_MAX):
            kept.append(initializer)
            continue
        half_name = f"{initializer.name}__fp16"
        kept.append(numpy_helper.from_array(array.astype(np.float16), half_name))
        casts.append(helper.make_node("Cast", [half_name], [initializer.name], to=TensorProto.FLOAT,
                                      name=f"{initializer.name}__to_fp32"))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(converted, full_check=True)
    return converted
