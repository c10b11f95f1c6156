"""Several emotion models -> one ONNX graph that averages their probabilities.

The ensemble is an ordinary model file for the app (``input`` -> ``logits``, a card), so
the app needs no ensemble code path: every member's graph sits inside it under a
``<name>/`` prefix, fed from the one ``input`` through whatever the member's own
preprocessing needs beyond the ensemble's (a Resize to its input size, a rescale for
its mean and std), and the members' softmax probabilities are averaged with weights.
``logits`` is the log of that average, so softmax, argmax and every consumer of
``logits`` behave as for one model; ``member_probabilities`` [N, M, K] carries each
member's own probabilities (``app.model.card.MEMBER_OUTPUT_NAME``).

Members must agree on what cannot be folded into a graph: the emotions (their order
may differ: it is folded with a Gather), the colour space and channels, adaptive gamma
(applied to the crop before the graph) and the alignment template (where the face sits
in the crop). ``EnsembleError`` names the member and the reason otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper, version_converter

from app.model.card import INPUT_NAME, MEMBER_OUTPUT_NAME, OUTPUT_NAME, ModelCard, ModelCardError, read_card
from app.model.card_text import RESERVED_MEMBER_NAMES

ENSEMBLE_PREFIX = "ensemble/"
MIN_OPSET = 18
"""Resize's ``axes`` and ``antialias``, ReduceMean's axes as an input and GridSample need
operator set 18; older graphs are converted."""
SMALLEST_PROBABILITY = 1e-30
"""The average is clamped here before the log, so ``logits`` stays finite."""


class EnsembleError(ValueError):
    """Members that cannot make one ensemble, with the member and the reason."""


@dataclass(frozen=True)
class Member:
    path: Path
    card: ModelCard
    model: onnx.ModelProto

    @property
    def name(self) -> str:
        return self.path.stem


def load_members(paths: Sequence[str | Path]) -> list[Member]:
    """Read each file and its card; refuse unreadable, foreign or repeated files."""
    if not paths:
        raise EnsembleError("an ensemble needs at least one member file")
    members = []
    for path in map(Path, paths):
        try:
            card = read_card(path)
        except ModelCardError as error:
            raise EnsembleError(f"member {path} cannot be used: {error}") from None
        if card.member_names:
            raise EnsembleError(f"member {path} is itself an ensemble (of {', '.join(card.member_names)}); "
                                "list its members instead")
        if path.stem in {member.name for member in members}:
            raise EnsembleError(f"member {path}: two members are named {path.stem!r}; each member's "
                                "file name must differ (it names its CSV column)")
        if path.stem.casefold() in RESERVED_MEMBER_NAMES:
            raise EnsembleError(f"member {path}: the name {path.stem!r} is taken by a CSV column "
                                f"(top_{path.stem}); rename the file")
        try:
            graph = onnx.load(str(path))
        except (onnx.checker.ValidationError, OSError, ValueError) as error:  # e.g. external data
            raise EnsembleError(f"member {path} cannot be read: {error}") from None  # outside its folder
        members.append(Member(path, card, graph))
    check_compatible(members)
    return members


def check_compatible(members: Sequence[Member]) -> None:
    """Raise EnsembleError for the first member whose preprocessing or labels cannot be
    folded into the graph, compared with the first member."""
    first = members[0]
    reference = first.card
    wanted = reference.preprocess
    for member in members[1:]:
        card = member.card
        spec = card.preprocess
        why = None
        if set(card.labels) != set(reference.labels):
            why = (f"its labels {list(card.labels)} are not those of {first.name} "
                   f"{list(reference.labels)}; averaging needs the same emotions")
        elif (spec.color_space, spec.channels) != (wanted.color_space, wanted.channels):
            why = (f"it takes {spec.channels}-channel {spec.color_space} crops, {first.name} "
                   f"{wanted.channels}-channel {wanted.color_space}; the colour conversion "
                   "happens before the graph and cannot be folded into it")
        elif spec.gamma != wanted.gamma:
            why = (f"its adaptive gamma is {'on' if spec.gamma else 'off'}, {first.name}'s "
                   f"{'on' if wanted.gamma else 'off'}; gamma is applied to the crop before "
                   "the graph and cannot be folded into it")
        elif spec.landmark_emphasis != wanted.landmark_emphasis:
            why = (f"its landmark emphasis is {spec.landmark_emphasis:g}, {first.name}'s "
                   f"{wanted.landmark_emphasis:g}; emphasis is applied to the crop before the "
                   "graph and cannot be folded into it")
        elif spec.alignment_template != wanted.alignment_template:
            why = (f"it was trained on crops aligned to {spec.alignment_template!r}, {first.name} "
                   f"to {wanted.alignment_template!r}; one crop cannot be aligned to both")
        if why:
            raise EnsembleError(f"member {member.path} cannot join the ensemble: {why}")


def build_graph(members: Sequence[Member], weights: Sequence[float],
                input_size: int | None = None) -> tuple[onnx.ModelProto, ModelCard]:
    """The ensemble model (no card embedded yet) and the card's preprocessing fields.

    ``weights``: one per member, at least 0, not all 0 (normalised to sum 1).
    ``input_size``: the side of the ensemble's crop (default: the largest member's);
    members of another size get a Resize inside the graph. The returned card carries the
    first member's labels and dataset, the ensemble input's size and normalisation; the
    caller adds metrics and the member list.
    """
    weights = np.asarray(weights, np.float64)
    if len(weights) != len(members) or (weights < 0).any() or weights.sum() <= 0:
        raise EnsembleError(f"need one weight of at least 0 per member ({len(members)}), not all 0; "
                            f"got {list(weights)}")
    sizes = [member.card.preprocess.input_size[0] for member in members]
    side = max(sizes) if input_size is None else int(input_size)
    if side < 8:
        raise EnsembleError(f"input size must be at least 8, got {side}")
    base = next((m.card for m in members if m.card.preprocess.input_size[0] == side), members[0].card)
    opset = max(MIN_OPSET, *(default_opset(member.model) for member in members))
    nodes, initializers, functions, outputs = [], [], [], []
    for member in members:
        prefix = f"{member.name}/"
        model = at_opset(member.model, opset, member.path)
        model = compose.add_prefix(model, prefix)
        graph = model.graph
        nodes += _adapter(prefix, member.card, base, side)
        nodes += list(graph.node)
        initializers += list(graph.initializer) + _adapter_constants(prefix, member.card, base, side)
        functions += list(model.functions)
        outputs.append(_member_probabilities(prefix, member.card, base.labels, nodes, initializers))
    normalised = (weights / weights.sum()).astype(np.float32).reshape(1, -1, 1)
    initializers += [numpy_helper.from_array(normalised, ENSEMBLE_PREFIX + "weights"),
                     numpy_helper.from_array(np.array(SMALLEST_PROBABILITY, np.float32),
                                             ENSEMBLE_PREFIX + "smallest"),
                     numpy_helper.from_array(np.array([1], np.int64), ENSEMBLE_PREFIX + "member_axis")]
    nodes += [
        helper.make_node("Concat", outputs, [MEMBER_OUTPUT_NAME], axis=1, name=ENSEMBLE_PREFIX + "stack"),
        helper.make_node("Mul", [MEMBER_OUTPUT_NAME, ENSEMBLE_PREFIX + "weights"],
                         [ENSEMBLE_PREFIX + "weighted"], name=ENSEMBLE_PREFIX + "weigh"),
        helper.make_node("ReduceSum", [ENSEMBLE_PREFIX + "weighted", ENSEMBLE_PREFIX + "member_axis"],
                         [ENSEMBLE_PREFIX + "average"], keepdims=0, name=ENSEMBLE_PREFIX + "average"),
        helper.make_node("Max", [ENSEMBLE_PREFIX + "average", ENSEMBLE_PREFIX + "smallest"],
                         [ENSEMBLE_PREFIX + "clamped"], name=ENSEMBLE_PREFIX + "clamp"),
        helper.make_node("Log", [ENSEMBLE_PREFIX + "clamped"], [OUTPUT_NAME], name=ENSEMBLE_PREFIX + "log"),
    ]
    classes, channels = len(base.labels), base.preprocess.channels
    graph = helper.make_graph(
        nodes, "ensemble",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", channels, side, side])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", classes]),
         helper.make_tensor_value_info(MEMBER_OUTPUT_NAME, TensorProto.FLOAT,
                                       ["batch", len(members), classes])],
        initializer=initializers)
    imports = {(entry.domain, entry.version) for member in members for entry in member.model.opset_import
               if entry.domain not in ("", "ai.onnx")}
    model = helper.make_model(graph, functions=functions, opset_imports=[
        helper.make_opsetid("", opset), *(helper.make_opsetid(domain, version)
                                          for domain, version in sorted(imports))])
    model.ir_version = max(member.model.ir_version for member in members)
    model.producer_name = "emotion-train ensemble"
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as error:
        raise EnsembleError(f"the merged graph does not check: {str(error).splitlines()[0]}") from None
    return model, base


def default_opset(model: onnx.ModelProto) -> int:
    return next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 1)


def at_opset(source: onnx.ModelProto, opset: int, name: str | Path) -> onnx.ModelProto:
    """A copy of ``source``'s graph at ``opset``, without its card or value_info, to be
    embedded in a larger graph; EnsembleError naming ``name`` when it cannot be converted."""
    model = onnx.ModelProto()
    model.CopyFrom(source)
    del model.metadata_props[:]
    del model.graph.value_info[:]  # ONNX Runtime infers them; embedded graphs' batch names differ
    if default_opset(model) != opset:
        try:
            model = version_converter.convert_version(model, opset)
        except Exception as error:  # the converter raises its own C++ exception types
            raise EnsembleError(f"member {name}: cannot convert its operator set "
                                f"{default_opset(model)} to {opset}: {error}") from None
    return model


def _scale_and_shift(card: ModelCard, base: ModelCard) -> tuple[np.ndarray, np.ndarray] | None:
    """(a, b) with ``member_input = a * ensemble_input + b``, or None when they are equal."""
    mean, std = np.asarray(card.preprocess.mean, np.float64), np.asarray(card.preprocess.std, np.float64)
    base_mean = np.asarray(base.preprocess.mean, np.float64)
    base_std = np.asarray(base.preprocess.std, np.float64)
    if np.allclose(mean, base_mean, rtol=0, atol=1e-7) and np.allclose(std, base_std, rtol=0, atol=1e-7):
        return None
    return base_std / std, (base_mean - mean) / std


def _adapter(prefix: str, card: ModelCard, base: ModelCard, side: int) -> list[onnx.NodeProto]:
    """Nodes from the ensemble's ``input`` to the member's ``<prefix>input``: Resize to the
    member's size (antialiased linear when shrinking, like OpenCV's area resize; cubic when
    enlarging, like the dataset loader's), then the normalisation change."""
    current, nodes = INPUT_NAME, []
    size = card.preprocess.input_size[0]
    target = prefix + INPUT_NAME
    if size != side:
        shrinking = size < side
        nodes.append(helper.make_node(
            "Resize", [current, "", "", prefix + "adapter/sizes"], [prefix + "adapter/resized"],
            name=prefix + "adapter/resize", axes=[2, 3], mode="linear" if shrinking else "cubic",
            antialias=1 if shrinking else 0, coordinate_transformation_mode="half_pixel"))
        current = prefix + "adapter/resized"
    if _scale_and_shift(card, base) is not None:
        nodes += [helper.make_node("Mul", [current, prefix + "adapter/scale"], [prefix + "adapter/scaled"],
                                   name=prefix + "adapter/scale"),
                  helper.make_node("Add", [prefix + "adapter/scaled", prefix + "adapter/shift"], [target],
                                   name=prefix + "adapter/shift")]
    else:
        nodes.append(helper.make_node("Identity", [current], [target], name=prefix + "adapter/input"))
    return nodes


