"""Real MediaPipe landmarks on the real photos in ../shared/data/media."""

import time

import cv2
import numpy as np
import pytest

from app.face.alignment import ANCHOR_NAMES, DETECTOR_ANCHOR_NAMES
from app.face.landmarks import MESH_POINTS, FaceLandmarker, QuietLandmarker


def _inside(point, box, margin=0.0):
    x, y, width, height = box
    return (x - margin * width <= point[0] <= x + (1 + margin) * width
            and y - margin * height <= point[1] <= y + (1 + margin) * height)


def test_single_face_gets_a_full_refined_mesh(landmarker, single_face_image):
    faces = landmarker.detect(single_face_image)
    assert len(faces) == 1
    face = faces[0]
    assert face.source == "mesh" and face.mesh.shape == (MESH_POINTS, 3)
    assert set(face.anchors) == set(ANCHOR_NAMES)
    height, width = single_face_image.shape[:2]
    assert 0.1 * width < face.box[2] < width
    for point in face.anchors.values():
        assert _inside(point, face.box)


def test_anchors_are_anatomically_ordered(landmarker, single_face_image):
    anchors = landmarker.detect(single_face_image)[0].anchors
    assert anchors["right_eye"][0] < anchors["left_eye"][0]  # subject's right is image left
    assert anchors["mouth_right"][0] < anchors["mouth_left"][0]
    eye_line = (anchors["right_eye"][1] + anchors["left_eye"][1]) / 2
    mouth_line = (anchors["mouth_right"][1] + anchors["mouth_left"][1]) / 2
    assert eye_line < anchors["nose_tip"][1] < mouth_line


def test_every_face_of_a_group_photo(landmarker, multi_face_image):
    faces = landmarker.detect(multi_face_image)
    assert len(faces) >= 4
    assert all(face.source == "mesh" for face in faces)
    areas = [face.box[2] * face.box[3] for face in faces]
    assert areas == sorted(areas, reverse=True)
    centres = np.array([[x + w / 2, y + h / 2] for x, y, w, h in (face.box for face in faces)])
    distances = np.linalg.norm(centres[:, None] - centres[None], axis=2) + np.eye(len(faces)) * 1e9
    assert distances.min() > 30, "each face is found once"


def test_max_faces_keeps_the_largest(multi_face_image):
    with FaceLandmarker(max_faces=2) as limited:
        faces = limited.detect(multi_face_image)
    assert len(faces) == 2


def test_small_faces_are_found(landmarker, multi_face_image):
    """A group photo shrunk to a quarter: faces of ~25 px still give anchors."""
    small = cv2.resize(multi_face_image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    faces = landmarker.detect(small)
    assert len(faces) >= 3
    for face in faces:
        assert face.box[2] < 40
        assert all(_inside(point, face.box, margin=0.5) for point in face.anchors.values())


def test_detector_keypoints_stand_in_when_the_mesh_fails(single_face_image, monkeypatch):
    with FaceLandmarker() as fallback:
        monkeypatch.setattr(fallback, "_mesh_in_region", lambda rgb, box: None)
        faces = fallback.detect(single_face_image)
    assert len(faces) == 1 and faces[0].source == "detector" and faces[0].mesh is None
    anchors = faces[0].anchors
    assert list(anchors) == list(DETECTOR_ANCHOR_NAMES)
    assert anchors["right_eye"][0] < anchors["left_eye"][0]
    assert anchors["nose_tip"][1] < anchors["mouth_centre"][1]


def test_frames_without_faces_give_no_faces(landmarker):
    assert landmarker.detect(np.full((240, 320, 3), 90, np.uint8)) == []


def test_gray_frames_are_accepted(landmarker, single_face_image):
    gray = cv2.cvtColor(single_face_image, cv2.COLOR_BGR2GRAY)
    assert len(landmarker.detect(gray)) == 1


def test_bad_frames_are_refused_clearly(landmarker):
    with pytest.raises(ValueError, match="uint8"):
        landmarker.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        landmarker.detect(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValueError, match="max_faces"):
        FaceLandmarker(max_faces=0)


def test_quiet_landmarker_captures_only_while_mediapipe_starts(single_face_image, monkeypatch):
    """The capture is process-wide, so it must end: at build, for the first moments of
    detection, and around the mesh's first run, but never for an empty scene at large."""
    import contextlib

    from app.face import landmarks

    captures = []
    real = landmarks.native_output_captured

    @contextlib.contextmanager
    def counted(descriptors):
        assert descriptors == (2,)  # never stdout: the user's code prints there meanwhile
        captures.append(time.monotonic())
        with real(descriptors) as captured:
            yield captured

    monkeypatch.setattr(landmarks, "native_output_captured", counted)
    empty = np.full((240, 320, 3), 90, np.uint8)
    with QuietLandmarker(max_faces=1, quiet_s=0.3) as quiet:
        assert len(captures) == 1  # building the graphs
        quiet.detect(empty)
        assert len(captures) == 2  # the first moments
        time.sleep(0.35)
        for _ in range(3):
            assert quiet.detect(empty) == []
        assert len(captures) == 2  # an empty scene runs uncaptured
        assert quiet.detect(single_face_image)[0].mesh is not None
        assert len(captures) == 3  # the mesh's first run
        time.sleep(0.35)
        quiet.detect(single_face_image)
        assert len(captures) == 3
