"""Start a run from the weights of an exported model: ``emotion-train train --init FILE.onnx``.

A shipped ``.onnx`` file is often the only copy of a model's weights that travels (the
checkpoints stay on the machine that trained it), and continuing a well-trained model
costs a fraction of training it again. The exporter writes parameters under their
PyTorch names (``model.<key>``, ``model.<key>__fp16`` when stored in half precision),
except where it fused a batch norm into the convolution before it: the fused
convolution keeps its name, with the weight scaled and a bias ``<conv>.weight_bias``.

Such a norm is rebuilt so that the network computes what the file computes in eval mode
*and* keeps that behaviour in training mode, where a norm uses batch statistics:
measured on real crops, the running mean and variance of the norm's input become its
statistics, and the affine part undoes them (scale ``sqrt(var + eps)``, shift
``bias + mean``). The result is checked against the file itself through ONNX Runtime.
A file read over test-time views (``emotion-train views``) starts from the model inside it.
"""

from __future__ import annotations

import ast
import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import numpy_helper

from app.face.preprocess import PreprocessSpec
from app.model.card import ModelCard, ModelCardError, read_card
from training.models.layers.dynamic_conv import DynamicConv
from training.view_graph import VIEW_PREFIX, inner_model

log = logging.getLogger(__name__)

PREFIX, HALF, FUSED_BIAS = "model.", "__fp16", "_bias"
NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
SCOPE = "pkg.torch.onnx.name_scopes"
# Modules whose parameters the exporter may turn into unnamed constants, and the operator
# each parameter feeds (GroupNorm becomes InstanceNormalization, then Mul and Add; a
# Linear on a non-2D input becomes MatMul by the transposed weight, then Add).
UNNAMED = {
    torch.nn.GroupNorm: {"Mul": ("weight", np.asarray), "Add": ("bias", np.asarray)},
    torch.nn.PReLU: {"PRelu": ("weight", np.asarray)},
    torch.nn.Linear: {"MatMul": ("weight", np.transpose), "Add": ("bias", np.asarray)},
}


class WarmStartError(ValueError):
    """The file's weights do not fit the architecture, or do not reproduce its outputs."""


@dataclass(frozen=True)
class WarmStart:
    """What ``--init`` loaded, for the log and the model card."""

    path: str
    card: ModelCard
    rebuilt_norms: int
    max_logit_error: float


def read_init_card(path: str | Path) -> ModelCard:
    try:
        return read_card(path)
    except (ModelCardError, OSError) as error:
        raise WarmStartError(f"--init {path}: {error}") from None


def provenance(path: Path, arch: str | None) -> dict:
    """What the run starts from, as stored in its settings and written into its card."""
    card = read_init_card(path)
    if card.member_names:
        raise WarmStartError(f"--init {path}: an ensemble has no single set of weights to start from")
    if arch is not None and arch != card.architecture:
        raise WarmStartError(f"--init {path} holds {card.architecture}, not --arch {arch}")
    training = card.training
    return {
        "path": str(path), "file": path.name, "architecture": card.architecture,
        "labels": list(card.labels), "weights_sha256": training.get("weights_sha256"),
        "epochs": training.get("epochs"), "seconds": training.get("seconds"),
        "val_accuracy": card.metrics.get("val_accuracy"), "command": training.get("command"),
        "views": training.get("views"),
    }


def fit_recipe(recipe, input_size: int, init: dict, args) -> tuple:
    """The recipe with the started-from model's input: its size, channels, colour space and
    gamma are part of its weights, so an option that contradicts them is refused; the landmark
    emphasis may change (a fine-tune adapts the weights to it)."""
    spec = read_init_card(init["path"]).preprocess
    wanted = {"input_size": spec.input_size[0], "channels": spec.channels,
              "color_space": spec.color_space, "gamma": spec.gamma}
    clashes = [f"--{name.replace('_', '-')} {getattr(args, name)} (the file has {value})"
               for name, value in wanted.items()
               if getattr(args, name, None) is not None and getattr(args, name) != value]
    if clashes:
        raise WarmStartError(f"--init {init['path']}: {', '.join(clashes)}")
    given = getattr(args, "landmark_emphasis", None)
    emphasis = spec.landmark_emphasis if given is None else given
    return replace(recipe, channels=spec.channels, color_space=spec.color_space,
                   gamma=spec.gamma, landmark_emphasis=emphasis), spec.input_size[0]


