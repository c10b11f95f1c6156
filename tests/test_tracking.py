"""Face IDs, smoothing and the hysteresis of the emotion shown (the real-footage checks
are in test_pipeline and benchmarks/steadiness.py)."""

import math

import numpy as np
import pytest

from app.face.steady import OFF, Steadiness, SteadyRead
from app.face.tracking import FaceTracker, iou

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
    (face,) = tracker.update([(138, 100, 50, 50)], UNIFORM, FRAME)
    face_id = face.face_id
    assert iou((100, 100, 50, 50), (138, 100, 50, 50)) < tracker.min_iou
    assert face_id == 1


def test_two_faces_keep_their_own_ids_in_any_order():
    tracker = FaceTracker()
    left, right = (50, 50, 60, 60), (300, 50, 60, 60)
    first = [face.face_id for face in tracker.update([left, right], probs(*UNIFORM, *UNIFORM), 0.0)]
    second = [face.face_id for face in tracker.update([right, left], probs(*UNIFORM, *UNIFORM), FRAME)]
    assert first == [1, 2] and second == [2, 1]


def test_grace_period_bridges_missed_detections_then_ids_are_never_reused():
    tracker = FaceTracker(grace_s=0.5)
    box = (100, 100, 50, 50)
    tracker.update([box], UNIFORM, 0.0)
    tracker.update([], np.zeros((0, 7)), 0.2)  # missed for 0.4 s
    assert tracker.update([box], UNIFORM, 0.4)[0][0] == 1
    tracker.update([], np.zeros((0, 7)), 1.0)  # gone for longer than the grace period: dropped
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
    tracker = FaceTracker(OFF)
    tracker.update([(0, 0, 10, 10)], probs([1, 0]), 0.0)
    face = tracker.update([(0, 0, 10, 10)], probs([0, 1]), FRAME)[0]
    assert face.smoothed == pytest.approx([0, 1]) and face.shown == 1


def test_smoothing_is_an_ema_with_a_time_constant_in_seconds():
    tau = 0.2
    tracker = FaceTracker(Steadiness(tau, 0.0, 0.0))
    box = (0, 0, 10, 10)
    tracker.update([box], probs([1, 0]), 0.0)
    kept = math.exp(-FRAME / tau)
    assert tracker.update([box], probs([0, 1]), FRAME)[0].smoothed == pytest.approx([kept, 1 - kept])
    # After one time constant in all, the first frame keeps 1/e of its weight, whatever the
    # frame rate: two frames 0.1 s apart smooth like six 1/30 s apart would.
    assert tracker.update([box], probs([0, 1]), FRAME + (tau - FRAME))[0].smoothed[0] == pytest.approx(
        math.exp(-1.0))


def test_steadiness_changes_at_run_time_and_is_validated():
    tracker = FaceTracker(Steadiness(1.0, 0.0, 0.0))
    box = (0, 0, 10, 10)
    tracker.update([box], probs([1, 0]), 0.0)
    tracker.steadiness = OFF
    assert tracker.update([box], probs([0, 1]), FRAME)[0].smoothed == pytest.approx([0, 1])
    for bad in (dict(time_constant_s=-0.1), dict(time_constant_s=2.5), dict(switch_margin=0.6),
                dict(switch_hold_s=-1)):
        with pytest.raises(ValueError, match="must be from 0 to"):
            Steadiness(**bad)


def test_reset_smoothing_keeps_ids():
    tracker = FaceTracker(Steadiness(1.0, 0.0, 0.0))
    box = (0, 0, 10, 10)
    tracker.update([box], probs([1, 0]), 0.0)
    tracker.reset_smoothing()
    face_id, smoothed, shown = tracker.update([box], probs([0, 1]), FRAME)[0][:3]
    assert face_id == 1 and smoothed == pytest.approx([0, 1]) and shown == 1


def shown_over(read: SteadyRead, steadiness: Steadiness, frames) -> list[int]:
    """The emotion shown after each (time, probabilities) frame."""
    return [read.update(np.asarray(row, float), time_s, steadiness)[1] for time_s, row in frames]


def test_hysteresis_ignores_a_lead_that_is_brief_and_narrow():
    steadiness = Steadiness(0.0, switch_margin=0.1, switch_hold_s=0.2)
    read = SteadyRead()
    frames = [(0.0, [0.6, 0.4]),
              *((step * FRAME, [0.47, 0.53]) for step in range(1, 5)),  # 0.13 s behind, by < 0.1
              *((step * FRAME, [0.6, 0.4]) for step in range(5, 10))]
    assert set(shown_over(read, steadiness, frames)) == {0}


def test_a_clear_lead_switches_at_once_and_a_slight_one_once_it_lasts_the_hold():
    steadiness = Steadiness(0.0, switch_margin=0.1, switch_hold_s=0.2)
    clear = [(0.0, [0.7, 0.3]), *((step * FRAME, [0.3, 0.7]) for step in range(1, 12))]
    assert shown_over(SteadyRead(), steadiness, clear) == [0] + [1] * 11
    slight = [(0.0, [0.7, 0.3]), *((step * FRAME, [0.47, 0.53]) for step in range(1, 30))]
    shown = shown_over(SteadyRead(), steadiness, slight)
    switch = shown.index(1)
    assert shown == [0] * switch + [1] * (len(shown) - switch)  # one switch, no flicker back
    assert slight[switch][0] - FRAME == pytest.approx(0.2, abs=FRAME / 2)  # behind since FRAME


def test_the_name_never_contradicts_the_bars_for_longer_than_the_hold():
    """Whatever the probabilities, the emotion shown is the largest smoothed one except for
    at most ``switch_hold_s`` (plus the frame that ends it) at a time."""
    rng = np.random.default_rng(0)
    for steadiness in (Steadiness(0.2, 0.2, 0.3), Steadiness(0.1, 0.5, 0.5), Steadiness()):
        read, behind_since, longest = SteadyRead(), None, 0.0
        drift = rng.dirichlet(np.ones(7))
        for step in range(3000):
            if step % 40 == 0:
                drift = rng.dirichlet(np.ones(7))  # a new expression now and then
            time_s = step * FRAME
            smoothed, shown = read.update(rng.dirichlet(drift * 30 + 0.5), time_s, steadiness)
            if shown == int(np.argmax(smoothed)):
                behind_since = None
            else:
                behind_since = time_s if behind_since is None else behind_since
                longest = max(longest, time_s - behind_since)
        assert 0 < longest < steadiness.switch_hold_s + FRAME, steadiness


def test_without_hysteresis_the_top_smoothed_emotion_is_shown():
    read = SteadyRead()
    frames = [(step * FRAME, [0.51, 0.49] if step % 2 else [0.49, 0.51]) for step in range(10)]
    assert shown_over(read, OFF, frames) == [1, 0] * 5


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="2 boxes but 1"):
        FaceTracker().update([(0, 0, 1, 1), (5, 5, 1, 1)], UNIFORM, 0.0)


def test_a_face_too_far_away_gets_a_new_id():
    tracker = FaceTracker()
    tracker.update([(100, 100, 50, 50)], UNIFORM, 0.0)
    assert tracker.update([(200, 100, 50, 50)], UNIFORM, FRAME)[0][0] == 2
