"""Landmarks of a face that already is a crop: a dataset image such as FER2013's 48x48.

MediaPipe's detectors want more pixels and more context than a tight crop has, so the
crop is upscaled and zero-padded before the app's own landmarker runs, and the points
come back in the crop's [0, 1] coordinates. The alignment template (``emotion-train
derive-template``) and the landmark emphasis of training crops both read crops this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.face.emphasis import FEATURE_POINT_INDICES
from app.face.landmarks import FaceLandmarker

UPSCALE = 4
PAD_FRACTION = 0.5
"""Padding on each side, as a fraction of the upscaled crop."""
METHOD = f"app.face.landmarks on crops upscaled x{UPSCALE}, zero-padded {PAD_FRACTION} each side"


@dataclass(frozen=True)
class CropFace:
    """The landmarks found in a crop, in [0, 1] crop coordinates."""

    anchors: dict[str, np.ndarray]
    """Mesh anchors (``ANCHOR_NAMES``) or the detector's (``DETECTOR_ANCHOR_NAMES``)."""
    feature_points: np.ndarray | None
    """The mesh points of the emphasis regions (``FEATURE_POINT_INDICES``), None without a mesh."""

    @property
    def source(self) -> str:
        return "mesh" if self.feature_points is not None else "detector"


def locate_in_crop(landmarker: FaceLandmarker, crop: np.ndarray) -> CropFace | None:
    """The largest face in a uint8 gray, (H, W, 1) or BGR crop, or None if none is found."""
    if crop.ndim == 3 and crop.shape[2] == 1:
        crop = crop[:, :, 0]
    height, width = crop.shape[:2]
    big = cv2.resize(crop, (width * UPSCALE, height * UPSCALE), interpolation=cv2.INTER_CUBIC)
    pad = int(round(big.shape[0] * PAD_FRACTION))
    padded = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    faces = landmarker.detect(padded)
    if not faces:
        return None
    face = faces[0]
    scale = np.array([big.shape[1], big.shape[0]], np.float64)

    def to_crop(points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float64)[..., :2] - pad) / scale

    anchors = {name: to_crop(point) for name, point in face.anchors.items()}
    feature_points = None if face.mesh is None else to_crop(face.mesh[FEATURE_POINT_INDICES])
    return CropFace(anchors, feature_points)
