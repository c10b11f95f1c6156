"""Shared fixtures: the real data in ../shared/data, and the real face landmarker."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import signal
import tempfile
from pathlib import Path

import cv2
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # GUI tests need no display
# Before any test module imports onnxruntime: no telemetry from the tests, nor from the
# processes they start (they inherit it); see app/__init__.py.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("EMOTION_APP_LOG", os.path.join(tempfile.gettempdir(), "emotion-app-tests.log"))
# Caches the tests fill (the landmarks of training crops) stay out of the user's own.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="emotion-tests-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)
# A suite started in the background by a shell without job control inherits Ctrl+C as
# ignored, and so would every process it starts: the tests of Ctrl+C need it live.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("EMOTION_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
MEDIA = SHARED_DATA / "media"
FER2013 = SHARED_DATA / "fer2013"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data set beside the repository; "
                    "set EMOTION_SHARED_DATA to point elsewhere)")
    return path


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return _require(MEDIA)


@pytest.fixture(scope="session")
def fer2013_root() -> Path:
    return _require(FER2013)


@pytest.fixture(scope="session")
def single_face_image(media_dir):
    return cv2.imread(str(_require(media_dir / "single_face.jpg")))


@pytest.fixture(scope="session")
def multi_face_image(media_dir):
    return cv2.imread(str(_require(media_dir / "multi_face.jpg")))


@pytest.fixture(scope="session")
def damaged_clip(media_dir, tmp_path_factory) -> Path:
    """fer_woman2.mp4 (464 frames) with 200 bytes flipped between 40 % and 80 % of the
    file: FFmpeg complains mid-run, long after MediaPipe's start-up, and decoding stops
    before the last frame, as in a damaged or half-copied recording."""
    data = bytearray(_require(media_dir / "fer_woman2.mp4").read_bytes())
    rng = random.Random(0)
    for _ in range(200):
        data[rng.randrange(int(len(data) * 0.4), int(len(data) * 0.8))] ^= 0xFF
    path = tmp_path_factory.mktemp("damaged") / "damaged.mp4"
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="session")
def landmarker():
    from app.face.landmarks import FaceLandmarker

    with FaceLandmarker(max_faces=10) as instance:
        yield instance


@pytest.fixture(scope="session")
def mini_xception_onnx(tmp_path_factory) -> Path:
    """A random-init Mini-Xception exported by ``training`` with a FER2013 card: a real
    model file as the app meets it (its numbers mean nothing; its contract is real)."""
    torch = pytest.importorskip("torch", reason="exporting a model needs the train extra")
    from tests.onnx_fixtures import fer_card
    from training.export import export_onnx
    from training.models import build_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "mini_xception.onnx"
    return export_onnx(build_model("mini_xception"), fer_card(architecture="mini_xception"), path)