def spec_of(init: dict) -> PreprocessSpec:
    """The preprocessing the started-from weights were trained with, normalisation included."""
    return read_init_card(init["path"]).preprocess


def exported_weights(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """The file's named parameters as float32 arrays, keyed by their PyTorch names."""
    weights = {}
    for initializer in graph.initializer:
        name = initializer.name.removeprefix(VIEW_PREFIX).removesuffix(HALF)
        if name.startswith(PREFIX):
            weights[name.removeprefix(PREFIX)] = numpy_helper.to_array(initializer).astype(np.float32)
    return weights


def scoped_constants(graph: onnx.GraphProto) -> dict[str, list[tuple[str, np.ndarray]]]:
    """{module name: [(operator, float constant it takes)]}, from the module scope the
    exporter records on each node; a constant stored in half precision is followed
    through its Cast."""
    constants = {item.name: item for item in graph.initializer}
    cast_from = {node.output[0]: node.input[0] for node in graph.node
                 if node.op_type == "Cast" and node.input[0] in constants}
    found = defaultdict(list)
    for node in graph.node:
        scope = next((item.value for item in node.metadata_props if item.key == SCOPE), None)
        if not scope:
            continue
        scopes = ast.literal_eval(scope)
        module = scopes[-2].removeprefix(PREFIX) if len(scopes) >= 2 else ""
        for name in node.input[1:]:
            source = constants.get(cast_from.get(name, name))
            if source is not None and source.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16):
                found[module].append((node.op_type, numpy_helper.to_array(source).astype(np.float32)))
    return found


def producers_of_norms(model: torch.nn.Module, example: torch.Tensor) -> dict[str, str]:
    """{norm name: name of the convolution whose output it normalises}, found by running
    the model once: a norm's input is the very tensor a convolution returned."""
    made_by, fed_by, hooks = {}, {}, []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            hooks.append(module.register_forward_hook(
                lambda _m, _i, output, name=name: made_by.__setitem__(id(output), name)))
        elif isinstance(module, NORMS):
            hooks.append(module.register_forward_pre_hook(
                lambda _m, inputs, name=name: fed_by.__setitem__(name, made_by.get(id(inputs[0])))))
    _run_hooked(model, example, hooks)
    return {norm: conv for norm, conv in fed_by.items() if conv is not None}


def _run_hooked(model: torch.nn.Module, batch: torch.Tensor, hooks: list) -> None:
    """One eval-mode forward pass for the hooks to watch; the hooks go afterwards."""
    try:
        with torch.no_grad():
            model.eval()(batch)
    finally:
        for hook in hooks:
            hook.remove()


def load_exported(model: torch.nn.Module, path: str | Path, crops: torch.Tensor) -> WarmStart:
    """Load ``path``'s weights into ``model`` (rebuilding fused norms on ``crops``, a
    batch of preprocessed training crops) and check it against the file."""
    card = read_init_card(path)
    proto = inner_model(onnx.load(str(path)))
    graph = proto.graph
    weights = exported_weights(graph)
    state = model.state_dict()
    producers = producers_of_norms(model, crops[:2])
    fused = {}  # norm name -> the fused bias of the convolution before it
    loaded = {}
    for key, tensor in state.items():
        if key in weights:
            if weights[key].shape != tuple(tensor.shape):
                raise WarmStartError(f"--init {path}: {key} has shape {weights[key].shape}, "
                                     f"{card.architecture} needs {tuple(tensor.shape)}")
            loaded[key] = torch.from_numpy(weights[key])
    modules = dict(model.named_modules())
    loaded.update(_unnamed_parameters(modules, state, loaded, scoped_constants(graph)))
    for name, module in modules.items():
        if not isinstance(module, NORMS) or f"{name}.weight" in loaded:
            continue
        conv = producers.get(name)
        fused[name] = torch.from_numpy(_fused_bias(path, weights, name, conv, modules))
        if getattr(modules[conv], "bias", None) is not None:
            loaded[f"{conv}.bias"] = torch.zeros_like(state[f"{conv}.bias"])
    missing = [key for key in state if key not in loaded and not key.endswith("num_batches_tracked")
               and key.rsplit(".", 1)[0] not in fused]
    if missing:
        raise WarmStartError(f"--init {path}: the file has no weights for {missing[:5]}"
                             f"{' ...' if len(missing) > 5 else ''} of {card.architecture}")
    model.load_state_dict(loaded, strict=False)
    _rebuild_norms(model, modules, fused, crops)
    expected = _onnx_logits(proto, crops[:64])
    error = _max_logit_error(model, crops[:64], expected)
    scale = max(1.0, float(np.abs(expected).max()))
    if error > 0.02 * scale:
        raise WarmStartError(f"--init {path}: the loaded weights give logits up to {error:.3g} away "
                             f"from the file's; it was not exported from this architecture")
    return WarmStart(str(path), card, len(fused), error)


