"""The model card: what an exported ONNX model says about itself.

Every emotion model is one ONNX file whose ``metadata_props`` carry this card, so the
app needs no per-architecture code: the card names the labels in output order and the
exact preprocessing the model was trained with (a ``PreprocessSpec``, stored flat as
``emotion.input_size``, ``emotion.mean`` ...). Keys are prefixed ``emotion.`` so they
sit beside any other tool's metadata. Reading uses ONNX Runtime (the app's only ONNX
dependency); writing edits a ``ModelProto``'s ``metadata_props`` in place, so the
training side can embed a card without this module importing ``onnx``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from app.face.preprocess import PreprocessSpec
from app.model.card_text import (
    MAX_NAME,
    MAX_TEXT,
    label_problems,
    member_problems,
    metric_problems,
    quoted,
    text_problems,
)
from app.model.onnx_header import OnnxHeaderError, OnnxTextError, read_header
from app.model.views import ViewPlan
from app.system.plain_values import json_object, strict_json, text_value, value_list

log = logging.getLogger(__name__)

PREFIX = "emotion."
CARD_SCHEMA = "1"
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
MEMBER_OUTPUT_NAME = "member_probabilities"
"""Optional second output of an ensemble: each member's probabilities, [N, M, K], members
in the order of the card's ``training["members"]``."""


class ModelCardError(ValueError):
    """A file is not a usable emotion model: unreadable, foreign, or inconsistent."""


@dataclass(frozen=True)
class ModelCard:
    architecture: str
    labels: tuple[str, ...]
    preprocess: PreprocessSpec
    """How a face becomes this model's input; the app and training share it."""
    dataset: str
    version: str = "1"
    metrics: Mapping[str, float] = field(default_factory=dict)
    """Measured figures, e.g. ``val_accuracy``, ``val_macro_f1`` (fractions in [0, 1])."""
    training: Mapping[str, Any] = field(default_factory=dict)
    """How it was made: command, epochs, seconds, parameters, weights SHA-256, notes."""
    views: ViewPlan = field(default_factory=ViewPlan)
    """The test-time views chosen on validation data, applied at run time (``app.model.views``);
    empty on a card from before, whose file reads each face once (or carries its views inside)."""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ModelCardError("invalid model card: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Every inconsistency in the card, as readable sentences."""
        problems = []
        if not self.architecture:
            problems.append("architecture is empty")
        for name, limit in (("architecture", MAX_NAME), ("dataset", MAX_TEXT), ("version", MAX_NAME)):
            problems += text_problems(name, getattr(self, name), limit)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            problems.append(f"labels must be at least two distinct names, got "
                            f"{quoted(list(self.labels), 200)}")
        problems += label_problems(self.labels)
        problems += member_problems(self.training.get("members"))
        return problems + metric_problems(self.metrics) + self.preprocess.problems()

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def member_names(self) -> tuple[str, ...]:
        """An ensemble's member names (``training["members"][i]["name"]``), in the order of
        its member output; () for a single model."""
        members = self.training.get("members")
        if not isinstance(members, list):
            return ()
        return tuple(member["name"] for member in members)  # problems() made sure of the type

    def to_metadata(self) -> dict[str, str]:
        """The card as ONNX ``metadata_props`` (string to string)."""
        metadata = {PREFIX + "schema": CARD_SCHEMA}
        flat = {name: getattr(self, name) for name in _CARD_KEYS} | asdict(self.preprocess)
        flat["views"] = self.views.to_values()
        for name, value in flat.items():
            metadata[PREFIX + name] = value if isinstance(value, str) else json.dumps(value)
        return metadata

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], source: str = "model") -> ModelCard:
        """Parse a card; raises ModelCardError naming every missing or malformed key."""
        missing = [PREFIX + name for name in _REQUIRED_KEYS if PREFIX + name not in metadata]
        if missing:
            found = sorted(metadata) or "none"
            raise ModelCardError(
                f"{source} is not an emotion model of this app: its ONNX metadata lacks "
                f"{', '.join(missing)} (metadata keys found: {found})"
            )
        values: dict[str, Any] = {}
        for name in (*_CARD_KEYS, *_PREPROCESS_KEYS):
            raw = metadata.get(PREFIX + name)
            if raw is None:
                continue
            if name in _TEXT_KEYS:
                values[name] = raw
                continue
            try:
                values[name] = strict_json(raw)
            except ValueError as error:  # JSONDecodeError included
                raise ModelCardError(f"{source}: metadata {PREFIX}{name} is not JSON of finite "
                                     f"numbers: {error}") from None
        try:
            preprocess = PreprocessSpec.from_values(values)
            return cls(
                architecture=values["architecture"],
                labels=tuple(text_value("labels", label) for label in value_list("labels", values["labels"])),
                preprocess=preprocess,
                dataset=values["dataset"],
                version=values.get("version", "1"),
                metrics=json_object("metrics", values.get("metrics", {})),
                training=json_object("training", values.get("training", {})),
                views=ViewPlan.from_values(json_object("views", values.get("views", {}))),
            )
        except ModelCardError as error:
            raise ModelCardError(f"{source}: {error}") from None
        except (TypeError, ValueError) as error:
            raise ModelCardError(f"{source}: malformed model card: {error}") from None

    def embed(self, model_proto: Any) -> None:
        """Write this card into an ``onnx.ModelProto``'s metadata, replacing any older card."""
        kept = [(p.key, p.value) for p in model_proto.metadata_props if not p.key.startswith(PREFIX)]
        del model_proto.metadata_props[:]
        for key, value in kept + sorted(self.to_metadata().items()):
            entry = model_proto.metadata_props.add()
            entry.key, entry.value = key, value


