"""Faces that only the detector reports are counted once confident and persistent
(``app.face.confirmation``); a face with a mesh at once. Real clips: tests/test_headless.py."""

import numpy as np
import pytest

from app.face.confirmation import MIN_DETECTOR_FRAMES, MIN_DETECTOR_SCORE, FaceConfirmation
from app.face.landmarks import Face

MESH = np.zeros((478, 3))


def face(x: float, score: float, mesh: bool = False) -> Face:
    return Face((x, 50.0, 60.0, 60.0), score, {}, MESH if mesh else None)


def test_a_face_with_a_mesh_passes_at_once():
    gate = FaceConfirmation()
    assert gate.admit([face(10, 0.3, mesh=True)]) == [face(10, 0.3, mesh=True)]


def test_a_detector_only_face_passes_once_confident_for_enough_frames_in_a_row():
    gate = FaceConfirmation()
    confident = face(10, MIN_DETECTOR_SCORE + 0.05)
    passed = [bool(gate.admit([confident])) for _ in range(MIN_DETECTOR_FRAMES + 2)]
    assert passed == [False] * (MIN_DETECTOR_FRAMES - 1) + [True] * 3
    assert gate.admit([face(12, 0.2)]) == [face(12, 0.2)]  # confirmed: it stays, score aside


def test_a_weak_or_brief_detection_is_never_counted():
    gate = FaceConfirmation()
    weak = [gate.admit([face(10, MIN_DETECTOR_SCORE - 0.05)]) for _ in range(20)]
    brief = [gate.admit([face(300, 0.99)] if step % MIN_DETECTOR_FRAMES else []) for step in range(20)]
    assert not any(weak) and not any(brief)


def test_a_face_that_had_a_mesh_keeps_passing_without_one():
    gate = FaceConfirmation()
    gate.admit([face(10, 0.9, mesh=True)])
    assert gate.admit([face(14, 0.4)]) == [face(14, 0.4)]  # turned away: the detector alone


def test_a_still_image_is_judged_on_the_score_alone():
    gate = FaceConfirmation()
    assert gate.admit([face(10, MIN_DETECTOR_SCORE + 0.01)], continuous=False)
    assert not gate.admit([face(10, MIN_DETECTOR_SCORE - 0.01)], continuous=False)


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="min_score"):
        FaceConfirmation(min_score=1.5)
