"""The square frame regions the face mesh runs on, and the followed faces that keep one.

The mesh sees one face per region, upscaled to ``MESH_INPUT_SIDE`` when small. A face
first found by the detector is read by the static-mode mesh (MediaPipe's own short-range
detector, then the landmark model). A followed face keeps a graph of its own in tracking
mode and a region that stays put while the face stays near its middle: from one frame to
the next the graph derives the face's place from its own landmarks of the frame before and
runs the landmark model alone, about half the static mode's cost per face. The region is
re-aimed only when the face drifts (``REAIM_SHIFT``) or changes size (``REAIM_SCALE``);
the graph's landmark model follows the small jump, and it re-detects by itself when it
loses the face.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

MESH_INPUT_SIDE = 256
"""Regions smaller than this are upscaled before the mesh runs."""
REAIM_SHIFT = 0.12
"""A followed face's region moves when the face's centre is this far from the region's (a
fraction of the side)."""
REAIM_SCALE = 1.2
"""... or when the face's size changed by more than this factor."""


@dataclass(frozen=True)
class Region:
    """A square of the frame: top-left corner and side, in frame pixels (continuous)."""

    left: float
    top: float
    side: float

    @classmethod
    def around(cls, box: tuple[float, float, float, float], scale: float) -> Region:
        """The square ``scale`` times the box's larger side, on the box's centre."""
        x, y, width, height = box
        side = max(width, height) * scale
        return cls(x + width / 2 - side / 2, y + height / 2 - side / 2, side)

    def fits(self, box: tuple[float, float, float, float], scale: float) -> bool:
        """Whether ``box`` is still near enough the middle, and of the size, to be read here."""
        wanted = Region.around(box, scale)
        shift = math.hypot(wanted.left + wanted.side / 2 - self.left - self.side / 2,
                           wanted.top + wanted.side / 2 - self.top - self.side / 2) / self.side
        return shift <= REAIM_SHIFT and 1 / REAIM_SCALE <= wanted.side / self.side <= REAIM_SCALE


def mesh_points(rgb: np.ndarray, region: Region, run: Callable[[np.ndarray], object]) -> np.ndarray | None:
    """(478, 3) mesh points in frame pixels from ``run`` (a face mesh graph's ``process``)
    on ``region`` of ``rgb``; None when it finds no face (or the region is too small)."""
    if region.side < 4:
        return None
    zoom = max(1.0, MESH_INPUT_SIDE / region.side)
    output_side = int(round(region.side * zoom))
    # frame pixel index -> region pixel index (continuous u = (X - left) * zoom).
    shift = 0.5 * zoom - 0.5
    to_region = np.array([[zoom, 0.0, shift - region.left * zoom], [0.0, zoom, shift - region.top * zoom]])
    image = cv2.warpAffine(rgb, to_region, (output_side, output_side), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT)
    result = run(image)
    if not result.multi_face_landmarks:
        return None
    points = np.array([(point.x, point.y, point.z) for point in result.multi_face_landmarks[0].landmark],
                      dtype=np.float64) * output_side
    points[:, 0] = points[:, 0] / zoom + region.left
    points[:, 1] = points[:, 1] / zoom + region.top
    points[:, 2] = points[:, 2] / zoom
    return points


class Follower:
    """One followed face: its tracking-mode mesh graph and the region it reads."""

    def __init__(self, graph) -> None:
        self.graph = graph
        self.region: Region | None = None

    def aim(self, box: tuple[float, float, float, float], scale: float) -> Region:
        """The region for the face last seen in ``box``: the same as before while it fits."""
        if self.region is None or not self.region.fits(box, scale):
            self.region = Region.around(box, scale)
        return self.region
