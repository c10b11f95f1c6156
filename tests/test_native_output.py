"""Native libraries' lines (FFmpeg, libjpeg, MediaPipe) go to the log, never the terminal,
whenever they come: mid-run on a damaged frame, at an interrupt, in the window.

The app as a user runs it, in a subprocess, on real clips; the damage is made here: bytes
flipped in the middle of a real H.264 clip, a real JPEG cut in half. The terminal shows
only the app's own lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from app.gui.settings import SETTINGS_ENV
from app.system.logs import LOG_ENV
from tests.conftest import REPO_ROOT
from tests.test_packaging import QUIET_HEADLESS

ENDED_EARLY = re.compile(r"^emotion-app: .* ended at frame \d+ of \d+: the rest could not be decoded")


def launcher() -> list[str]:
    command = Path(sys.executable).with_name("emotion-app")
    return [str(command)] if command.exists() else [sys.executable, "-m", "app"]


def app_env(tmp_path) -> dict[str, str]:
    return {**os.environ, LOG_ENV: str(tmp_path / "app.log"), SETTINGS_ENV: str(tmp_path / "settings.ini")}


def noise(stderr: str, *allowed: re.Pattern) -> list[str]:
    """The lines the app did not mean to print."""
    return [line for line in stderr.splitlines()
            if not any(pattern.match(line) for pattern in (QUIET_HEADLESS, *allowed))]


@pytest.fixture
def half_a_jpeg(media_dir, tmp_path) -> Path:
    """A folder of three images, the middle one a real JPEG cut in half."""
    folder = tmp_path / "images"
    folder.mkdir()
    image = cv2.imread(str(media_dir / "single_face.jpg"))
    for index in range(3):
        cv2.imwrite(str(folder / f"{index}.jpg"), image)
    cut = folder / "1.jpg"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    return folder


@pytest.mark.parametrize("source, native", [
    ("damaged_clip", re.compile(r"\[h264 @ ")),
    ("half_a_jpeg", re.compile(r"Premature end of JPEG file")),
])
def test_headless_runs_keep_native_lines_in_the_log(source, native, request, mini_xception_onnx,
                                                    tmp_path):
    completed = subprocess.run([*launcher(), "--headless", "--source", request.getfixturevalue(source),
                                "--model", mini_xception_onnx], cwd=REPO_ROOT, env=app_env(tmp_path),
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode in (0, 1), completed.stderr
    assert noise(completed.stderr, ENDED_EARLY) == []
    assert native.search((tmp_path / "app.log").read_text(errors="replace"))


def test_the_window_keeps_native_lines_in_the_log(damaged_clip, mini_xception_onnx, tmp_path):
    """The scripted window plays the damaged clip to its end (it stops decoding early)."""
    completed = subprocess.run([*launcher(), "--source", damaged_clip, "--model", mini_xception_onnx,
                                "--screenshot", tmp_path / "window.png"], cwd=REPO_ROOT,
                               env=app_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert completed.stderr == ""
    assert completed.returncode == 1  # failed part-way, as --headless says
    log = (tmp_path / "app.log").read_text(errors="replace")
    assert "[h264 @ " in log and "ended at frame" in log


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_an_interrupted_run_prints_only_its_own_lines(media_dir, mini_xception_onnx, tmp_path):
    process = subprocess.Popen([*launcher(), "--headless", "--realtime", "--source",
                                media_dir / "fer_woman2.mp4", "--model", mini_xception_onnx,
                                "--csv", tmp_path / "t.csv"], cwd=REPO_ROOT, env=app_env(tmp_path),
                               stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()  # the 0 % line: the face mesh has started
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 130, first + rest
    assert noise(first + rest, re.compile(r"^emotion-app: interrupted$")) == []
    assert (tmp_path / "t.csv").read_text().startswith("row_type,")


def test_native_lines_follow_the_log_across_a_rotation(tmp_path):
    """The log rotates at 1 MB by copying and emptying the file, so the stderr descriptor
    pointed at it keeps writing to the current log, never to the rotated copy."""
    script = (
        "import logging, os\n"
        "from app.system.logs import setup_logging\n"
        "from app.system.quiet import native_stderr_to\n"
        "path = setup_logging()\n"
        "with native_stderr_to(path):\n"
        "    os.write(2, b'native line before\\n')\n"
        "    for _ in range(1200):\n"
        "        logging.getLogger('app.test').info('x' * 1000)\n"
        "    os.write(2, b'native line after\\n')\n")
    subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=app_env(tmp_path), check=True,
                   timeout=120)
    current, rotated = (tmp_path / "app.log").read_text(), (tmp_path / "app.log.1").read_text()
    assert "native line after" in current and "native line before" in rotated