def _adapter_constants(prefix: str, card: ModelCard, base: ModelCard, side: int) -> list[onnx.TensorProto]:
    constants = []
    if card.preprocess.input_size[0] != side:
        constants.append(numpy_helper.from_array(np.array(card.preprocess.input_size, np.int64),
                                                 prefix + "adapter/sizes"))
    folded = _scale_and_shift(card, base)
    if folded is not None:
        scale, shift = (value.astype(np.float32).reshape(1, -1, 1, 1) for value in folded)
        constants += [numpy_helper.from_array(scale, prefix + "adapter/scale"),
                      numpy_helper.from_array(shift, prefix + "adapter/shift")]
    return constants


def _member_probabilities(prefix: str, card: ModelCard, labels: tuple[str, ...],
                          nodes: list, initializers: list) -> str:
    """Append the nodes from ``<prefix>logits`` to its [N, 1, K] probabilities in ``labels``
    order; returns that tensor's name."""
    current = prefix + "ensemble/probabilities"
    nodes.append(helper.make_node("Softmax", [prefix + OUTPUT_NAME], [current], axis=1,
                                  name=prefix + "ensemble/softmax"))
    if card.labels != labels:
        order = np.array([card.labels.index(label) for label in labels], np.int64)
        initializers.append(numpy_helper.from_array(order, prefix + "ensemble/label_order"))
        nodes.append(helper.make_node("Gather", [current, prefix + "ensemble/label_order"],
                                      [prefix + "ensemble/reordered"], axis=1,
                                      name=prefix + "ensemble/reorder"))
        current = prefix + "ensemble/reordered"
    initializers.append(numpy_helper.from_array(np.array([1], np.int64), prefix + "ensemble/axis"))
    nodes.append(helper.make_node("Unsqueeze", [current, prefix + "ensemble/axis"],
                                  [prefix + "ensemble/stacked"], name=prefix + "ensemble/unsqueeze"))
    return prefix + "ensemble/stacked"
