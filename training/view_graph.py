"""Files from before run-time views: one ONNX graph that averaged a model's probabilities
over several views of the crop (``build_graph``), and exports that averaged each face's
logits with its mirror image inside the graph (``--mirror-average``). Both now happen at
run time (``app.model.views``); ``plain_model`` takes the model back out of such a file so
it can be shipped plain, with its views on its card. ``build_graph`` stays as the reference
the app's run-time sampling is checked against (GridSample over constant grids, replicated
borders), and to read old files in tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from app.model.card import INPUT_NAME, MEMBER_OUTPUT_NAME, OUTPUT_NAME
from app.model.views import View
from training.ensemble_graph import MIN_OPSET, SMALLEST_PROBABILITY, at_opset, default_opset

VIEW_PREFIX = "views/"


def sampling_grids(views: Sequence[View], side: int) -> np.ndarray:
    """[1, K, side, side, 2] (x, y) input positions of every output pixel of each view."""
    centres = (2 * np.arange(side) + 1) / side - 1
    x, y = np.meshgrid(centres, centres)
    points = np.stack([x.ravel(), y.ravel(), np.ones(x.size)])  # [3, side * side]
    grids = [(view.source_matrix() @ points).T.reshape(side, side, 2) for view in views]
    return np.stack(grids)[None].astype(np.float32)


def build_graph(model: onnx.ModelProto, views: Sequence[View], channels: int, side: int,
                classes: int) -> onnx.ModelProto:
    """``model`` (input [N, C, side, side] -> logits [N, classes]) read through ``views``."""
    opset = max(MIN_OPSET, default_opset(model))
    inner = compose.add_prefix(at_opset(model, opset, "the model"), VIEW_PREFIX)
    outputs = [output.name.removeprefix(VIEW_PREFIX) for output in inner.graph.output]
    count = len(views)
    p = VIEW_PREFIX
    constants = {
        "grids": sampling_grids(views, side), "view_repeats": np.array([1, count, 1, 1, 1], np.int64),
        "axis1": np.array([1], np.int64), "first": np.array([0], np.int64),
        "ones4": np.ones(4, np.int64), "crops_shape": np.array([-1, channels, side, side], np.int64),
        "grids_shape": np.array([-1, side, side, 2], np.int64),
        "per_face": np.array([-1, count, classes], np.int64),
        "smallest": np.array(SMALLEST_PROBABILITY, np.float32),
    }
    nodes = [
        helper.make_node("Unsqueeze", [INPUT_NAME, p + "axis1"], [p + "face"]),
        helper.make_node("Tile", [p + "face", p + "view_repeats"], [p + "tiled"]),
        helper.make_node("Reshape", [p + "tiled", p + "crops_shape"], [p + "crops"]),
        helper.make_node("Shape", [INPUT_NAME], [p + "input_shape"]),
        helper.make_node("Slice", [p + "input_shape", p + "first", p + "axis1"], [p + "batch"]),
        helper.make_node("Concat", [p + "batch", p + "ones4"], [p + "grid_repeats"], axis=0),
        helper.make_node("Tile", [p + "grids", p + "grid_repeats"], [p + "tiled_grids"]),
        helper.make_node("Reshape", [p + "tiled_grids", p + "grids_shape"], [p + "batch_grids"]),
        helper.make_node("GridSample", [p + "crops", p + "batch_grids"], [p + INPUT_NAME],
                         mode="linear" if opset >= 20 else "bilinear", padding_mode="border",
                         align_corners=0),
        *inner.graph.node,
        helper.make_node("Softmax", [p + OUTPUT_NAME], [p + "probabilities"], axis=-1),
        helper.make_node("Reshape", [p + "probabilities", p + "per_face"], [p + "by_view"]),
        helper.make_node("ReduceMean", [p + "by_view", p + "axis1"], [p + "average"], keepdims=0),
        helper.make_node("Max", [p + "average", p + "smallest"], [p + "clamped"]),
        helper.make_node("Log", [p + "clamped"], [OUTPUT_NAME]),
    ]
    graph_outputs = [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", classes])]
    if MEMBER_OUTPUT_NAME in outputs:
        members = next(output for output in model.graph.output if output.name == MEMBER_OUTPUT_NAME)
        member_count = members.type.tensor_type.shape.dim[1].dim_value
        constants["per_face_members"] = np.array([-1, count, member_count, classes], np.int64)
        nodes += [helper.make_node("Reshape", [p + MEMBER_OUTPUT_NAME, p + "per_face_members"],
                                   [p + "members_by_view"]),
                  helper.make_node("ReduceMean", [p + "members_by_view", p + "axis1"],
                                   [MEMBER_OUTPUT_NAME], keepdims=0)]
        graph_outputs.append(helper.make_tensor_value_info(
            MEMBER_OUTPUT_NAME, TensorProto.FLOAT, ["batch", member_count, classes]))
    for index, node in enumerate(nodes):
        node.name = node.name or f"{p}node{index}"
    graph = helper.make_graph(
        nodes, "views",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", channels, side, side])],
        graph_outputs,
        initializer=[*inner.graph.initializer,
                     *(numpy_helper.from_array(value, p + name) for name, value in constants.items())])
    wrapped = helper.make_model(graph, functions=list(inner.functions),
                                opset_imports=list(inner.opset_import))
    wrapped.ir_version = model.ir_version
    wrapped.producer_name = "emotion-train views"
    onnx.checker.check_model(wrapped, full_check=True)
    return wrapped


def is_wrapped(model: onnx.ModelProto) -> bool:
    """Whether ``model`` is a file of ``build_graph``: a model read over views."""
    return any(item.name == VIEW_PREFIX + "grids" for item in model.graph.initializer)


def inner_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model a views file reads over its views, ``input`` -> ``logits`` as before it was
    wrapped (inner names keep the ``views/`` prefix); a file without views comes back as it is. A warm start
    needs it: the weights are the inner model's, and so are the logits they must reproduce."""
    if not is_wrapped(model):
        return model
    graph = model.graph
    start, end = VIEW_PREFIX + INPUT_NAME, VIEW_PREFIX + OUTPUT_NAME
    producer = {output: index for index, node in enumerate(graph.node) for output in node.output}
    needed, pending = set(), [end]
    while pending:
        name = pending.pop()
        index = producer.get(name)
        if name == start or index is None or index in needed:
            continue
        needed.add(index)
        pending.extend(graph.node[index].input)
    nodes = [node for index, node in enumerate(graph.node) if index in needed]
    used = {name for node in nodes for name in node.input}
    channels, side = (dim.dim_value for dim in graph.input[0].type.tensor_type.shape.dim[1:3])
    classes = graph.output[0].type.tensor_type.shape.dim[1].dim_value
    inner = helper.make_graph(
        [helper.make_node("Identity", [INPUT_NAME], [start]), *nodes,
         helper.make_node("Identity", [end], [OUTPUT_NAME])], "inner",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", channels, side, side])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", classes])],
        initializer=[item for item in graph.initializer if item.name in used])
    unwrapped = helper.make_model(inner, functions=list(model.functions),
                                  opset_imports=list(model.opset_import))
    unwrapped.ir_version = model.ir_version
    return unwrapped


