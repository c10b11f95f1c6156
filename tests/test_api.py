"""The Python API on real photos and footage, with a shipped model, real MediaPipe and
ONNX Runtime: what ``fer``/``deepface`` users call, checked against the app's own pipeline."""

import itertools
import subprocess
import sys
import time
from datetime import datetime

import cv2
import numpy as np
import pytest

from app import EmotionRecognizer
from app.api import FaceEmotion, FrameEmotions
from app.model.library import default_model, scan_models
from app.pipeline import Pipeline
from app.results import Frame
from app.sources.base import CaptureError
from tests.conftest import REPO_ROOT

MODEL = "mini_xception"  # shipped and the quickest: the API, not the model, is under test


@pytest.fixture(scope="module")
def recognizer():
    with EmotionRecognizer(MODEL, provider="cpu") as instance:
        yield instance


def assert_well_formed(face: FaceEmotion, image: np.ndarray, labels) -> None:
    assert list(face.probabilities) == list(labels)
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert all(0.0 <= value <= 1.0 for value in face.probabilities.values())
    assert face.top_emotion == max(face.probabilities, key=face.probabilities.get)
    assert face.top_probability == face.probabilities[face.top_emotion]
    x, y, width, height = face.box
    image_height, image_width = image.shape[:2]
    assert width > 0 and height > 0
    assert -1 <= x and -1 <= y and x + width <= image_width + 1 and y + height <= image_height + 1
    assert face.landmarks in ("mesh", "detector")


def test_one_face_in_a_portrait(recognizer, single_face_image):
    faces = recognizer.analyze(single_face_image)
    assert len(faces) == 1
    assert_well_formed(faces[0], single_face_image, recognizer.labels)
    assert faces[0].landmarks == "mesh"  # a large, sharp face: aligned from the face mesh
    assert faces[0].box[2] > 0.2 * single_face_image.shape[1]
    text = repr(faces[0])
    assert text.startswith(f"FaceEmotion(top_emotion={faces[0].top_emotion!r}, top_probability=")
    assert "landmarks='mesh'" in text and len(text) < 160


def test_several_faces_in_a_group_photo(recognizer, multi_face_image):
    faces = recognizer.analyze(multi_face_image)
    assert len(faces) >= 3
    for face in faces:
        assert_well_formed(face, multi_face_image, recognizer.labels)
    assert len({face.box for face in faces}) == len(faces)
    assert len({face.face_id for face in faces}) == len(faces)


def test_results_are_the_app_pipelines(recognizer, multi_face_image):
    """The same faces, boxes and probabilities as the pipeline the window runs."""
    pipeline = Pipeline(MODEL, provider="cpu")
    try:
        expected = pipeline.process(Frame(multi_face_image, 0, time.monotonic(),
                                          datetime.now().astimezone())).faces
    finally:
        pipeline.close()
    faces = recognizer.analyze(multi_face_image)
    assert [face.box for face in faces] == [tuple(face.box) for face in expected]
    assert [face.landmarks for face in faces] == [face.landmarks for face in expected]
    for face, reference in zip(faces, expected):
        np.testing.assert_allclose(list(face.probabilities.values()), reference.probabilities, atol=1e-5)


def test_photos_are_read_independently(recognizer, multi_face_image, single_face_image, media_dir):
    first = recognizer.analyze(multi_face_image)
    recognizer.analyze(single_face_image)
    again = recognizer.analyze(str(media_dir / "multi_face.jpg"))  # a path reads the same
    np.testing.assert_allclose([list(face.probabilities.values()) for face in again],
                               [list(face.probabilities.values()) for face in first], atol=1e-5)
    assert not {face.face_id for face in first} & {face.face_id for face in again}


def test_gray_images_and_empty_scenes(recognizer, single_face_image):
    gray = single_face_image.mean(axis=2).astype(np.uint8)
    assert len(recognizer.analyze(gray)) == 1
    assert recognizer.analyze(np.full((240, 320, 3), 128, np.uint8)) == []


@pytest.mark.parametrize("image, error, message", [
    (np.zeros((64, 64, 3), np.float32), ValueError, "uint8"),
    (np.zeros((64, 64, 2), np.uint8), ValueError, "shape"),
    ([[0, 0], [0, 0]], TypeError, "numpy array"),
    ("no/such/photo.jpg", FileNotFoundError, "no such image"),
])
def test_bad_images_are_refused_clearly(recognizer, image, error, message):
    with pytest.raises(error, match=message):
        recognizer.analyze(image)


