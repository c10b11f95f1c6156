"""Face IDs and smoothing (the real-footage check of stable IDs is in test_pipeline)."""

import numpy as np
import pytest

from app.tracking import FaceTracker, iou

FRAME = 1 / 30
UNIFORM = np.full((1, 7), 1 / 7)


def probs(*rows):
    return np.array(rows, dtype=np.float64)


def test_a_moving_face_keeps_its_id():
    tracker = FaceTracker()
    ids = [tracker.update([(100 + 4 * step, 80, 60, 70)], UNIFORM, step * FRAME)[0][0]
           for step in range(30)]
    assert set(ids) == {1}


def test_a_fast_move_with_little_overlap_still_matches_by_centre_distance():
    tracker = FaceTracker()
    tracker.update([(100, 100, 50, 50)], UNIFORM, 0.0)
    (face_id, _), = tracker.update([(138, 100, 50, 50)], UNIFORM, FRAME)
    assert iou((100, 100, 50, 50), (138, 100, 50, 50)) < tracker.min_iou
    assert face_id == 1


def test_two_faces_keep_their_own_ids_in_any_order():
    tracker = FaceTracker()
    left, right = (50, 50, 60, 60), (300, 50, 60, 60)
    first = [face_id for face_id, _ in tracker.update([left, right], probs(*UNIFORM, *UNIFORM), 0.0)]
    second = [face_id for face_id, _ in tracker.update([right, left], probs(*UNIFORM, *UNIFORM), FRAME)]
    assert first == [1, 2] and second == [2, 1]


def test_grace_period_bridges_missed_detections_then_ids_are_never_reused():
    tracker = FaceTracker(grace_s=0.5)
    box = (100, 100, 50, 50)
    tracker.update([box], UNIFORM, 0.0)
    tracker.update([], np.zeros((0, 7)), 0.2)  # missed for 0.4 s
    assert tracker.update([box], UNIFORM, 0.4)[0][0] == 1
    tracker.update([], np.zeros((0, 7)), 1.0)  # gone for longer than the grace period
    assert tracker.tracks == []
    assert tracker.update([box], UNIFORM, 1.1)[0][0] == 2
    tracker.reset()
    assert tracker.update([box], UNIFORM, 2.0)[0][0] == 3


def test_a_pause_in_the_analysis_is_not_a_missed_face():
    """No frame analysed for longer than the grace period (a slow start under load): the
    face still where it was keeps its ID."""
    tracker = FaceTracker(grace_s=1.0)
    box = (100, 100, 50, 50)
    tracker.update([box], UNIFORM, 0.0)
    assert tracker.update([(104, 100, 50, 50)], UNIFORM, 1.5)[0][0] == 1


def test_smoothing_off_gives_the_raw_probabilities():
    tracker = FaceTracker(strength=0.0)
    tracker.update([(0, 0, 10, 10)], probs([1, 0]), 0.0)
    assert tracker.update([(0, 0, 10, 10)], probs([0, 1]), FRAME)[0][1] == pytest.approx([0, 1])


def test_smoothing_is_an_ema_that_follows_the_time_between_frames():
    tracker = FaceTracker(strength=0.5)
    box = (0, 0, 10, 10)
    tracker.update([box], probs([1, 0]), 0.0)
    assert tracker.update([box], probs([0, 1]), FRAME)[0][1] == pytest.approx([0.5, 0.5])
    # Two frame intervals later the old estimate keeps 0.5 ** 2 of its weight.
    assert tracker.update([box], probs([0, 1]), 3 * FRAME)[0][1] == pytest.approx([0.125, 0.875])


def test_strength_changes_at_run_time_and_is_validated():
    tracker = FaceTracker(strength=0.9)
    box = (0, 0, 10, 10)
    tracker.update([box], probs([1, 0]), 0.0)
    tracker.strength = 0.0
    assert tracker.update([box], probs([0, 1]), FRAME)[0][1] == pytest.approx([0, 1])
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            tracker.strength = bad


def test_reset_smoothing_keeps_ids():
    tracker = FaceTracker(strength=0.9)
    box = (0, 0, 10, 10)
    tracker.update([box], probs([1, 0]), 0.0)
    tracker.reset_smoothing()
    (face_id, smoothed), = tracker.update([box], probs([0, 1]), FRAME)
    assert face_id == 1 and smoothed == pytest.approx([0, 1])


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="2 boxes but 1"):
        FaceTracker().update([(0, 0, 1, 1), (5, 5, 1, 1)], UNIFORM, 0.0)


def test_a_face_too_far_away_gets_a_new_id():
    tracker = FaceTracker()
    tracker.update([(100, 100, 50, 50)], UNIFORM, 0.0)
    assert tracker.update([(200, 100, 50, 50)], UNIFORM, FRAME)[0][0] == 2