def without_mirror(model: onnx.ModelProto) -> tuple[onnx.ModelProto, bool]:
    """(``model`` without the mirror average an export with ``--mirror-average`` put in its
    graph, whether it had one). That graph reads ``Concat(input, flip(input))`` and ends
    ``(X[:N] + X[N:]) / 2`` (through Identity nodes, inside a views file); the plain model
    reads ``input`` and ends at ``X``."""
    producers = {output: node for node in model.graph.node for output in node.output}

    def source(name: str) -> str:  # through Identity nodes
        while name in producers and producers[name].op_type == "Identity":
            name = producers[name].input[0]
        return name

    def made_by(name: str, op_type: str):
        node = producers.get(source(name))
        return node if node is not None and node.op_type == op_type else None

    divided = made_by(OUTPUT_NAME, "Div")
    added = divided and made_by(divided.input[0], "Add")
    halves = [made_by(name, "Slice") for name in added.input] if added else []
    doubled = next((node for node in model.graph.node if node.op_type == "Concat" and len(node.input) == 2
                    and source(node.input[0]) == INPUT_NAME
                    and (flipped := made_by(node.input[1], "Slice")) is not None
                    and source(flipped.input[0]) == INPUT_NAME), None)
    if doubled is None or len(halves) != 2 or None in halves or halves[0].input[0] != halves[1].input[0]:
        return model, False
    plain = onnx.ModelProto()
    plain.CopyFrom(model)
    both, mean = halves[0].input[0], divided.output[0]
    for node in plain.graph.node:
        node.input[:] = [doubled.input[0] if name == doubled.output[0] else
                         both if name == mean else name for name in node.input]
        if node.output[:] == [mean]:
            node.output[:] = [mean + "/mirror_average"]
    if mean == OUTPUT_NAME:  # the model ends at the average: now it ends at X
        for node in plain.graph.node:
            node.output[:] = [OUTPUT_NAME if name == both else name for name in node.output]
            node.input[:] = [OUTPUT_NAME if name == both else name for name in node.input]
    _drop_unused(plain.graph)
    onnx.checker.check_model(plain, full_check=True)
    return plain, True


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Remove the nodes and initializers no graph output depends on."""
    producers = {output: index for index, node in enumerate(graph.node) for output in node.output}
    needed, pending = set(), [output.name for output in graph.output]
    while pending:
        index = producers.get(pending.pop())
        if index is None or index in needed:
            continue
        needed.add(index)
        pending.extend(graph.node[index].input)
    kept = [node for index, node in enumerate(graph.node) if index in needed]
    used = {name for node in kept for name in node.input}
    initializers = [item for item in graph.initializer if item.name in used]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def plain_model(model: onnx.ModelProto) -> tuple[onnx.ModelProto, bool]:
    """(the model inside a views file, without its graph's mirror average; whether it had one)."""
    return without_mirror(inner_model(model))
