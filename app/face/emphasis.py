"""Landmark emphasis: keep the eyes, eyebrows, nose and mouth, reduce the rest of the face.

DCRNet's preprocessing (Sec. 2.1.2 of "DCRNet: a dense-cascaded residual network for
facial expression recognition") uses facial landmarks to focus the network on the
features that carry an expression and to reduce the rest of the image. Here that is a
soft mask over four feature regions of an aligned crop; outside it, pixels are pulled
toward the crop's mean by ``strength`` (0: unchanged, 1: flat), so the network sees the
features at full contrast and the cheeks, hair and background faded.

The regions come from the best landmarks a face has, in one order of preference:
1. ``mesh``: the convex hull of each region's face-mesh points (MediaPipe's own
   eye, eyebrow, nose and lip contours);
2. ``detector``: ellipses placed from the eye, nose and mouth anchors, sized by the
   distance between the eyes (a face whose mesh was not found has only these);
3. ``template``: the same ellipses on the alignment template's points, where an
   aligned face's features sit (a dataset crop in which no face was found at all).

Everything is in [0, 1] crop coordinates, so one outline serves every crop size. The app
(live faces) and training (dataset crops) both call ``emphasise``, so they do the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

FEATURE_REGIONS: dict[str, tuple[int, ...]] = {
    # MediaPipe face-mesh indices: FACEMESH_RIGHT_EYE with FACEMESH_RIGHT_EYEBROW, and so on.
    "right_eye": (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246,
                  46, 52, 53, 55, 63, 65, 66, 70, 105, 107),
    "left_eye": (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466,
                 276, 282, 283, 285, 293, 295, 296, 300, 334, 336),
    "nose": (1, 2, 4, 5, 6, 19, 45, 48, 64, 94, 97, 98, 115, 168, 195, 197, 220, 275, 278, 294,
             326, 327, 344, 440),
    "mouth": (0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181,
              185, 191, 267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402,
              405, 409, 415),
}
"""The mesh points of each feature region (subject's right and left, as the anchors)."""

FEATURE_POINT_INDICES: np.ndarray = np.concatenate([np.array(indices)
                                                    for indices in FEATURE_REGIONS.values()])
"""Every region's mesh indices in region order: what a cache of crop landmarks stores."""

OUTLINE_SOURCES = ("mesh", "detector", "template")

MARGIN = 0.06
"""Each region grows by this fraction of the crop side: the wrinkles around a feature move too."""
SOFTNESS = 0.04
"""Gaussian sigma of the mask's edge, as a fraction of the crop side: no hard seam."""

# Ellipses from anchors, in units of the distance between the eyes: (along the eye line,
# across it); eye regions reach up to the eyebrows.
_EYE_AXES, _EYE_RAISE = (0.34, 0.30), 0.14
_NOSE_WIDTH = 0.22
_MOUTH_HEIGHT = 0.24


@dataclass(frozen=True)
class FeatureOutline:
    """The feature regions of one aligned crop: closed polygons in [0, 1] crop coordinates."""

    polygons: tuple[np.ndarray, ...]
    source: str
    """Which landmarks drew it: one of ``OUTLINE_SOURCES``."""

    @classmethod
    def from_feature_points(cls, points: np.ndarray) -> FeatureOutline:
        """From the (len(FEATURE_POINT_INDICES), 2) mesh points of the regions, in crop units."""
        points = np.asarray(points, np.float32)
        if points.shape != (len(FEATURE_POINT_INDICES), 2):
            raise ValueError(f"need ({len(FEATURE_POINT_INDICES)}, 2) feature points, got {points.shape}")
        polygons, start = [], 0
        for indices in FEATURE_REGIONS.values():
            region = points[start:start + len(indices)]
            polygons.append(cv2.convexHull(region).reshape(-1, 2))
            start += len(indices)
        return cls(tuple(polygons), "mesh")

    @classmethod
    def from_anchors(cls, anchors: Mapping[str, object], source: str = "detector") -> FeatureOutline:
        """Ellipses from eye centres, the nose tip and the mouth (corners or centre), in crop units."""
        if source not in OUTLINE_SOURCES[1:]:
            raise ValueError(f"anchor outlines are {OUTLINE_SOURCES[1:]}, got {source!r}")
        point = {name: np.asarray(value, np.float64)[:2] for name, value in anchors.items()}
        missing = [name for name in ("right_eye", "left_eye", "nose_tip") if name not in point]
        if "mouth_centre" not in point and not {"mouth_right", "mouth_left"} <= set(point):
            missing.append("mouth_centre (or mouth_right and mouth_left)")
        if missing:
            raise ValueError(f"an anchor outline needs {missing}; got {sorted(point)}")
        eye_line = point["left_eye"] - point["right_eye"]
        eye_distance = float(np.hypot(*eye_line))
        if eye_distance <= 0:
            raise ValueError("the eye anchors coincide")
        along = eye_line / eye_distance
        down = np.array([-along[1], along[0]])
        angle = float(np.degrees(np.arctan2(along[1], along[0])))
        mouth = point.get("mouth_centre")
        mouth_width = 0.9 * eye_distance
        if "mouth_right" in point and "mouth_left" in point:
            mouth = (point["mouth_right"] + point["mouth_left"]) / 2.0
            mouth_width = float(np.hypot(*(point["mouth_left"] - point["mouth_right"]))) + 0.2 * eye_distance
        eyes_middle = (point["right_eye"] + point["left_eye"]) / 2.0
        nose_length = float(np.dot(point["nose_tip"] - eyes_middle, down))
        ellipses = [(point[eye] - _EYE_RAISE * eye_distance * down,
                     (_EYE_AXES[0] * eye_distance, _EYE_AXES[1] * eye_distance))
                    for eye in ("right_eye", "left_eye")]
        ellipses.append(((eyes_middle + point["nose_tip"]) / 2.0 + 0.1 * nose_length * down,
                         (_NOSE_WIDTH * eye_distance, max(0.6 * nose_length, 0.1 * eye_distance))))
        ellipses.append((mouth, (mouth_width / 2.0, _MOUTH_HEIGHT * eye_distance)))
        return cls(tuple(_ellipse_polygon(centre, axes, angle) for centre, axes in ellipses), source)

    def mask(self, size: int) -> np.ndarray:
        """(size, size) float32 in [0, 1]: 1 on the features, fading to 0 around them."""
        binary = np.zeros((size, size), np.uint8)
        for polygon in self.polygons:
            # fillConvexPoly works in fixed point: 4 fractional bits, pixel centres at i + 0.5.
            fixed = np.round((polygon * size - 0.5) * 16).astype(np.int32)
            cv2.fillConvexPoly(binary, fixed, 1, lineType=cv2.LINE_AA, shift=4)
        margin = max(1, round(MARGIN * size))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        grown = cv2.dilate(binary, kernel).astype(np.float32)
        return cv2.GaussianBlur(grown, (0, 0), sigmaX=max(0.5, SOFTNESS * size))


def _ellipse_polygon(centre: np.ndarray, axes: tuple[float, float], angle: float,
                     points: int = 24) -> np.ndarray:
    """An ellipse as a closed polygon in the same units as ``centre``."""
    theta = np.linspace(0.0, 2.0 * np.pi, points, endpoint=False)
    cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    x, y = axes[0] * np.cos(theta), axes[1] * np.sin(theta)
    return np.stack([centre[0] + cos * x - sin * y, centre[1] + sin * x + cos * y], axis=1).astype(np.float32)


def emphasise(crop: np.ndarray, outline: FeatureOutline, strength: float) -> np.ndarray:
    """uint8 (H, W, C) square crop -> the same crop with everything off the features
    pulled toward the crop's mean by ``strength`` in [0, 1]."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"emphasis strength must be in [0, 1], got {strength}")
    if crop.ndim != 3 or crop.shape[0] != crop.shape[1]:
        raise ValueError(f"need a square (H, W, C) crop, got shape {crop.shape}")
    if strength == 0.0:
        return crop
    keep = outline.mask(crop.shape[0])[:, :, None]
    pixels = crop.astype(np.float32)
    mean = pixels.mean(axis=(0, 1), keepdims=True)
    faded = pixels + strength * (mean - pixels)
    return np.clip(np.rint(keep * pixels + (1.0 - keep) * faded), 0, 255).astype(np.uint8)
