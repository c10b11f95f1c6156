"""Quality measures: head pose recovered from known projections, and real faces."""

import math

import cv2
import numpy as np
import pytest

from app.face.landmarks import MESH_POINTS
from app.face.quality import (
    GENERIC_FACE_MM,
    POSE_MESH_INDICES,
    eye_distance,
    head_pose,
    laplacian_variance,
    measure_face,
)


def rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """The rotation turning a frontal face to (yaw, pitch) in the module's convention."""
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    about_y = np.array([[math.cos(-yaw), 0, math.sin(-yaw)], [0, 1, 0],
                        [-math.sin(-yaw), 0, math.cos(-yaw)]])
    about_x = np.array([[1, 0, 0], [0, math.cos(-pitch), -math.sin(-pitch)],
                        [0, math.sin(-pitch), math.cos(-pitch)]])
    return about_y @ about_x


@pytest.mark.parametrize("yaw, pitch", [(0, 0), (25, -10), (-40, 15), (10, 30)])
def test_head_pose_recovers_a_projected_generic_face(yaw, pitch):
    width, height = 640, 480
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1.0]])
    rotation_vector, _ = cv2.Rodrigues(rotation(yaw, pitch))
    points, _ = cv2.projectPoints(GENERIC_FACE_MM, rotation_vector, np.array([40.0, -30.0, 1600.0]),
                                  camera, None)
    mesh = np.zeros((MESH_POINTS, 3))
    mesh[list(POSE_MESH_INDICES), :2] = points[:, 0]
    assert head_pose(mesh, (width, height)) == pytest.approx((yaw, pitch), abs=0.5)


def test_real_faces_get_plausible_poses(landmarker, single_face_image):
    (face,) = landmarker.detect(single_face_image)
    yaw, pitch = head_pose(face.mesh, (single_face_image.shape[1], single_face_image.shape[0]))
    assert abs(yaw) < 30 and abs(pitch) < 30


def test_blur_is_lower_for_a_blurred_crop(single_face_image):
    crop = cv2.resize(single_face_image, (64, 64), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    blurred = cv2.GaussianBlur(crop, (0, 0), 2.0)
    assert laplacian_variance(blurred) < 0.3 * laplacian_variance(crop)
    assert laplacian_variance(crop[:, :, :1]) > 0


def test_measure_face_without_a_mesh_has_no_pose():
    anchors = {"right_eye": np.array([10.0, 20.0]), "left_eye": np.array([40.0, 60.0])}
    crop = np.full((48, 48, 1), 128, np.uint8)
    quality = measure_face(anchors, None, crop, 1.25, (640, 480))
    assert quality.yaw_deg is None and quality.pitch_deg is None
    assert quality.eye_distance_px == pytest.approx(50.0) == eye_distance(anchors)
    assert quality.brightness == pytest.approx(128 / 255)
    assert quality.gamma == 1.25 and quality.blur == 0.0
