"""Similarity alignment of a face to a template derived from FER2013's own crops.

A face is described by named anchor points (eye centres, nose tip, mouth corners, or
the mouth centre when only a detector's keypoints are known). The least-squares
similarity transform (rotation, uniform scale, translation; Umeyama 1991) that carries
those anchors onto the template's points frames a live face the way the training crops
were framed. Template coordinates are normalised to [0, 1] of a square crop, so one
template serves every input size.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ANCHOR_NAMES: tuple[str, ...] = ("right_eye", "left_eye", "nose_tip", "mouth_right", "mouth_left")
"""Anchors from the face mesh, named from the subject's point of view."""

DETECTOR_ANCHOR_NAMES: tuple[str, ...] = ("right_eye", "left_eye", "nose_tip", "mouth_centre")
"""Anchors a face detector's keypoints give when the mesh finds no face."""

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "assets" / "alignment"
DEFAULT_TEMPLATE_ID = "fer2013-mesh-v1"


@dataclass(frozen=True)
class AlignmentTemplate:
    """Where each anchor lands in a square crop, in [0, 1] crop coordinates."""

    template_id: str
    points: Mapping[str, tuple[float, float]]
    provenance: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [name for name in ANCHOR_NAMES if name not in self.points]
        if missing:
            raise ValueError(f"template {self.template_id!r} lacks anchors {missing}")

    def point(self, name: str) -> tuple[float, float]:
        """A template point; the mouth centre is derived from the corners when not stored."""
        if name == "mouth_centre" and name not in self.points:
            right, left = self.points["mouth_right"], self.points["mouth_left"]
            return ((right[0] + left[0]) / 2.0, (right[1] + left[1]) / 2.0)
        try:
            return self.points[name]
        except KeyError:
            raise ValueError(
                f"unknown anchor {name!r}; valid: {sorted(self.points) + ['mouth_centre']}"
            ) from None

    def to_json(self) -> str:
        return json.dumps(
            {"id": self.template_id, "points": dict(self.points), "provenance": dict(self.provenance)},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> AlignmentTemplate:
        data = json.loads(text)
        points = {name: (float(x), float(y)) for name, (x, y) in data["points"].items()}
        return cls(data["id"], points, data.get("provenance", {}))


def available_templates() -> dict[str, Path]:
    """Template id -> file, for every template shipped in ``assets/alignment``."""
    return {
        AlignmentTemplate.from_json(path.read_text()).template_id: path
        for path in sorted(TEMPLATE_DIR.glob("*.json"))
    }


@functools.cache
def load_template(template_id: str = DEFAULT_TEMPLATE_ID) -> AlignmentTemplate:
    """Load a shipped template by id (read once per process); raises ValueError naming
    the valid ids."""
    templates = available_templates()
    if template_id not in templates:
        raise ValueError(f"unknown alignment template {template_id!r}; valid: {sorted(templates)}")
    return AlignmentTemplate.from_json(templates[template_id].read_text())


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 similarity matrix mapping ``source`` (K, 2) points onto ``target``.

    Umeyama's closed form: no shear, no reflection, uniform scale.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 2:
        raise ValueError(f"need two matching (K>=2, 2) point sets, got {source.shape} and {target.shape}")
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    reflection = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        reflection[1, 1] = -1.0
    rotation = u @ reflection @ vt
    source_variance = (source_centred**2).sum() / len(source)
    scale = float(np.trace(np.diag(singular) @ reflection) / source_variance)
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def alignment_matrix(
    anchors: Mapping[str, np.ndarray], template: AlignmentTemplate, crop_size: int
) -> np.ndarray:
    """The 2x3 matrix taking frame pixels to crop pixels of a ``crop_size`` square.

    Anchors and template are continuous coordinates (a pixel spans [i, i + 1)); OpenCV
    warps between pixel centres, hence the half-pixel shifts.
    """
    names = list(anchors)
    source = np.array([anchors[name] for name in names], dtype=np.float64) - 0.5
    target = np.array([template.point(name) for name in names], dtype=np.float64) * crop_size - 0.5
    return similarity_transform(source, target)


def align_face(
    image: np.ndarray,
    anchors: Mapping[str, np.ndarray],
    template: AlignmentTemplate,
    crop_size: int,
) -> np.ndarray:
    """Warp ``image`` so that the face's anchors sit on the template; returns the crop.

    When the face is larger than the crop, the face's region is first shrunk with area
    averaging, so a live crop is as smooth as FER2013's downsampled crops instead of
    aliased by a bilinear warp.
    """
    matrix = alignment_matrix(anchors, template, crop_size)
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale < 1.0:
        image, matrix = _shrink_region(image, matrix, crop_size, scale)
    return cv2.warpAffine(
        image,
        matrix,
        (crop_size, crop_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _shrink_region(
    image: np.ndarray, matrix: np.ndarray, crop_size: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the region the crop sees, area-resize it by ``scale``, and re-aim ``matrix``."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [crop_size, 0, 1], [0, crop_size, 1], [crop_size, crop_size, 1]])
    seen = corners @ inverse.T
    height, width = image.shape[:2]
    left = int(np.clip(np.floor(seen[:, 0].min()) - 2, 0, width - 1))
    top = int(np.clip(np.floor(seen[:, 1].min()) - 2, 0, height - 1))
    right = int(np.clip(np.ceil(seen[:, 0].max()) + 2, left + 1, width))
    bottom = int(np.clip(np.ceil(seen[:, 1].max()) + 2, top + 1, height))
    region = image[top:bottom, left:right]
    small_width = max(1, round(region.shape[1] * scale))
    small_height = max(1, round(region.shape[0] * scale))
    small = cv2.resize(region, (small_width, small_height), interpolation=cv2.INTER_AREA)
    scale_x, scale_y = small_width / region.shape[1], small_height / region.shape[0]
    # small pixel index -> frame pixel index, pixel centres to pixel centres.
    small_to_frame = np.array(
        [
            [1.0 / scale_x, 0.0, 0.5 / scale_x - 0.5 + left],
            [0.0, 1.0 / scale_y, 0.5 / scale_y - 0.5 + top],
            [0.0, 0.0, 1.0],
        ]
    )
    return small, matrix @ small_to_frame
