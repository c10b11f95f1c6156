"""Command-line pieces both ``emotion-app`` and ``emotion-app batch`` parse: number types
that explain a refusal, and the model and face-reading options, so that each file of a
batch is analysed as a headless run of the same options would analyse it."""

from __future__ import annotations

import argparse

from app.face.landmarks import DEFAULT_MAX_FACES
from app.face.steady import (
    DEFAULT_SWITCH_HOLD_S,
    DEFAULT_SWITCH_MARGIN,
    DEFAULT_TIME_CONSTANT_S,
    MAX_SWITCH_HOLD_S,
    MAX_SWITCH_MARGIN,
    MAX_TIME_CONSTANT_S,
    Steadiness,
)
from app.model.views import CHOICES as VIEW_CHOICES
from app.sources.camera_mode import CameraMode

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = _number(int, text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0."""
    value = _number(int, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def bounded(most: float):
    """An argparse type: a number from 0 to ``most``."""
    def parse(text: str) -> float:
        value = _number(float, text)
        if not 0.0 <= value <= most:
            raise argparse.ArgumentTypeError(f"must be from 0 to {most}, got {value}")
        return value
    return parse


def steadiness_of(args: argparse.Namespace) -> Steadiness:
    """The smoothing and hysteresis the command line asks for."""
    return Steadiness(args.smoothing, args.switch_margin, args.switch_hold)


def camera_mode_of(args: argparse.Namespace) -> CameraMode:
    """The camera size and frame rate the command line asks for."""
    return CameraMode(args.camera_size, args.camera_fps)


def argparse_type(parse):
    """An argparse type from a parser raising ValueError: its message, not "invalid value"."""
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = parse.__name__
    return convert


def _number(kind: type, text: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' * (kind is int)}number") from None


def add_analysis_arguments(group) -> None:
    """The model and how faces are read: shared by ``--headless``, the window and
    ``emotion-app batch``, so each file of a batch is analysed as a headless run would."""
    group.add_argument("--model", help="model name from models_onnx/ or path to an .onnx file "
                                        "(default: the most accurate installed, see --list-models)")
    group.add_argument("--provider", default="auto", choices=("auto", "tensorrt", "cuda", "cpu"),
                        help="ONNX Runtime execution provider (auto: probe the GPU, else CPU)")
    group.add_argument("--max-faces", type=positive_int, default=DEFAULT_MAX_FACES,
                        help="most faces analysed per frame, largest first")
    group.add_argument("--smoothing", type=bounded(MAX_TIME_CONSTANT_S), default=DEFAULT_TIME_CONSTANT_S,
                        metavar="SECONDS",
                        help="time constant of the per-face probability smoothing, 0 (off) to "
                             f"{MAX_TIME_CONSTANT_S} s (default: {DEFAULT_TIME_CONSTANT_S} s)")
    group.add_argument("--switch-margin", type=bounded(MAX_SWITCH_MARGIN), default=DEFAULT_SWITCH_MARGIN,
                        metavar="P", help="a lead in probability over the emotion shown that "
                                          "switches to the leader at once (default: "
                                          f"{DEFAULT_SWITCH_MARGIN}; 0: the top emotion, always)")
    group.add_argument("--switch-hold", type=bounded(MAX_SWITCH_HOLD_S), default=DEFAULT_SWITCH_HOLD_S,
                        metavar="SECONDS", help="the longest the emotion shown may stay behind "
                                                "another by less than the margin (default: "
                                                f"{DEFAULT_SWITCH_HOLD_S} s)")
    group.add_argument("--no-gamma", action="store_true",
                        help="skip adaptive gamma even when the model's card asks for it")
    group.add_argument("--views", default="auto", choices=VIEW_CHOICES,
                        help="the model card's test-time views: all (every view chosen on "
                             "validation data: the most accurate read), mirror (the face and its "
                             "mirror image), none (one read per face: the fastest); auto (default): "
                             "all for files read frame by frame, batch and the API, live as many "
                             "as the frame budget allows")