def test_a_video_frame_by_frame(recognizer, media_dir):
    frames = list(itertools.islice(recognizer.analyze_video(media_dir / "fer_test.mp4"), 12))
    assert len(frames) == 12 and all(isinstance(frame, FrameEmotions) for frame in frames)
    assert [frame.index for frame in frames] == list(range(12))
    times = [frame.time_s for frame in frames]
    assert times[0] == 0.0 and all(later > earlier for earlier, later in zip(times, times[1:]))
    assert times[-1] < 1.0  # positions in the video, not the seconds it took to analyse
    with_faces = [frame for frame in frames if frame.faces]
    assert len(with_faces) >= 10
    assert len({face.face_id for frame in with_faces for face in frame.faces}) == 1  # tracked
    assert repr(frames[0]).startswith("FrameEmotions(index=0, time_s=0.000, faces=[FaceEmotion(")


def test_what_a_script_prints_inside_the_loop_all_reaches_its_stdout_and_stderr(media_dir):
    """MediaPipe's start-up noise is kept out of the terminal without swallowing the user's
    own lines: a script printing each frame from ``analyze_video``, its stdout a pipe."""
    script = ("import sys\nfrom app import EmotionRecognizer\n"
              f"with EmotionRecognizer({MODEL!r}, provider='cpu') as recognizer:\n"
              f"    for frame in recognizer.analyze_video({str(media_dir / 'fer_test.mp4')!r}):\n"
              "        print(f'frame {frame.index} faces {len(frame.faces)}')\n"
              "        print(f'err {frame.index}', file=sys.stderr)\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    frames = int(cv2.VideoCapture(str(media_dir / "fer_test.mp4")).get(cv2.CAP_PROP_FRAME_COUNT))
    printed = run.stdout.splitlines()
    assert frames > 100 and len(printed) == frames  # every frame's line, none lost
    assert [line.rsplit(" ", 1)[0] for line in printed] == [  # none garbled
        f"frame {index} faces" for index in range(frames)]
    assert sum(line.endswith(" faces 1") for line in printed) >= frames - 5
    assert [line for line in run.stderr.splitlines() if line.startswith("err ")] == [
        f"err {index}" for index in range(frames)]


def test_a_missing_video_is_refused_at_the_call(recognizer, tmp_path):
    with pytest.raises(CaptureError, match="no such file"):
        recognizer.analyze_video(tmp_path / "missing.mp4")


def test_a_bad_model_name_lists_the_choices():
    with pytest.raises(ValueError) as error:
        EmotionRecognizer("no_such_model")
    names = {entry.name for entry in scan_models()[0]}
    assert "no_such_model" in str(error.value)
    assert names and all(name in str(error.value) for name in names)


def test_a_bad_provider_lists_the_choices():
    with pytest.raises(ValueError, match="'cpu'"):
        EmotionRecognizer(MODEL, provider="gpu")


def test_the_default_is_the_libraries_most_accurate_model(single_face_image):
    with EmotionRecognizer() as default:
        assert default.model_name == default_model(scan_models()[0]).name
        faces = default.analyze(single_face_image)
        assert len(faces) == 1 and list(faces[0].probabilities) == list(default.labels)


def test_closing_releases_the_pipeline(single_face_image):
    recognizer = EmotionRecognizer(MODEL, provider="cpu")
    pipeline = recognizer._pipeline
    recognizer.analyze(single_face_image)
    with recognizer:
        pass
    assert pipeline.model is None  # the ONNX Runtime session let go
    assert repr(recognizer) == f"EmotionRecognizer(model={MODEL!r}, closed)"
    recognizer.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        recognizer.analyze(single_face_image)


def test_importing_the_package_stays_light():
    code = ("import sys, app; light = not {'cv2', 'onnxruntime', 'mediapipe', 'PySide6', 'torch'} "
            "& set(sys.modules); from app import EmotionRecognizer; "
            "print(light, 'PySide6' in sys.modules or 'torch' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120, check=True).stdout.split()
    assert output == ["True", "False"]


def test_each_face_carries_the_valence_of_its_probabilities(recognizer, single_face_image):
    from app.face.valence import valence

    (face,) = recognizer.analyze(single_face_image)
    expected = valence(list(face.probabilities.values()), recognizer.labels)
    assert -1.0 <= face.valence <= 1.0 and face.valence == pytest.approx(expected)
    assert f"valence={face.valence:+.2f}" in repr(face)
