"""Face to tensor: the one place a face crop becomes model input.

Both halves of the project call this module: the app on aligned crops cut from live
frames, the training data pipeline on dataset images (already crops, or aligned here
when a source is not). A live crop therefore goes through the same resize, colour
conversion, adaptive gamma and normalisation as every training crop.

Steps, in order:
1. ``crop_face``: similarity-align a face in a frame to the card's template (frames);
   ``prepare_crop``: resize an image that already is a face crop (datasets).
   Both return uint8 crops of the model's size, in the model's colour space.
2. (training only) augmentation on the uint8 crop.
3. ``to_tensor``: adaptive gamma when the card asks for it, scale to [0, 1],
   per-channel normalisation, HWC -> CHW float32; ``crops_to_batch`` for many crops,
   ``faces_to_batch`` for steps 1 and 3 on every face of a frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.alignment import AlignmentTemplate, align_face, load_template
from app.gamma import adaptive_gamma
from app.model_card import ModelCard


@dataclass(frozen=True)
class PreprocessSpec:
    """The preprocessing a model expects; built from its card or from training options."""

    input_size: tuple[int, int]
    channels: int
    color_space: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    gamma: bool
    alignment_template: str

    @classmethod
    def from_card(cls, card: ModelCard) -> PreprocessSpec:
        return cls(card.input_size, card.channels, card.color_space, card.mean, card.std,
                   card.gamma, card.alignment_template)

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


def faces_to_batch(
    frame: np.ndarray, faces_anchors: Sequence[Mapping[str, np.ndarray]], spec: PreprocessSpec
) -> tuple[np.ndarray, list[float]]:
    """Every face of a frame -> one (N, C, H, W) batch and the gamma applied to each."""
    return crops_to_batch([crop_face(frame, anchors, spec) for anchors in faces_anchors], spec)
