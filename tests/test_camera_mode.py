"""Choosing a camera's size and frame rate: parsing, the command line, and what the
camera source asks of OpenCV, on stand-in cameras (there is none on the test machines)."""

import logging

import cv2
import numpy as np
import pytest

from app.cli import build_parser, camera_mode_of, main
from app.sources import camera_mode
from app.sources.camera_mode import CameraMode, default_mode, parse_fps, parse_size, set_default_mode
from app.sources.capture import open_source
from app.sources.video import CameraSource
from tests.camera_fakes import CameraSequence, FakeCamera

FRAME = np.full((480, 640, 3), 90, np.uint8)
WIDTH, HEIGHT, FPS = cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT, cv2.CAP_PROP_FPS


class RecordingCamera(FakeCamera):
    """Accepts every mode and remembers what was asked of it, in order."""

    def __init__(self, image=FRAME):
        super().__init__(image)
        self.requests: list[tuple[int, float]] = []

    def set(self, prop, value):
        self.requests.append((prop, value))
        return super().set(prop, value)


class StubbornCamera(RecordingCamera):
    """Has one mode, 640x480 at 30 fps, whatever it is asked (as many webcams do)."""

    def set(self, prop, value):
        self.requests.append((prop, value))
        return False


@pytest.fixture(autouse=True)
def restore_default_mode():
    saved = default_mode()
    yield
    set_default_mode(saved)


@pytest.mark.parametrize("text, size", [("1280x720", (1280, 720)), ("640X480", (640, 480)),
                                        (" 1920 x 1080 ", (1920, 1080)), ("800×600", (800, 600))])
def test_sizes_parse(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["1280", "1280x", "x720", "big", "1280x720x3", "1280,720",
                                  "0x720", "1280x0", "-1280x720", "99999x720"])
def test_a_bad_size_is_refused_with_an_example(text):
    with pytest.raises(ValueError, match="1280x720"):
        parse_size(text)


@pytest.mark.parametrize("text, fps", [("30", 30.0), ("29.97", 29.97), (" 60 ", 60.0)])
def test_frame_rates_parse(text, fps):
    assert parse_fps(text) == fps


@pytest.mark.parametrize("text", ["fast", "", "0", "-30", "nan", "inf", "5000"])
def test_a_bad_frame_rate_is_refused_clearly(text):
    with pytest.raises(ValueError, match="camera frame rate"):
        parse_fps(text)


def test_the_command_line_takes_a_size_and_a_frame_rate():
    args = build_parser().parse_args(["--camera-size", "1280x720", "--camera-fps", "30"])
    assert camera_mode_of(args) == CameraMode((1280, 720), 30.0)
    assert camera_mode_of(build_parser().parse_args([])) == CameraMode()


@pytest.mark.parametrize("option, value, expected", [("--camera-size", "1280*720", "e.g. 1280x720"),
                                                     ("--camera-fps", "fast", "e.g. 30")])
def test_the_command_line_refuses_bad_modes_with_an_example(capsys, option, value, expected):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([option, value])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert option in error and expected in error and repr(value) in error


def test_main_makes_the_mode_every_camera_asks_for(monkeypatch):
    seen = []
    monkeypatch.setattr("app.headless.run", lambda args: seen.append(default_mode()) or 0)
    assert main(["--headless", "--camera-size", "1280x720", "--camera-fps", "25"]) == 0
    assert main(["--headless"]) == 0  # a later run without the options: the driver's mode
    assert seen == [CameraMode((1280, 720), 25.0), CameraMode()]


def test_the_camera_is_asked_for_the_mode_size_first(caplog):
    camera = RecordingCamera()
    source = CameraSource(0, CameraMode((1280, 720), 30.0), open_capture=CameraSequence(camera))
    with caplog.at_level(logging.INFO, logger="app.sources.video"):
        source.open()
    assert camera.requests == [(WIDTH, 1280), (HEIGHT, 720), (FPS, 30.0)]
    assert source.size == (1280, 720) and source.fps == 30.0
    assert "camera 0 delivers 1280x720 at 30 fps, as asked" in caplog.text
    source.close()


def test_no_mode_asks_nothing_of_the_driver():
    camera = RecordingCamera()
    source = CameraSource(0, CameraMode(), open_capture=CameraSequence(camera))
    source.open()
    assert camera.requests == []
    assert source.size == (640, 480)
    source.close()


def test_what_the_camera_delivers_instead_is_logged(caplog):
    camera = StubbornCamera()
    source = CameraSource(0, CameraMode((1920, 1080), 60.0), open_capture=CameraSequence(camera))
    with caplog.at_level(logging.WARNING, logger="app.sources.video"):
        source.open()
    assert camera.requests == [(WIDTH, 1920), (HEIGHT, 1080), (FPS, 60.0)]
    assert source.size == (640, 480) and source.fps == 30.0
    assert ("camera 0 delivers 640x480 at 30 fps, not the 1920x1080 at 60 fps asked for"
            in caplog.text)
    assert source.read().image.shape == (480, 640, 3)
    source.close()


def test_a_reopened_camera_is_asked_again():
    first, second = RecordingCamera(), RecordingCamera()
    source = CameraSource(0, CameraMode(fps=15.0), open_capture=CameraSequence(first, second))
    source.open()
    source.close()
    source.open()  # what FrameReader.restart does after a lost camera
    assert first.requests == second.requests == [(FPS, 15.0)]
    source.close()


def test_cameras_opened_by_spec_ask_for_the_default_mode():
    """The window's camera list and --headless --source 0 both open cameras by spec."""
    set_default_mode(CameraMode((800, 600)))
    camera = RecordingCamera()
    source = open_source("0", open_capture=CameraSequence(camera))
    assert camera.requests == [(WIDTH, 800), (HEIGHT, 600)]
    source.close()
    explicit = RecordingCamera()
    source = open_source(0, open_capture=CameraSequence(explicit), camera_mode=CameraMode(fps=24.0))
    assert explicit.requests == [(FPS, 24.0)]
    source.close()


def test_a_mode_out_of_range_is_refused():
    with pytest.raises(ValueError, match="camera size"):
        CameraMode((0, 720))
    with pytest.raises(ValueError, match="frame rate"):
        CameraMode(fps=-1.0)
    with pytest.raises(TypeError):
        camera_mode.set_default_mode((1280, 720))
