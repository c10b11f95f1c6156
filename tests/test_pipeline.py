"""The engine on real footage with real MediaPipe and ONNX Runtime, driven as a GUI would:
a worker thread iterating ``frames`` while the test thread pulls the controls. Runs
that must outlast the test's steps read a stand-in camera that never ends, so a loaded
machine slows them down without ending them early."""

import csv
import queue
import threading
import time
from datetime import datetime

import numpy as np
import pytest

from app.face.steady import OFF, Steadiness
from app.model.card import ModelCardError
from app.output.timeline_csv import RecordingError
from app.pipeline import Pipeline
from app.results import Event, EventKind, Frame, FrameResult
from app.sources.capture import LatestFrameReader, open_reader
from app.sources.video import CameraSource
from tests.camera_fakes import CameraSequence, FakeCamera
from tests.onnx_fixtures import fer_card, linear_model, write_model, write_model_with_metadata


@pytest.fixture
def pipeline(mini_xception_onnx):
    instance = Pipeline(mini_xception_onnx, steadiness=Steadiness(0.2))
    yield instance
    instance.close()


def still(image, index=0) -> Frame:
    return Frame(image, index, time.monotonic(), datetime.now().astimezone())


def camera(image, interval_s=0.03) -> LatestFrameReader:
    """A stand-in camera delivering ``image`` until it is closed."""
    source = CameraSource(0, open_capture=CameraSequence(FakeCamera(image, interval_s=interval_s)))
    source.open()
    return LatestFrameReader(source)