def _fused_bias(path, weights: dict, norm: str, conv: str | None, modules: dict) -> np.ndarray:
    """The bias the exporter gave a convolution when it fused the norm after it into it:
    a new ``<conv>.weight_bias``, or the convolution's own bias, overwritten."""
    if conv is not None:
        if f"{conv}.weight{FUSED_BIAS}" in weights:
            return weights[f"{conv}.weight{FUSED_BIAS}"]
        if getattr(modules[conv], "bias", None) is not None and f"{conv}.bias" in weights:
            return weights[f"{conv}.bias"]
    raise WarmStartError(f"--init {path}: no weights for the norm {norm}; the file was not "
                         "exported from this architecture by emotion-train export")


def _unnamed_parameters(modules: dict, state: dict, loaded: dict, constants: dict) -> dict:
    """Parameters the exporter stored as unnamed constants (``UNNAMED``), by module scope."""
    found = {}
    for name, module in modules.items():
        if isinstance(module, DynamicConv):
            found.update(_dynamic_conv_parameters(name, module, constants.get(name, [])))
            continue
        roles = next((roles for kind, roles in UNNAMED.items() if isinstance(module, kind)), None)
        if roles is None:
            continue
        for operator, value in constants.get(name, []):
            if operator not in roles:
                continue
            parameter, transform = roles[operator]
            key, value = f"{name}.{parameter}", np.ascontiguousarray(transform(value))
            if key in state and key not in loaded and value.size == state[key].numel():
                found[key] = torch.from_numpy(value.reshape(state[key].shape))
    return found


def _dynamic_conv_parameters(name: str, module: DynamicConv, constants: list) -> dict:
    """A dynamic convolution's K kernels from the one convolution it exports as (its
    output channels run group, kernel, channel: ``DynamicConv.forward``); its softmax
    temperature was folded into the attention, which holds only at the final value 1."""
    groups, kernels = module.groups, module.kernels
    per_group = module.out_channels // groups
    found = {f"{name}.temperature": torch.tensor(1.0)}
    for operator, value in constants:
        if operator != "Conv":
            continue
        unstacked = torch.from_numpy(value).unflatten(0, (groups, kernels, per_group)).transpose(0, 1)
        found[f"{name}.{'weight' if value.ndim > 1 else 'bias'}"] = unstacked.flatten(1, 2)
    return found


def _rebuild_norms(model, modules, fused: dict[str, torch.Tensor], crops: torch.Tensor) -> None:
    """Identity norms plus the fused bias first; then statistics measured on ``crops``,
    with an affine part that undoes them, so the function stays the file's."""
    for name, bias in fused.items():
        norm = modules[name]
        with torch.no_grad():
            norm.weight.fill_(1.0)
            norm.bias.copy_(bias)
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
    inputs: dict[str, list[torch.Tensor]] = {name: [] for name in fused}
    hooks = [modules[name].register_forward_pre_hook(
        lambda _m, args, name=name: inputs[name].append(args[0].detach()))
        for name in fused]
    _run_hooked(model, crops, hooks)
    for name, batches in inputs.items():
        norm, values = modules[name], torch.cat(batches)
        dims = [0] + list(range(2, values.dim()))
        mean, var = values.mean(dim=dims), values.var(dim=dims, unbiased=False)
        with torch.no_grad():
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            norm.weight.copy_(torch.sqrt(var + norm.eps))
            norm.bias.add_(mean)


def _onnx_logits(proto: onnx.ModelProto, crops: torch.Tensor) -> np.ndarray:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: crops.numpy()})[0]


def _max_logit_error(model: torch.nn.Module, crops: torch.Tensor, expected: np.ndarray) -> float:
    """Largest difference between the model's logits and the file's ``expected`` ones, mirror-
    averaged (the exporter's ``--mirror-average`` graph) or single-view, whichever the file is."""
    with torch.no_grad():
        model.eval()
        single = model(crops).numpy()
        mirrored = (single + model(crops.flip(-1)).numpy()) / 2
    return float(min(np.abs(single - expected).max(), np.abs(mirrored - expected).max()))
