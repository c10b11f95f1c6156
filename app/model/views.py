"""Test-time views, applied at run time: one model file read once per face, or over its
mirror image and slightly rotated, zoomed or shifted copies of the crop.

A model trained with small affine augmentations and flips reads each face a little
differently at each pose; averaging over a few such views at test time (as Khaireddin &
Chen's ten-crop evaluation does, "Facial Emotion Recognition: State of the Art Performance
on FER2013", arXiv:2105.03588) steadies the read, at one inference per view. The model
file stays plain (``input`` -> ``logits``, one read per crop); its card records the
views chosen on validation data and the validation figure of each setting
(``ViewPlan``), and the app decides per run how many to pay for (``SETTINGS``):

- ``none``: the crop once;
- ``mirror``: the crop and its mirror image, logits averaged;
- ``all``: every view on the card, each with its mirror when the card chose it: logits
  averaged over the mirror pair, probabilities over the views.

The views are made from the normalised crop tensor by bilinear sampling with replicated
borders (as the training augmentation pads), the same arithmetic as ONNX's GridSample
with ``align_corners=0``, so a file that once carried its views inside its graph reads the
same. ``expand`` makes every face's views one batch (one ONNX Runtime call for all views of
all faces); ``pool`` folds the outputs back to one row per face. Training scores the
settings through these two functions, so a card's figures are the app's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

SETTINGS = ("none", "mirror", "all")
"""Concrete settings, cheapest first."""
CHOICES = ("auto", *SETTINGS)
"""What a user may ask for: ``auto`` is ``all`` for files, batch and the API, and live
the most the frame budget allows (``app.read_schedule``)."""
SHIFT = 2 / 48
"""Two pixels of a 48-pixel crop, as a fraction of the side."""


def checked_choice(value: str) -> str:
    """``value`` if it is one of ``CHOICES``; ValueError naming them otherwise."""
    if value not in CHOICES:
        raise ValueError(f"unknown views setting {value!r}; valid: {', '.join(CHOICES)}")
    return value


@dataclass(frozen=True)
class View:
    """One copy of the crop: rotated by ``degrees``, scaled by ``scale`` about its centre,
    then shifted by ``shift_x``, ``shift_y`` (fractions of the side, right and down)."""

    degrees: float = 0.0
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def source_matrix(self) -> np.ndarray:
        """2x3 map from an output position to the input position it samples, both from -1
        to 1 across the crop (pixel centres at the odd steps)."""
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
_WORDS = {"rotate": "rotated -6 and +6 degrees", "zoom": "zoomed 0.92x and 1.08x",
          "shift": f"shifted {SHIFT * 48:g} px of 48 diagonally four ways"}


def views_of(names: Iterable[str]) -> tuple[View, ...]:
    """The crop itself and every view of the named sets; ValueError naming the valid sets."""
    names = list(names)
    unknown = [name for name in names if name not in VIEW_SETS]
    if unknown:
        raise ValueError(f"unknown view set(s) {unknown}; valid: {', '.join(VIEW_SETS)}")
    return (IDENTITY, *(view for name in dict.fromkeys(names) for view in VIEW_SETS[name]))


@dataclass(frozen=True)
class ViewPlan:
    """A card's test-time views: the sets and mirror chosen on validation data, and the
    validation accuracy of each setting (fractions, by ``SETTINGS`` name)."""

    sets: tuple[str, ...] = ()
    mirror: bool = False
    val_accuracy: Mapping[str, float] = field(default_factory=dict)
    chosen_on: str = ""
    """Where the choice was made, e.g. ``FER2013 val``; never test data."""

    def __post_init__(self) -> None:
        views_of(self.sets)
        unknown = sorted(set(self.val_accuracy) - set(SETTINGS))
        if unknown:
            raise ValueError(f"views figures for unknown settings {unknown}; valid: {', '.join(SETTINGS)}")

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ViewPlan:
        """From a card's JSON; TypeError or ValueError when malformed."""
        if not isinstance(values, Mapping):
            raise TypeError(f"views must be an object, got {type(values).__name__}")
        sets, mirror = values.get("sets", []), values.get("mirror", False)
        accuracy, chosen_on = values.get("val_accuracy", {}), values.get("chosen_on", "")
        if not isinstance(sets, list) or any(name not in VIEW_SETS for name in sets):
            raise ValueError(f"views.sets must be a list of {', '.join(VIEW_SETS)}; got {sets!r}")
        if not isinstance(mirror, bool) or not isinstance(chosen_on, str):
            raise TypeError("views.mirror must be true or false and views.chosen_on text")
        if not isinstance(accuracy, Mapping) or any(
                key not in SETTINGS or isinstance(value, bool) or not isinstance(value, (int, float))
                or not 0.0 <= value <= 1.0 for key, value in accuracy.items()):
            raise ValueError(f"views.val_accuracy must map {', '.join(SETTINGS)} to accuracies "
                             f"from 0 to 1; got {accuracy!r}")
        return cls(tuple(sets), mirror, {key: float(value) for key, value in accuracy.items()}, chosen_on)

    def to_values(self) -> dict[str, Any]:
        return {"sets": list(self.sets), "mirror": self.mirror,
                "val_accuracy": dict(self.val_accuracy), "chosen_on": self.chosen_on}

    def views(self, setting: str) -> tuple[tuple[View, ...], bool]:
        """(the views, whether each is also read mirrored) of a concrete setting."""
        if setting not in SETTINGS:
            raise ValueError(f"unknown views setting {setting!r}; valid: {', '.join(SETTINGS)}")
        if setting == "none":
            return (IDENTITY,), False
        if setting == "mirror":
            return (IDENTITY,), self.mirror
        return views_of(self.sets), self.mirror

    def reads(self, setting: str) -> int:
        """Inferences per face of a setting."""
        views, mirror = self.views(setting)
        return len(views) * (2 if mirror else 1)

    def distinct(self) -> tuple[str, ...]:
        """The settings that differ from the one before (cheapest first): ``mirror`` is
        ``none`` on a card without mirror, ``all`` is ``mirror`` without view sets."""
        found: list[str] = []
        for setting in SETTINGS:
            if not found or self.views(setting) != self.views(found[-1]):
                found.append(setting)
        return tuple(found)

    def describe(self) -> str:
        """For the card: what ``all`` reads."""
        views, mirror = self.views("all")
        if len(views) == 1:
            return ("at run time (--views all): the crop and its mirror image, logits averaged; "
                    "2 inferences per face" if mirror else "one read of the crop (no test-time views chosen)")
        parts = ["the crop"] + [_WORDS[name] for name in dict.fromkeys(self.sets)]
        return (f"at run time (--views all): {len(views)} views of the crop ({', '.join(parts)})"
                + (", each also mirrored (logits averaged over the pair)" if mirror else "")
                + f", probabilities averaged over the views; {self.reads('all')} inferences per face")