class Worker(threading.Thread):
    """Runs ``pipeline.frames(reader, stop)`` like the GUI's worker; the test reads ``items``."""

    def __init__(self, pipeline, reader):
        super().__init__(daemon=True)
        self.pipeline, self.reader = pipeline, reader
        self.stop = threading.Event()
        self.items: queue.Queue = queue.Queue()
        self.seen: list = []

    def run(self):
        for item in self.pipeline.frames(self.reader, self.stop):
            self.items.put(item)
        self.items.put(None)

    def wait_for(self, predicate, timeout=30.0):
        """Items until one satisfies ``predicate`` (returned last)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.items.get(timeout=deadline - time.monotonic())
            self.seen.append(item)
            if item is None:
                raise AssertionError(f"the run ended first; events: {self.events()}")
            if predicate(item):
                return item
        raise AssertionError("timed out")

    def results(self):
        return [item for item in self.seen if isinstance(item, FrameResult)]

    def events(self, kind=None):
        return [i for i in self.seen if isinstance(i, Event) and kind in (None, i.kind)]

    def finish(self):
        self.stop.set()
        self.join(timeout=10)
        assert not self.is_alive(), "the worker did not stop"
        while not self.items.empty():
            item = self.items.get()
            if item is not None:
                self.seen.append(item)


def is_result(item):
    return isinstance(item, FrameResult)


def test_a_face_is_found_classified_and_measured(pipeline, single_face_image):
    result = pipeline.process(still(single_face_image))
    (face,) = result.faces
    assert face.face_id == 1 and face.landmarks == "mesh"
    assert face.labels == result.labels == pipeline.model.labels
    assert face.probabilities.sum() == pytest.approx(1, abs=1e-5)
    assert face.top_label in face.labels and 0 < face.top_probability <= 1
    quality = face.quality
    assert quality.eye_distance_px > 20 and 0 < quality.brightness < 1 and quality.blur > 0
    assert quality.gamma != 1.0 and quality.yaw_deg is not None and quality.pitch_deg is not None
    assert result.provider == pipeline.provider_report.provider
    assert result.model_name == "mini_xception"
    assert result.timings.landmarks > 0 and result.timings.infer > 0 and result.timings.csv == 0


def test_all_faces_of_a_frame_go_through_one_batched_call(pipeline, multi_face_image):
    calls = []
    session = pipeline.model.session
    original = session.run

    def counting_run(outputs, feeds):
        calls.append(feeds["input"].shape)
        return original(outputs, feeds)

    session.run = counting_run
    result = pipeline.process(still(multi_face_image))
    faces = len(result.faces)
    assert faces >= 5, "every face of the group photo is analysed"
    assert calls == [(faces, 1, 48, 48)]
    assert len({face.face_id for face in result.faces}) == faces


def test_one_stable_id_through_a_real_clip(pipeline, media_dir):
    with open_reader(media_dir / "fer_test.mp4") as reader:
        summary = pipeline.run(reader)
        ids = set()
        pipeline.run(open_reader(media_dir / "pyfeat_single_face.mp4"),
                     lambda result: ids.update(face.face_id for face in result.faces))
    assert summary.frames == 115 and summary.faces == 115
    assert summary.ended_by.kind is EventKind.SOURCE_ENDED
    assert ids == {2}  # a face in a new source is a new face: IDs are never reused


def test_frames_without_a_face_write_no_rows_and_raise_nothing(pipeline, media_dir, tmp_path):
    path = tmp_path / "none.csv"
    pipeline.start_recording(path)
    events, frames = [], []
    with open_reader(media_dir / "pyfeat_no_face.mp4") as reader:
        for item in pipeline.frames(reader):
            (frames if isinstance(item, FrameResult) else events).append(item)
            if len(frames) == 12:
                pipeline.stop()  # the run in progress, from inside it
    pipeline.stop_recording()
    assert all(result.faces == () for result in frames) and len(frames) == 12
    assert [e.kind for e in events] == [EventKind.RECORDING_STARTED]  # and no error
    with open(path, newline="") as file:
        assert len(list(csv.reader(file))) == 1  # the header only


def test_models_swap_mid_run_and_bad_files_leave_the_running_one(pipeline, single_face_image,
                                                                 tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage")
    foreign = write_model(tmp_path / "foreign.onnx", linear_model())
    unaligned = write_model_with_metadata(tmp_path / "unaligned.onnx", linear_model(),
                                          alignment_template="nonesuch")
    other = write_model(tmp_path / "linear.onnx", linear_model(), fer_card())
    worker = Worker(pipeline, camera(single_face_image))
    worker.start()
    try:
        worker.wait_for(is_result)
        for bad, reason in ((corrupt, "not a readable ONNX model"), (foreign, "not an emotion model"),
                            (unaligned, "unknown alignment template 'nonesuch'")):
            with pytest.raises(ModelCardError, match=reason):
                pipeline.set_model(bad)
        before = worker.wait_for(lambda item: is_result(item) and item.faces)
        assert before.model_name == "mini_xception"  # still running after the refusals
        pipeline.set_model(other)
        changed = worker.wait_for(lambda item: isinstance(item, Event))
        assert changed.kind is EventKind.MODEL_CHANGED and changed.details["name"] == "linear_probe"
        after = worker.wait_for(is_result)
        assert after.model_name == "linear" and pipeline.model.path == other
        assert after.frame.index > before.frame.index  # capture never stopped
    finally:
        worker.finish()
        worker.reader.close()


def test_a_model_is_test_run_on_a_face_aligned_the_way_frames_are(pipeline, monkeypatch,
                                                                    tmp_path):
    """A file can pass every card check and still fail in preprocessing: set_model finds
    out, not the first face of the run."""
    def failing_alignment(frame, anchors, spec):
        raise ValueError("this crop cannot be made")

    monkeypatch.setattr("app.model.inference.crop_face", failing_alignment)
    with pytest.raises(ModelCardError, match="does not run: this crop cannot be made"):
        pipeline.set_model(write_model(tmp_path / "linear.onnx", linear_model(), fer_card()))
    assert pipeline.model.path.stem == "mini_xception"


def test_controls_from_another_thread(pipeline, single_face_image, tmp_path):
    worker = Worker(pipeline, camera(single_face_image))
    worker.start()
    try:
        with pytest.raises(RecordingError, match="does not exist"):
            pipeline.start_recording(tmp_path / "missing" / "t.csv")
        with pytest.raises(RecordingError, match="not recording"):
            pipeline.add_marker("too early")
        pipeline.gamma_enabled = False
        pipeline.steadiness = OFF
        pipeline.start_recording(tmp_path / "t.csv")
        recorded = worker.wait_for(lambda item: is_result(item) and item.recording and item.faces)
        (face,) = recorded.faces
        assert face.quality.gamma == 1.0 and np.allclose(face.smoothed, face.probabilities)
        pipeline.add_marker("stimulus")
        worker.wait_for(is_result)
        status = pipeline.stop_recording()
    finally:
        worker.finish()
        worker.reader.close()
    with open(tmp_path / "t.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert status.rows == len(rows) >= 2
    assert [row["marker"] for row in rows if row["row_type"] == "marker"] == ["stimulus"]


def test_a_camera_that_stops_is_an_event_and_restarts(pipeline, single_face_image):
    cameras = CameraSequence(FakeCamera(single_face_image, frames=3, interval_s=0.02),
                             FakeCamera(single_face_image, frames=2, interval_s=0.02))
    source = CameraSource(0, open_capture=cameras, lost_after_s=0.2)
    source.open()
    worker = Worker(pipeline, LatestFrameReader(source))
    worker.start()
    try:
        lost = worker.wait_for(lambda item: isinstance(item, Event))
        assert lost.kind is EventKind.SOURCE_LOST and "camera 0" in lost.message
        assert worker.is_alive()
        pipeline.restart_source()
        restarted = worker.wait_for(lambda item: isinstance(item, Event))
        assert restarted.kind is EventKind.SOURCE_RESTARTED
        assert worker.wait_for(is_result).faces
    finally:
        worker.finish()
        worker.reader.close()


def test_an_unexpected_failure_ends_the_run_as_an_event(pipeline, single_face_image, monkeypatch):
    def broken(batch, views="none"):
        raise RuntimeError("kaput")

    monkeypatch.setattr(pipeline.model, "predict", broken)
    source = CameraSource(0, open_capture=CameraSequence(FakeCamera(single_face_image)))
    source.open()
    with LatestFrameReader(source) as reader:
        summary = pipeline.run(reader)
    assert summary.ended_by.kind is EventKind.ERROR and "kaput" in summary.ended_by.message


def test_image_folders_are_not_tracked_across_images(pipeline, tmp_path, single_face_image):
    import cv2

    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(tmp_path / name), single_face_image)
    ids = []
    with open_reader(tmp_path) as reader:
        pipeline.run(reader, lambda result: ids.extend(face.face_id for face in result.faces))
    assert ids == [1, 2]  # same place, different photos: not the same person by default


def test_a_stop_ends_its_own_run_and_no_other(pipeline, tmp_path, single_face_image):
    import cv2

    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(tmp_path / name), single_face_image)
    pipeline.stop()  # no run in progress: nothing to stop, and nothing left over
    with open_reader(tmp_path) as reader:
        assert pipeline.run(reader).frames == 2
    stop = threading.Event()
    stop.set()  # set before its run starts: that run ends at once
    with open_reader(tmp_path) as reader:
        summary = pipeline.run(reader, stop=stop)
    assert summary.frames == 0 and summary.ended_by is None
    with open_reader(tmp_path) as reader:  # and the next run is not affected
        assert pipeline.run(reader).frames == 2


def test_max_faces_below_one_is_refused():
    with pytest.raises(ValueError, match="max_faces must be at least 1, got 0"):
        Pipeline(None, provider="cpu", max_faces=0)
