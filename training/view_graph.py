"""Test-time views: one ONNX graph that averages a model's probabilities over several
slightly rotated, zoomed or shifted copies of the face crop.

A model trained with small affine augmentations reads each face a little differently at
each pose; averaging over a few such views at test time (as Khaireddin & Chen's ten-crop
evaluation does, "Facial Emotion Recognition: State of the Art Performance on FER2013",
arXiv:2105.03588) steadies the read. The views are made inside the graph with one
GridSample over constant sampling grids (replicated borders, as the training
augmentation pads), so the app runs the file like any model: ``input`` -> ``logits``,
the log of the views' average probability. An ensemble's ``member_probabilities`` are
averaged over the views too. The inner model's own mirror average stays inside it, so
each view is also read mirrored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from app.model.card import INPUT_NAME, MEMBER_OUTPUT_NAME, OUTPUT_NAME
from training.ensemble_graph import MIN_OPSET, SMALLEST_PROBABILITY, at_opset, default_opset

VIEW_PREFIX = "views/"
SHIFT = 2 / 48
"""Two pixels of a 48-pixel crop, as a fraction of the side."""


@dataclass(frozen=True)
class View:
    """One copy of the crop: rotated by ``degrees``, scaled by ``scale`` about its centre,
    then shifted by ``shift_x``, ``shift_y`` (fractions of the side, right and down)."""

    degrees: float = 0.0
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def source_matrix(self) -> np.ndarray:
        """2x3 map from an output position to the input position it samples, both in
        GridSample's coordinates (-1 to 1 across the crop, pixel centres at the odd steps)."""
        angle = math.radians(self.degrees)
        inverse_rotation = np.array([[math.cos(angle), math.sin(angle)],
                                     [-math.sin(angle), math.cos(angle)]]) / self.scale
        shift = 2.0 * np.array([self.shift_x, self.shift_y])
        return np.hstack([inverse_rotation, (-inverse_rotation @ shift)[:, None]])


IDENTITY = View()
VIEW_SETS: dict[str, tuple[View, ...]] = {
    "rotate": (View(degrees=-6.0), View(degrees=6.0)),
    "zoom": (View(scale=0.92), View(scale=1.08)),
    "shift": tuple(View(shift_x=x, shift_y=y) for x in (-SHIFT, SHIFT) for y in (-SHIFT, SHIFT)),
}
"""Within the training augmentation's ranges (rotation 10 degrees, zoom and shift 0.1)."""


def views_of(names: Iterable[str]) -> tuple[View, ...]:
    """The crop itself and every view of the named sets; ValueError naming the valid sets."""
    names = list(names)
    unknown = [name for name in names if name not in VIEW_SETS]
    if unknown or not names:
        raise ValueError(f"unknown view set(s) {unknown or names}; valid: {', '.join(VIEW_SETS)}")
    return (IDENTITY, *(view for name in dict.fromkeys(names) for view in VIEW_SETS[name]))


def describe(names: Sequence[str]) -> str:
    """For the card: how many views and what they are."""
    words = {"rotate": "rotated -6 and +6 degrees", "zoom": "zoomed 0.92x and 1.08x",
             "shift": f"shifted {SHIFT * 48:g} px of 48 diagonally four ways"}
    return (f"probabilities averaged inside the graph over {len(views_of(names))} views of the crop: "
            "itself, " + ", ".join(words[name] for name in dict.fromkeys(names)))


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
