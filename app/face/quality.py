"""Quality measures written beside every reading, so a researcher can filter frames.

- Face size: the distance between the eye centres in frame pixels. It comes from the
  alignment anchors, which mesh and detector faces both have, so it does not jump when
  a face switches between them the way box sizes (a different box per source) would.
- Brightness: mean luminance of the aligned crop before gamma, in [0, 1]: the quantity
  adaptive gamma corrects (``app.face.gamma.mean_luminance``).
- Blur: variance of the Laplacian of the aligned gray crop. The crop is at the model's
  input size, so faces of every size are compared at one scale (but figures from models
  of different input sizes are not comparable).
- Head yaw and pitch: ``cv2.solvePnP`` of six face-mesh points (nose tip, chin, outer
  eye corners, mouth corners) against a generic 3D face, the six-point model widely used
  with OpenCV, in millimetres. The camera is assumed to have a focal length equal to
  the frame width (about 53 degrees of horizontal field of view, a typical webcam), its
  principal point at the frame centre and no distortion. Angles are those of the face's
  forward direction relative to the camera axis: yaw positive when the face turns
  towards the image's right, pitch positive when it tilts up. A generic face and an
  assumed focal length make them approximate (a few degrees off for a frontal face);
  they are left empty for faces found by the detector alone, whose four keypoints
  cannot give a pose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from app.face.gamma import mean_luminance


@dataclass(frozen=True)
class FaceQuality:
    """How trustworthy a face's reading is likely to be (see ``app.face.quality``)."""

    eye_distance_px: float
    """Distance between the eye centres in frame pixels: the face's size."""
    brightness: float
    """Mean luminance of the aligned crop before gamma, in [0, 1]."""
    gamma: float
    """Adaptive gamma applied to the crop; 1.0 when off."""
    yaw_deg: float | None
    """Head turn, positive towards the image's right; None without the face mesh."""
    pitch_deg: float | None
    """Head tilt, positive upwards; None without the face mesh."""
    blur: float
    """Variance of the Laplacian of the aligned gray crop; low means blurred."""



# Mesh index -> generic face point in camera-aligned axes (x right, y down, z away from
# the camera, millimetres, nose tip at the origin).
POSE_MESH_INDICES = (1, 152, 33, 263, 61, 291)
GENERIC_FACE_MM = np.array(
    [
        (0.0, 0.0, 0.0),  # nose tip
        (0.0, 330.0, 65.0),  # chin
        (-225.0, -170.0, 135.0),  # outer corner of the subject's right eye (image left)
        (225.0, -170.0, 135.0),  # outer corner of the subject's left eye
        (-150.0, 150.0, 125.0),  # subject's right mouth corner
        (150.0, 150.0, 125.0),  # subject's left mouth corner
    ]
)


def measure_face(anchors: Mapping[str, np.ndarray], mesh: np.ndarray | None, crop: np.ndarray,
                 gamma: float, frame_size: tuple[int, int]) -> FaceQuality:
    """Quality of one face: ``crop`` is the aligned uint8 crop before gamma, in the
    model's colour space; ``frame_size`` is (width, height) of the frame."""
    yaw, pitch = head_pose(mesh, frame_size) if mesh is not None else (None, None)
    return FaceQuality(
        eye_distance_px=eye_distance(anchors),
        brightness=mean_luminance(crop),
        gamma=gamma,
        yaw_deg=yaw,
        pitch_deg=pitch,
        blur=laplacian_variance(crop),
    )


def eye_distance(anchors: Mapping[str, np.ndarray]) -> float:
    right, left = np.asarray(anchors["right_eye"]), np.asarray(anchors["left_eye"])
    return float(np.hypot(*(left[:2] - right[:2])))


def laplacian_variance(crop: np.ndarray) -> float:
    """Sharpness of a uint8 gray or RGB crop: variance of its Laplacian."""
    if crop.ndim == 3 and crop.shape[2] == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    elif crop.ndim == 3:
        crop = crop[:, :, 0]
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def head_pose(mesh: np.ndarray, frame_size: tuple[int, int]) -> tuple[float | None, float | None]:
    """(yaw, pitch) in degrees from a (478, 3) face mesh in frame pixels; None if unsolved."""
    width, height = frame_size
    camera = np.array([[width, 0.0, width / 2.0], [0.0, width, height / 2.0], [0.0, 0.0, 1.0]])
    image_points = np.ascontiguousarray(mesh[list(POSE_MESH_INDICES), :2], dtype=np.float64)
    solved, rotation_vector, _ = cv2.solvePnP(GENERIC_FACE_MM, image_points, camera, None,
                                              flags=cv2.SOLVEPNP_ITERATIVE)
    if not solved:
        return None, None
    rotation, _ = cv2.Rodrigues(rotation_vector)
    forward = rotation @ np.array([0.0, 0.0, -1.0])  # the direction the face looks
    yaw = math.degrees(math.atan2(forward[0], -forward[2]))
    pitch = math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2])))
    return yaw, pitch