@lru_cache(maxsize=64)
def _taps(view: View, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The 4 source pixel indices (flat) and bilinear weights of each output pixel of
    ``view``: GridSample's sampling with ``align_corners=0`` and border padding."""
    columns = (2 * np.arange(width) + 1) / width - 1
    rows = (2 * np.arange(height) + 1) / height - 1
    x, y = np.meshgrid(columns, rows)
    points = np.stack([x.ravel(), y.ravel(), np.ones(x.size)])
    source_x, source_y = view.source_matrix() @ points
    pixel_x = np.clip(((source_x + 1) * width - 1) / 2, 0, width - 1)  # border: clamp the position
    pixel_y = np.clip(((source_y + 1) * height - 1) / 2, 0, height - 1)
    left, top = np.floor(pixel_x).astype(np.int64), np.floor(pixel_y).astype(np.int64)
    right, bottom = np.minimum(left + 1, width - 1), np.minimum(top + 1, height - 1)
    across, down = pixel_x - left, pixel_y - top
    indices = np.stack([top * width + left, top * width + right, bottom * width + left,
                        bottom * width + right])
    weights = np.stack([(1 - across) * (1 - down), across * (1 - down), (1 - across) * down,
                        across * down]).astype(np.float32)
    return indices, weights


def sample(batch: np.ndarray, view: View) -> np.ndarray:
    """``batch`` (N, C, H, W) float32 seen through ``view``."""
    if view == IDENTITY:
        return batch
    count, channels, height, width = batch.shape
    indices, weights = _taps(view, height, width)
    flat = batch.reshape(count, channels, height * width)
    sampled = sum(flat[:, :, indices[tap]] * weights[tap] for tap in range(4))
    return sampled.reshape(count, channels, height, width).astype(np.float32, copy=False)


def expand(batch: np.ndarray, views: Sequence[View], mirror: bool) -> np.ndarray:
    """Every face's views (and their mirror images) as one batch: face-major, then view,
    then mirror; (N * len(views) * (1 + mirror), C, H, W)."""
    if len(views) == 1 and views[0] == IDENTITY and not mirror:
        return batch
    seen = np.stack([sample(batch, view) for view in views], axis=1)  # (N, V, C, H, W)
    if mirror:
        seen = np.stack([seen, seen[..., ::-1]], axis=2)  # (N, V, 2, C, H, W)
    return np.ascontiguousarray(seen.reshape(-1, *batch.shape[1:]), np.float32)


def pool(logits: np.ndarray, views: int, mirror: bool, members: np.ndarray | None = None
         ) -> tuple[np.ndarray, np.ndarray | None]:
    """One row per face from ``expand``'s outputs: (probabilities (N, K), members' (N, M, K)
    or None). Logits are averaged over a mirror pair before the softmax (the pair is one
    reading of one pose), probabilities over the views."""
    pairs = 2 if mirror else 1
    per_face = logits.reshape(-1, views, pairs, logits.shape[-1]).mean(axis=2)
    shifted = per_face - per_face.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    probabilities = (exponentials / exponentials.sum(axis=-1, keepdims=True)).mean(axis=1)
    if members is not None:
        members = members.reshape(-1, views * pairs, *members.shape[1:]).mean(axis=1)
    return probabilities, members
