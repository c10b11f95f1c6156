"""Similarity alignment, and the whole path framing a face the way FER2013 frames it."""

import math

import cv2
import numpy as np
import pytest

from app.face.alignment import (
    ANCHOR_NAMES,
    DEFAULT_TEMPLATE_ID,
    AlignmentTemplate,
    align_face,
    alignment_matrix,
    available_templates,
    load_template,
    similarity_transform,
)


def _similarity(scale, degrees, tx, ty):
    angle = math.radians(degrees)
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.hstack([rotation, [[tx], [ty]]])


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    source = rng.uniform(0, 100, size=(5, 2))
    truth = _similarity(1.7, 23.0, -12.0, 40.0)
    target = source @ truth[:, :2].T + truth[:, 2]
    np.testing.assert_allclose(similarity_transform(source, target), truth, atol=1e-9)


def test_similarity_transform_never_reflects():
    source = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    mirrored = source * np.array([-1.0, 1.0])
    matrix = similarity_transform(source, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_similarity_transform_rejects_mismatched_points():
    with pytest.raises(ValueError, match="matching"):
        similarity_transform(np.zeros((3, 2)), np.zeros((4, 2)))


def test_shipped_template_was_derived_from_fer2013_and_is_plausible():
    assert DEFAULT_TEMPLATE_ID in available_templates()
    template = load_template()
    provenance = template.provenance
    assert provenance["faces_found"] > 0.5 * provenance["crops"] > 10_000
    right_eye, left_eye = template.point("right_eye"), template.point("left_eye")
    nose, mouth = template.point("nose_tip"), template.point("mouth_centre")
    assert right_eye[0] < 0.5 < left_eye[0]  # subject's right eye is on the image's left
    assert right_eye[1] < nose[1] < mouth[1]  # eyes above nose above mouth
    assert 0.0 < min(min(p) for p in template.points.values())
    assert max(max(p) for p in template.points.values()) < 1.0


def test_unknown_template_names_the_valid_ones():
    with pytest.raises(ValueError, match=DEFAULT_TEMPLATE_ID):
        load_template("no-such-template")


def test_template_json_round_trip():
    template = load_template()
    again = AlignmentTemplate.from_json(template.to_json())
    assert again == template


def test_align_face_puts_anchors_on_the_template_at_any_scale():
    template = load_template()
    for crop_size, face_scale in ((48, 0.3), (64, 2.5), (224, 6.0)):
        anchors = {name: np.array(template.point(name)) * 100 * face_scale + 37 for name in ANCHOR_NAMES}
        matrix = alignment_matrix(anchors, template, crop_size)
        for name in ANCHOR_NAMES:
            in_crop = matrix[:, :2] @ (anchors[name] - 0.5) + matrix[:, 2] + 0.5
            np.testing.assert_allclose(in_crop, np.array(template.point(name)) * crop_size, atol=1e-6)


def test_large_faces_are_shrunk_smoothly_not_aliased():
    """A fine stripe pattern larger than the crop's Nyquist limit must average to grey."""
    template = load_template()
    stripes = np.zeros((800, 800, 3), np.uint8)
    stripes[:, ::2] = 255
    anchors = {name: np.array(template.point(name)) * 600 + 100 for name in ANCHOR_NAMES}
    crop = align_face(stripes, anchors, template, 48)
    assert crop.shape == (48, 48, 3)
    assert crop.std() < 10 and abs(crop.mean() - 127.5) < 10


def _framing_similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Correlation of the blurred central regions: framing, not pixel texture."""
    first, second = (cv2.GaussianBlur(image.astype(np.float32), (0, 0), 2.0)[8:40, 8:40]
                     for image in (first, second))
    return float(np.corrcoef(first.ravel(), second.ravel())[0, 1])


def _embed(crop: np.ndarray, scale: float, degrees: float, offset: tuple[float, float]):
    """Place a 48x48 crop into a 640x480 frame under a known similarity transform."""
    centre = np.array([24.0, 24.0])
    matrix = _similarity(scale, degrees, 0.0, 0.0)
    matrix[:, 2] = np.array(offset) - matrix[:, :2] @ centre
    frame = cv2.warpAffine(crop, matrix, (640, 480), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), matrix


def test_whole_path_restores_fer2013_framing(fer2013_root, landmarker):
    """Embed val crops in a frame (scaled 5x, rotated, moved) and align them back.

    FER2013 crops vary in framing around the template (some are tilted or zoomed), so
    over many crops the path must undo the embedding on average (median scale, angle
    and shift near the identity), and crops framed like the template must come back
    nearly pixel for pixel.
    """
    template = load_template()
    paths = sorted((fer2013_root / "val").glob("*/*.jpg"))[::150][:24]
    measured = []
    for index, path in enumerate(paths):
        crop = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        degrees = (-12, 0, 12)[index % 3]
        frame, embedding = _embed(crop, 5.0, degrees, (320 + 7 * index % 50, 240))
        faces = [face for face in landmarker.detect(frame) if face.source == "mesh"]
        if not faces:
            continue
        matrix = alignment_matrix(faces[0].anchors, template, 48)
        combined = matrix[:, :2] @ embedding[:, :2]  # crop -> frame -> crop
        shift = matrix[:, :2] @ embedding[:, 2] + matrix[:, 2] + (combined - np.eye(2)) @ [24.0, 24.0]
        restored = cv2.cvtColor(align_face(frame, faces[0].anchors, template, 48), cv2.COLOR_BGR2GRAY)
        measured.append((
            math.sqrt(np.linalg.det(combined)),
            math.degrees(math.atan2(combined[1, 0], combined[0, 0])),
            float(np.linalg.norm(shift)),
            _framing_similarity(restored, crop),
        ))
    assert len(measured) >= 16, "the landmarker should find most embedded FER2013 faces"
    scales, angles, shifts, correlations = np.array(measured).T
    assert abs(np.median(scales) - 1.0) < 0.08
    assert abs(np.median(angles)) < 3.0  # the embedding's +/-12 degree rotations are undone
    assert np.median(shifts) < 2.0  # pixels at 48x48
    typical = (abs(scales - 1.0) < 0.1) & (abs(angles) < 5.0) & (shifts < 1.5)
    assert typical.sum() >= 4
    assert np.median(correlations[typical]) > 0.9
    assert np.median(correlations) > 0.75
