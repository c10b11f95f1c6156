"""Face to tensor: the one place a face crop becomes model input.

Both halves of the project call this module: the app on aligned crops cut from live
frames, the training data pipeline on dataset images (already crops, or aligned here
when a source is not). A live crop therefore goes through the same resize, colour
conversion, adaptive gamma and normalisation as every training crop.

Steps, in order:
1. ``crop_face``: similarity-align a face in a frame to the card's template (frames);
   ``prepare_crop``: resize an image that already is a face crop (datasets).
   Both return uint8 crops of the model's size, in the model's colour space.
2. ``emphasise_crop``: landmark emphasis when the card asks for it (``app.face.emphasis``):
   the features kept, the rest of the face faded; ``frame_outline`` draws the regions from
   a live face's landmarks, training from the landmarks found in a dataset crop.
3. (training only) augmentation on the uint8 crop.
4. ``to_tensor``: adaptive gamma when the card asks for it, scale to [0, 1],
   per-channel normalisation, HWC -> CHW float32; ``crops_to_batch`` for many crops.

``PreprocessSpec`` is that contract as a value: a model card carries one
(``app.model.card.ModelCard.preprocess``), and training builds one from its options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.face.alignment import (
    AlignmentTemplate,
    align_face,
    alignment_matrix,
    available_templates,
    load_template,
)
from app.face.emphasis import FEATURE_POINT_INDICES, FeatureOutline, emphasise
from app.face.gamma import adaptive_gamma
from app.system.plain_values import finite_number, flag, quoted, text_value, value_list, whole_number

COLOR_SPACES = ("gray", "rgb")
MIN_SIDE, MAX_SIDE = 8, 1024
"""The crop sizes a model may take, in pixels a side (the published models take 48 to 224)."""


@dataclass(frozen=True)
class PreprocessSpec:
    """The preprocessing a model expects: what its card says, or what training used."""

    input_size: tuple[int, int]
    """(height, width) of the crop the model takes."""
    channels: int
    color_space: str
    """``gray``: one luminance plane, replicated when ``channels`` is 3; ``rgb``: colour."""
    mean: tuple[float, ...]
    std: tuple[float, ...]
    """Per-channel normalisation of pixels scaled to [0, 1]: ``(x - mean) / std``."""
    gamma: bool
    """Whether adaptive gamma correction is applied to the crop."""
    alignment_template: str
    landmark_emphasis: float = 0.0
    """How far the face off its eyes, brows, nose and mouth is faded toward the crop's mean
    (``app.face.emphasis``): 0 off (cards made before the option have none), 1 flat."""

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> PreprocessSpec:
        """A spec from stored plain values (a card's JSON, a checkpoint's dict), each already
        of its type: lists become tuples, nothing is coerced (a JSON ``"false"`` is not
        False, ``"abc"`` not three numbers), numbers must be finite. Raises KeyError for a
        missing field, TypeError or ValueError for a malformed one."""
        return cls(
            input_size=tuple(whole_number("input_size", side)
                             for side in value_list("input_size", values["input_size"])),
            channels=whole_number("channels", values["channels"]),
            color_space=text_value("color_space", values["color_space"]),
            mean=tuple(finite_number("mean", value) for value in value_list("mean", values["mean"])),
            std=tuple(finite_number("std", value) for value in value_list("std", values["std"])),
            gamma=flag("gamma", values["gamma"]),
            alignment_template=text_value("alignment_template", values["alignment_template"]),
            landmark_emphasis=finite_number("landmark_emphasis", values.get("landmark_emphasis", 0.0)),
        )

    @property
    def input_text(self) -> str:
        """``1x48x48 gray``: channels, height, width and colour space, as the tools print it."""
        return f"{self.channels}x{self.input_size[0]}x{self.input_size[1]} {self.color_space}"

    def problems(self) -> list[str]:
        """Every inconsistency, as readable sentences (a card reports them as its own)."""
        problems = []
        sides = self.input_size
        if len(sides) != 2 or not MIN_SIDE <= min(sides) <= max(sides) <= MAX_SIDE:
            problems.append(f"input_size must be (height, width) from {MIN_SIDE} to {MAX_SIDE}, got "
                            f"{quoted(self.input_size)}")
        elif self.input_size[0] != self.input_size[1]:
            problems.append(f"input_size must be square (alignment templates are), got {self.input_size}")
        templates = available_templates()
        if self.alignment_template not in templates:
            problems.append(f"unknown alignment template {self.alignment_template!r}; "
                            f"this app has {sorted(templates)}")
        if self.channels not in (1, 3):
            problems.append(f"channels must be 1 or 3, got {self.channels}")
        if self.color_space not in COLOR_SPACES:
            problems.append(f"color_space must be one of {COLOR_SPACES}, got {self.color_space!r}")
        if self.color_space == "rgb" and self.channels != 3:
            problems.append("an rgb model needs 3 channels")
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) != self.channels:
                problems.append(f"{name} needs {self.channels} values, got {list(values)}")
        if any(value <= 0 for value in self.std):
            problems.append(f"std must be positive, got {list(self.std)}")
        if not 0.0 <= self.landmark_emphasis <= 1.0:
            problems.append(f"landmark_emphasis must be in [0, 1], got {self.landmark_emphasis}")
        return problems

    @property
    def template(self) -> AlignmentTemplate:
        """The alignment template (``load_template`` caches it; the spec stays plain data)."""
        return load_template(self.alignment_template)


def _convert_colour(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """uint8 BGR or gray image -> (H, W, C) in the spec's colour space and channel count."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if spec.color_space == "gray":
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return np.repeat(gray[:, :, None], spec.channels, axis=2)
    colour = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image[:, :, ::-1]
    return np.ascontiguousarray(colour)


