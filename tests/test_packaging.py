"""The PyInstaller bundle (packaging/), built once and run as a desktop user runs it.

Each run gets only what a desktop session has (the ``env -i`` of ``clean_env``: a
fresh HOME, a PATH without the virtual environment, a UTF-8 locale, an offscreen Qt
display or an Xvfb server), so the bundle must bring its own Python, libraries and
model files.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest

from app.output.timeline_columns import timeline_columns
from tests.conftest import REPO_ROOT
from training.data.labels import FER2013_LABELS

pytestmark = pytest.mark.slow

NOT_BUNDLED = ("torch", "training", "tests", "matplotlib", "onnx", "onnxscript", "tqdm", "jax",
               "scipy", "PIL", "sounddevice", "ray")
"""Top-level modules the app never imports (``onnx`` is not ``onnxruntime``)."""
QUIET_HEADLESS = re.compile(r"^(\s*\d+% \d+/\d+ frames .*|Analysed \d+ frames,? .*|CSV: .*)$")
"""The only lines ``--headless`` may print to stderr when nothing is wrong."""


@dataclass(frozen=True)
class Bundle:
    executable: Path
    build_report: str
    shipped_models: tuple[str, ...]
    """``models_onnx/*.onnx`` stems when the bundle was built."""

    @property
    def internal(self) -> Path:
        return self.executable.parent / "_internal"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Bundle:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("building the bundle needs PyInstaller (the dev extra)")
    work = tmp_path_factory.mktemp("bundle")
    shipped = tuple(sorted(path.stem for path in (REPO_ROOT / "models_onnx").glob("*.onnx")))
    completed = subprocess.run(
        [sys.executable, "packaging/build.py", "--dist", work / "dist", "--work", work / "build"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    assert completed.returncode == 0, completed.stderr[-5000:]
    return Bundle(work / "dist" / "emotion-live" / "emotion-live", completed.stdout, shipped)


@pytest.fixture
def clean_env(tmp_path) -> dict[str, str]:
    home, runtime = tmp_path / "home", tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": str(runtime), "QT_QPA_PLATFORM": "offscreen"}


def run_bundle(bundle: Bundle, env: dict[str, str], *args) -> subprocess.CompletedProcess:
    return subprocess.run(["env", "-i", *(f"{name}={value}" for name, value in env.items()),
                           str(bundle.executable), *map(str, args)],
                          cwd=env["HOME"], capture_output=True, text=True, timeout=300)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


def test_build_prints_the_bundle_size_and_leaves_out_what_the_app_never_imports(bundle):
    files = [path for path in bundle.executable.parent.rglob("*") if path.is_file() and not path.is_symlink()]
    total_mb = sum(path.stat().st_size for path in files) / 2**20
    printed = re.search(r"Bundle .*: ([\d.]+) MB in (\d+) files", bundle.build_report)
    assert printed, bundle.build_report
    assert float(printed[1]) == pytest.approx(total_mb, abs=0.1) and int(printed[2]) == len(files)
    assert "Biggest parts:" in bundle.build_report and "Biggest files:" in bundle.build_report
    if shutil.which("objdump"):
        assert re.search(r"Runs on Linux with glibc \d+\.\d+ or newer", bundle.build_report)

    from PyInstaller.archive.readers import pkg_archive_contents

    modules = {name.split(".")[0] for name in pkg_archive_contents(str(bundle.executable))}
    folders = {path.name for path in bundle.internal.iterdir()}
    assert "app" in modules and "mediapipe" in modules
    assert not modules & set(NOT_BUNDLED) and not folders & set(NOT_BUNDLED)
    models = sorted(path.name for path in (bundle.internal / "mediapipe" / "modules").rglob("*.tflite"))
    assert models == ["face_detection_full_range_sparse.tflite", "face_detection_short_range.tflite",
                      "face_landmark_with_attention.tflite"]
    plugins = bundle.internal / "PySide6" / "Qt" / "plugins"
    assert {"libqxcb.so", "libqoffscreen.so"} <= {path.name for path in (plugins / "platforms").iterdir()}
    assert not (bundle.internal / "PySide6" / "Qt" / "translations").exists()
    assert not [path for path in bundle.internal.rglob("*") if path.is_symlink() and not path.exists()]
    assert (bundle.internal / "assets" / "alignment" / "fer2013_mesh_v1.json").is_file()


def test_headless_run_writes_the_same_timeline_as_the_source_install(bundle, clean_env, media_dir,
                                                                     mini_xception_onnx, tmp_path):
    video = media_dir / "fer_test.mp4"
    frozen_csv, source_csv = tmp_path / "frozen.csv", tmp_path / "source.csv"
    frozen = run_bundle(bundle, clean_env, "--headless", "--source", video, "--model",
                        mini_xception_onnx, "--csv", frozen_csv)
    assert frozen.returncode == 0, frozen.stderr
    noise = [line for line in frozen.stderr.splitlines() if not QUIET_HEADLESS.match(line)]
    assert noise == [], "the bundle printed more than its progress"  # e.g. a failed CUDA probe
    telemetry = list(Path(clean_env["HOME"]).rglob(".onnxruntime"))
    assert telemetry == [], "ONNX Runtime kept telemetry (a device ID, queued events)"
    source = subprocess.run([sys.executable, "-m", "app", "--headless", "--source", video, "--model",
                             mini_xception_onnx, "--csv", source_csv], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert source.returncode == 0, source.stderr

    columns, rows = read_csv(frozen_csv)
    source_columns, source_rows = read_csv(source_csv)
    assert columns == source_columns == timeline_columns(FER2013_LABELS)
    assert len(rows) == len(source_rows) == int(cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT))
    numeric = [name for name in columns if name.startswith(("p_", "smoothed_", "box_"))]
    for row, expected in zip(rows, source_rows):
        assert (row["frame_index"], row["face_id"], row["landmarks"], row["top_emotion"]) == (
            expected["frame_index"], expected["face_id"], expected["landmarks"], expected["top_emotion"])
        assert [float(row[name]) for name in numeric] == pytest.approx(
            [float(expected[name]) for name in numeric], abs=1e-4)


@pytest.fixture
def display(request, clean_env) -> Iterator[dict[str, str]]:
    """The session's display: Qt's offscreen platform, or X11 (xcb) on an Xvfb server."""
    if request.param == "offscreen":
        yield clean_env
        return
    if shutil.which("Xvfb") is None:
        pytest.skip("the X11 check needs Xvfb (apt-get install xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24",
                               "-nolisten", "tcp"], pass_fds=[write], stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as announced:
        number = announced.readline().strip()
    try:
        assert number, "Xvfb did not start"
        env = {name: value for name, value in clean_env.items() if name != "QT_QPA_PLATFORM"}
        yield {**env, "DISPLAY": f":{number}"}
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("display", ["offscreen", "xcb"], indirect=True)
def test_gui_opens_and_saves_a_screenshot(bundle, display, media_dir, mini_xception_onnx, tmp_path):
    screenshot = tmp_path / "window.png"
    completed = run_bundle(bundle, display, "--source", media_dir / "fer_test.mp4", "--model",
                           mini_xception_onnx, "--quit-after-frames", 10, "--screenshot", screenshot)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == "", "the window logged warnings"
    image = cv2.imread(str(screenshot))
    assert image is not None and image.shape[0] >= 300 and image.shape[1] >= 400
    assert image.std() > 10  # a drawn window, not a blank surface


def test_lists_the_models_shipped_at_build_time_and_those_the_user_adds(bundle, clean_env,
                                                                        mini_xception_onnx):
    shipped = run_bundle(bundle, clean_env, "--list-models")
    assert shipped.returncode == 0, shipped.stderr
    assert str(bundle.internal / "models_onnx") in shipped.stdout  # the bundle's own folder is searched
    for name in bundle.shipped_models:  # "*" marks the default model
        assert re.search(rf"^[\s*]+{re.escape(name)}\s", shipped.stdout, re.MULTILINE), shipped.stdout
    if not bundle.shipped_models:
        assert "No models found" in shipped.stdout

    added = run_bundle(bundle, {**clean_env, "EMOTION_MODELS_DIR": str(mini_xception_onnx.parent)},
                       "--list-models")
    # Two folders: each file is listed under its folder.
    user_folder = added.stdout.split(f"in {mini_xception_onnx.parent}:")[1].split("  in ")[0]
    assert re.search(r"^\s+mini_xception\s.*mini_xception\.onnx$", user_folder, re.MULTILINE), added.stdout


def test_gpu_report_explains_a_cpu_fallback_without_pip(bundle, clean_env):
    completed = run_bundle(bundle, clean_env, "--gpu-report")
    assert completed.returncode == 0, completed.stderr
    assert "providers in this build:" in completed.stdout and "Running on:" in completed.stdout
    if "no NVIDIA GPU found" in completed.stdout:  # no driver: nothing to install CUDA for
        assert "Running on: CPUExecutionProvider" in completed.stdout
        assert "CUDA 13" not in completed.stdout and "pip install" not in completed.stdout
    elif "CUDAExecutionProvider: not usable" in completed.stdout:  # a GPU, no CUDA libraries
        assert "Running on: CPUExecutionProvider" in completed.stdout
        assert "this app bundle does not include them" in completed.stdout
        assert "pip install" not in completed.stdout
