"""The stages overlapped: landmarks on their own thread, one frame ahead; frames analysed in
order and none lost from a file; a slow model drops live frames instead of queueing them;
a failure of the landmarks ends the run as an event."""

from __future__ import annotations

import threading
import time

import pytest

from app.face.landmarks import QuietLandmarker
from app.pipeline import Pipeline
from app.results import EventKind, FrameResult
from app.sources.capture import open_reader


@pytest.fixture
def pipeline(mini_xception_onnx):
    threads: list[str] = []

    def recording_factory(max_faces):
        threads.append(threading.current_thread().name)
        return QuietLandmarker(max_faces)

    instance = Pipeline(mini_xception_onnx, provider="cpu", landmarker_factory=recording_factory)
    instance.landmark_threads = threads
    yield instance
    instance.close()


def test_every_frame_of_a_file_is_analysed_in_order_with_landmarks_on_their_own_thread(
        pipeline, media_dir):
    with open_reader(media_dir / "pyfeat_single_face.mp4") as reader:
        results = [item for item in pipeline.frames(reader) if isinstance(item, FrameResult)]
        expected = reader.source.frames_read
    indices = [result.frame.index for result in results]
    assert indices == list(range(expected)) and expected > 50
    assert sum(bool(result.faces) for result in results) > 0.9 * expected
    assert pipeline.landmark_threads == ["landmarks"]  # built there, not on the worker
    assert all(result.timings.landmarks > 0 for result in results if result.faces)


def test_a_slow_model_drops_live_frames_rather_than_queueing_them(pipeline, media_dir,
                                                                  monkeypatch):
    real_predict = pipeline.model.predict

    def slow_predict(batch, views="none"):
        time.sleep(0.12)  # four frame periods of a 30 frames/s clip
        return real_predict(batch, views)

    monkeypatch.setattr(pipeline.model, "predict", slow_predict)
    lags, dropped = [], 0
    with open_reader(media_dir / "fer_woman2.mp4", realtime=True) as reader:
        for item in pipeline.frames(reader):
            if isinstance(item, FrameResult):
                lags.append(time.monotonic() - item.frame.monotonic_s)
                dropped = item.dropped_frames
                if len(lags) == 25:
                    pipeline.stop()
    assert dropped > 25  # the paced clip went on while the model was busy
    assert max(lags[5:]) < 0.6  # a frame's result comes within a few model calls: no backlog


def test_a_failure_of_the_landmarks_ends_the_run_as_an_event(pipeline, media_dir, monkeypatch):
    def broken(self, frame):
        raise RuntimeError("mesh graph crashed")

    monkeypatch.setattr(QuietLandmarker, "follow", broken)
    with open_reader(media_dir / "pyfeat_single_face.mp4") as reader:
        items = list(pipeline.frames(reader))
    assert items[-1].kind is EventKind.ERROR and "mesh graph crashed" in items[-1].message
    assert not any(isinstance(item, FrameResult) for item in items)