def prepare_crop(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """A dataset image that already is a face crop -> uint8 (H, W, C) at the model's size."""
    height, width = spec.input_size
    if image.shape[:2] != (height, width):
        shrinking = image.shape[0] > height or image.shape[1] > width
        image = cv2.resize(image, (width, height),
                           interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return _convert_colour(image, spec)


def crop_face(frame: np.ndarray, anchors: Mapping[str, np.ndarray], spec: PreprocessSpec) -> np.ndarray:
    """Align a face in a full frame to the spec's template -> uint8 (H, W, C) crop."""
    height, width = spec.input_size
    if height != width:
        raise ValueError(f"alignment templates are square; got input size {spec.input_size}")
    return _convert_colour(align_face(frame, anchors, spec.template, height), spec)


def frame_outline(anchors: Mapping[str, np.ndarray], mesh: np.ndarray | None,
                  spec: PreprocessSpec) -> FeatureOutline:
    """A live face's feature regions in its aligned crop (``crop_face``'s): from the mesh
    when it was found, else ellipses on the detector's anchors."""
    size = spec.input_size[0]
    matrix = alignment_matrix(anchors, spec.template, size)

    def to_crop(points: np.ndarray) -> np.ndarray:  # frame pixels -> [0, 1] crop units
        points = np.asarray(points, np.float64)[:, :2] - 0.5
        return (points @ matrix[:, :2].T + matrix[:, 2] + 0.5) / size

    if mesh is not None:
        return FeatureOutline.from_feature_points(to_crop(mesh[FEATURE_POINT_INDICES]))
    return FeatureOutline.from_anchors({name: to_crop(np.asarray(point)[None])[0]
                                        for name, point in anchors.items()}, "detector")


def template_outline(spec: PreprocessSpec) -> FeatureOutline:
    """The feature regions where the alignment template puts them: the outline of a crop
    in which no face was found."""
    return FeatureOutline.from_anchors(spec.template.points, "template")


def emphasise_crop(crop: np.ndarray, outline: FeatureOutline, spec: PreprocessSpec) -> np.ndarray:
    """The crop the model sees: ``crop`` itself when the spec has no landmark emphasis."""
    if spec.landmark_emphasis == 0.0:
        return crop
    return emphasise(crop, outline, spec.landmark_emphasis)


def to_tensor(crop: np.ndarray, spec: PreprocessSpec) -> tuple[np.ndarray, float]:
    """uint8 (H, W, C) crop -> normalised float32 (C, H, W) and the gamma applied (1.0 if off)."""
    gamma = 1.0
    if spec.gamma:
        crop, gamma = adaptive_gamma(crop)
    pixels = crop.astype(np.float32) * np.float32(1.0 / 255.0)
    pixels = (pixels - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)), gamma


def crops_to_batch(crops: Sequence[np.ndarray], spec: PreprocessSpec) -> tuple[np.ndarray, list[float]]:
    """uint8 crops -> one (N, C, H, W) batch and the gamma applied to each (1.0 if off)."""
    height, width = spec.input_size
    batch = np.empty((len(crops), spec.channels, height, width), dtype=np.float32)
    gammas = []
    for index, crop in enumerate(crops):
        batch[index], gamma = to_tensor(crop, spec)
        gammas.append(gamma)
    return batch, gammas
