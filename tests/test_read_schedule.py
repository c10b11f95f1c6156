"""Live reads within the frame budget: faces due are always read, the oldest first, the
others while the budget lasts; ``auto`` views are the richest that keep every face at ten
reads a second; a row not read in its frame says so."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

from app.face.landmarks import FaceLandmarker
from app.face.tracking import FaceTracker
from app.face_reading import read_faces
from app.model.inference import EmotionClassifier
from app.model.views import ViewPlan
from app.pipeline import Pipeline
from app.read_schedule import MAX_READ_AGE_S, ReadSchedule
from app.results import Frame, FrameResult, StageTimings
from app.sources.capture import open_reader
from tests.onnx_fixtures import fer_card, linear_model, write_model

NOW = datetime.now().astimezone()
PLAN = ViewPlan(("rotate", "zoom", "shift"), True)  # 1, 2 and 18 reads per face


def learnt(ms_per_read: float, interval_s: float = 1 / 30) -> ReadSchedule:
    schedule = ReadSchedule(interval_s)
    schedule.observe(4, 4 * ms_per_read)
    return schedule


def test_every_face_is_read_each_frame_when_the_budget_allows():
    schedule = learnt(1.0)
    assert schedule.choose([None, 0.03, 0.0], reads_per_face=2) == [0, 1, 2]


def test_over_budget_the_oldest_and_the_due_are_read_and_no_face_waits_past_the_limit():
    schedule = learnt(8.0)  # 20 ms budget of a 33 ms frame: two faces a frame
    ages = [None] * 4
    read_count = np.zeros(4)
    for _ in range(30):
        chosen = schedule.choose(ages, reads_per_face=1)
        assert all(index in chosen for index, age in enumerate(ages)
                   if age is None or age + schedule.interval_s > MAX_READ_AGE_S)
        read_count[chosen] += 1
        ages = [0.0 if index in chosen else (age or 0.0) + schedule.interval_s
                for index, age in enumerate(ages)]
        assert max(ages) <= MAX_READ_AGE_S + 1e-9
    assert read_count.min() >= 10 and read_count.max() < 30  # shared out, not all every frame


def test_auto_views_are_the_richest_that_keep_every_face_at_ten_reads_a_second():
    assert ReadSchedule().views(PLAN, 1) == "none"  # nothing timed yet: the cheapest
    cheap = learnt(0.2)
    assert cheap.views(PLAN, 1) == "all" and cheap.views(PLAN, 20) == "mirror"
    dear = learnt(30.0)
    assert dear.views(PLAN, 1) == "mirror" and dear.views(PLAN, 4) == "none"
    assert learnt(0.2).views(ViewPlan(), 3) == "none"  # a card without views has one setting


def test_a_face_not_read_keeps_its_last_read_and_says_how_old(single_face_image, tmp_path):
    path = write_model(tmp_path / "model.onnx", linear_model(seed=3), replace(fer_card(), views=PLAN))
    model = EmotionClassifier(path, ["CPUExecutionProvider"])
    with FaceLandmarker() as landmarker:
        faces = landmarker.detect(single_face_image)
    tracker, spec = FaceTracker(), model.spec
    first, _ = read_faces(Frame(single_face_image, 0, 10.0, NOW), faces, model, spec, tracker, StageTimings(),
                          "mirror", lambda ages: [])
    (face,) = first
    assert face.fresh and face.read_age_ms == 0.0 and face.views == "mirror"  # never read: read now
    later = Frame(single_face_image, 1, 10.05, NOW)
    second, _ = read_faces(later, faces, model, spec, tracker, StageTimings(), "none", lambda ages: [])
    (kept,) = second
    assert not kept.fresh and kept.read_age_ms == pytest.approx(50.0) and kept.views == "mirror"
    np.testing.assert_array_equal(kept.probabilities, face.probabilities)
    assert kept.face_id == face.face_id


def test_a_live_run_refreshes_every_read_within_the_limit(media_dir, tmp_path):
    """A clip played like a camera: rows not read say so, and no face's read gets old."""
    path = write_model(tmp_path / "model.onnx", linear_model(seed=4), replace(fer_card(), views=PLAN))
    pipeline, stop, results = Pipeline(path, provider="cpu"), threading.Event(), []
    try:
        with open_reader(media_dir / "fer_woman2.mp4", realtime=True) as reader:
            for item in pipeline.frames(reader, stop):
                if isinstance(item, FrameResult):
                    results.append(item)
                if len(results) >= 40:
                    stop.set()
    finally:
        pipeline.close()
    faces = [face for result in results for face in result.faces]
    assert faces and all(face.fresh == (face.read_age_ms == 0.0) for face in faces)
    assert {face.views for face in faces} <= {"none", "mirror", "all"}  # auto live: the schedule's choice
    assert max(face.read_age_ms for face in faces) <= 1000 * MAX_READ_AGE_S + 1.0


def test_a_face_whose_only_read_was_unreadable_is_held_as_unreadable():
    tracker = FaceTracker()
    (track,) = tracker.assign([(0.0, 0.0, 10.0, 10.0)], 0.0)
    tracker.read(track, np.full(7, np.nan), 0.0)
    held = FaceTracker.held(track, 7)
    assert held.smoothed.shape == (7,) and np.isnan(held.smoothed).all()


def test_frames_that_come_further_apart_make_a_read_due_sooner():
    schedule = learnt(30.0)  # a read takes longer than the budget: only due faces are read
    assert schedule.choose([0.05], reads_per_face=1) == []
    for frame in range(20):
        schedule.observe_frame(frame * 0.06)  # dropped frames: one analysed every 60 ms
    assert schedule.choose([0.05], reads_per_face=1) == [0]