_CARD_KEYS = tuple(f.name for f in fields(ModelCard) if f.name != "preprocess")
_PREPROCESS_KEYS = tuple(f.name for f in fields(PreprocessSpec))
_REQUIRED_KEYS = ("architecture", "labels", "dataset",
                  *(f.name for f in fields(PreprocessSpec) if f.default is MISSING))
"""Keys every card has; a preprocessing option added later (``landmark_emphasis``) has a
default that reproduces what older files did."""
_TEXT_KEYS = ("architecture", "color_space", "alignment_template", "dataset", "version")
"""Stored as plain strings; every other key is JSON."""


def read_card(path: str | Path) -> ModelCard:
    """The card of an ONNX file, checked against the model's real inputs and outputs.

    Read from the file's header (``app.model.onnx_header``), not through an ONNX Runtime
    session, which would load every weight. Raises ModelCardError with a readable reason
    for a missing, corrupt or foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelCardError(f"{path}: no such model file")
    try:
        header = read_header(path)
    except OnnxTextError as error:
        raise ModelCardError(f"{path}: its ONNX metadata is not valid UTF-8 text ({error}), so it "
                             "carries no readable model card") from None
    except OnnxHeaderError as error:
        raise ModelCardError(f"{path}: not a readable ONNX model ({error})") from None
    except OSError as error:
        raise ModelCardError(f"{path}: cannot be read ({error.strerror or error})") from None
    return checked_card(header.metadata, header.inputs, header.outputs, str(path))


_session_threads = 0
"""Threads per operator for sessions opened from now on; 0: ONNX Runtime's default (one
per core), see ``set_session_threads``."""


def set_session_threads(threads: int) -> None:
    """Limit the sessions this process opens from now on to ``threads`` threads per
    operator (0: ONNX Runtime's default, one per core): ``emotion-app batch`` runs one
    session per worker process, and N workers each taking every core would fight over them."""
    global _session_threads
    if threads < 0:
        raise ValueError(f"threads must be 0 (ONNX Runtime's default) or more, got {threads}")
    _session_threads = threads


def open_session(path: str | Path, providers: list):
    """An ONNX Runtime session, with unreadable files turned into ModelCardError."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ModelCardError(f"{path}: no such model file")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; provider fallbacks are reported by the caller
    options.intra_op_num_threads = _session_threads
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as error:  # ORT raises its own pybind exception types
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelCardError(f"{path}: not a readable ONNX model ({reason})") from None


def card_of_session(session, source: str) -> ModelCard:
    """Parse the card of an open session and check it matches the graph's signature."""
    try:
        metadata = session.get_modelmeta().custom_metadata_map
    except UnicodeDecodeError as error:  # ONNX Runtime decodes metadata as UTF-8 when read
        raise ModelCardError(f"{source}: its ONNX metadata is not valid UTF-8 text ({error.reason} "
                             f"at byte {error.start}), so it carries no readable model card") from None
    return checked_card(metadata, session.get_inputs(), session.get_outputs(), source)


def checked_card(metadata: Mapping[str, str], inputs: Sequence, outputs: Sequence,
                 source: str) -> ModelCard:
    """The card in ``metadata``, checked against the graph's inputs and outputs (anything
    with ``name`` and ``shape``: ONNX Runtime's node arguments, or ``TensorSignature``)."""
    card = ModelCard.from_metadata(metadata, source)
    spec = card.preprocess
    problems = []
    if [i.name for i in inputs] != [INPUT_NAME]:
        problems.append(f"inputs are {[i.name for i in inputs]}, expected ['{INPUT_NAME}']")
    elif not _shape_matches(inputs[0].shape, [None, spec.channels, *spec.input_size]):
        problems.append(
            f"input shape {inputs[0].shape} does not match the card's "
            f"[N, {spec.channels}, {spec.input_size[0]}, {spec.input_size[1]}]"
        )
    elif isinstance(inputs[0].shape[0], int):
        problems.append(f"input batch axis is fixed at {inputs[0].shape[0]}; it must be dynamic")
    if not outputs or outputs[0].name != OUTPUT_NAME:
        problems.append(f"first output is {[o.name for o in outputs][:1]}, expected '{OUTPUT_NAME}'")
    elif not _shape_matches(outputs[0].shape, [None, card.num_classes]):
        problems.append(
            f"output shape {outputs[0].shape} does not match the card's {card.num_classes} labels"
        )
    members = [o for o in outputs if o.name == MEMBER_OUTPUT_NAME]
    if members and not card.member_names:
        problems.append(f"output '{MEMBER_OUTPUT_NAME}' but the card lists no members")
    elif members and not _shape_matches(members[0].shape, [None, len(card.member_names),
                                                           card.num_classes]):
        problems.append(f"output '{MEMBER_OUTPUT_NAME}' has shape {members[0].shape}; the card's "
                        f"{len(card.member_names)} members and {card.num_classes} labels need "
                        f"[N, {len(card.member_names)}, {card.num_classes}]")
    if problems:
        raise ModelCardError(f"{source}: model does not follow the contract: " + "; ".join(problems))
    return card


def _shape_matches(actual: list, expected: list) -> bool:
    """Compare an ORT shape (ints, or strings/None for symbolic axes) with the expected one."""
    if len(actual) != len(expected):
        return False
    return all(
        want is None or not isinstance(have, int) or have == want
        for have, want in zip(actual, expected)
    )
