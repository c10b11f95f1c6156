"""Faces followed from frame to frame on real footage: no face lost that a detector on every
frame finds, IDs kept, a new face found within the detector interval, the detector skipped
in between."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.face.landmarks import FaceLandmarker
from app.pipeline import Pipeline
from app.sources.capture import SequentialReader, open_source


def _frames(path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


class CountingDetector:
    """Wraps MediaPipe's face detector to count the frames it runs on."""

    def __init__(self, detector) -> None:
        self.detector, self.calls = detector, 0

    def process(self, rgb):
        self.calls += 1
        return self.detector.process(rgb)

    def close(self) -> None:
        self.detector.close()


@pytest.fixture(scope="module")
def woman_frames(media_dir):
    return _frames(media_dir / "fer_woman2.mp4", 120)


def test_a_followed_face_is_kept_in_every_frame_the_detector_finds_it(woman_frames):
    with FaceLandmarker(max_faces=4, detect_every=5) as following, FaceLandmarker(max_faces=4) as every:
        following._detector = counter = CountingDetector(following._detector)
        followed = [len(following.follow(frame)) for frame in woman_frames]
        detected = [len(every.detect(frame)) for frame in woman_frames]
    assert sum(count > 0 for count in followed) >= sum(count > 0 for count in detected)
    assert max(followed) == 1  # one woman: never a duplicate of her face
    assert counter.calls <= len(woman_frames) / 5 + 3  # the detector ran one frame in five


def test_a_face_coming_into_view_is_found_within_the_detector_interval(multi_face_image):
    half = multi_face_image.copy()
    half[:, half.shape[1] // 2:] = 90  # the right half empty: its faces are not there yet
    interval = 4
    with FaceLandmarker(max_faces=10, detect_every=interval) as following, \
            FaceLandmarker(max_faces=10) as every:
        before = [len(following.follow(half)) for _ in range(interval + 2)]
        after = [len(following.follow(multi_face_image)) for _ in range(interval)]
        everyone, left_half = len(every.detect(multi_face_image)), len(every.detect(half))
    assert before[-1] == left_half < everyone
    assert everyone in after  # found by the time the detector ran again


def test_forget_starts_again_from_a_detection(woman_frames):
    with FaceLandmarker(max_faces=2, detect_every=50) as following:
        following._detector = counter = CountingDetector(following._detector)
        for frame in woman_frames[:5]:
            following.follow(frame)
        assert counter.calls == 1
        following.forget()
        following.follow(woman_frames[5])
        assert counter.calls == 2


def test_the_pipeline_keeps_ids_and_faces_on_four_faces(media_dir, mini_xception_onnx):
    """Four people throughout, one looking down at a phone: followed, the pipeline sees
    at least the faces a detector on every frame saw, under no more IDs than people."""
    clip = media_dir / "four_faces_tiled.mp4"

    def run(factory) -> tuple[int, set[int]]:
        pipeline = Pipeline(mini_xception_onnx, provider="cpu", landmarker_factory=factory)
        faces, ids = 0, set()
        with SequentialReader(open_source(clip)) as reader:
            for index, item in enumerate(pipeline.frames(reader)):
                if hasattr(item, "faces"):
                    faces += len(item.faces)
                    ids.update(face.face_id for face in item.faces)
                if index >= 90:
                    pipeline.stop()
        pipeline.close()
        return faces, ids

    class EveryFrame(FaceLandmarker):
        def follow(self, frame):
            return self.detect(frame)

    followed_faces, followed_ids = run(FaceLandmarker)
    detected_faces, _ = run(EveryFrame)
    assert followed_faces >= detected_faces
    assert len(followed_ids) <= 4
