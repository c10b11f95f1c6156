"""``emotion-app``: the desktop app, or with ``--headless`` the same pipeline without a window;
``emotion-app batch`` runs many files that way (``app.batch``)."""

from __future__ import annotations

import argparse
import sys

from app.camera_mode import CameraMode, parse_fps, parse_size, set_default_mode
from app.cli_text import version_text
from app.landmarks import DEFAULT_MAX_FACES
from app.logs import LOG_ENV, log_file, setup_logging
from app.quiet import native_stderr_to
from app.steady import (
    DEFAULT_SWITCH_HOLD_S,
    DEFAULT_SWITCH_MARGIN,
    DEFAULT_TIME_CONSTANT_S,
    MAX_SWITCH_HOLD_S,
    MAX_SWITCH_MARGIN,
    MAX_TIME_CONSTANT_S,
    Steadiness,
)

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


def _argparse_type(parse):
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
                        metavar="P", help="lead in probability another emotion needs over the shown "
                                          f"one before it is shown (default: {DEFAULT_SWITCH_MARGIN})")
    group.add_argument("--switch-hold", type=bounded(MAX_SWITCH_HOLD_S), default=DEFAULT_SWITCH_HOLD_S,
                        metavar="SECONDS", help="how long that lead must last (default: "
                                                f"{DEFAULT_SWITCH_HOLD_S} s; 0 and --switch-margin 0: "
                                                "no hysteresis)")
    group.add_argument("--no-gamma", action="store_true",
                        help="skip adaptive gamma even when the model's card asks for it")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-app",
        description="Real-time facial emotion recognition from a camera, video, image folder or stream.",
        epilog="Sources: a camera index (0, 1, ...), a video file, a folder of images, or a "
               "stream URL (rtsp://, http://). Models: a name from models_onnx/ (see "
               "--list-models) or the path of an ONNX file that carries a model card. "
               f"Log file (with the native libraries' raw messages): {log_file()} "
               f"({LOG_ENV} names another). Many files at once, in parallel: emotion-app batch "
               "--help.",
    )
    source = parser.add_argument_group("input and model")
    source.add_argument("--source", help="camera index, video file, image folder or stream URL")
    add_analysis_arguments(source)
    source.add_argument("--camera-size", type=_argparse_type(parse_size), metavar="WIDTHxHEIGHT",
                        help="ask a camera for this resolution, e.g. 1280x720 (--list-cameras "
                             "shows the sizes each accepts; default: the driver's)")
    source.add_argument("--camera-fps", type=_argparse_type(parse_fps), metavar="FPS",
                        help="ask a camera for this frame rate, e.g. 30 (default: the driver's)")
    output = parser.add_argument_group("recording")
    output.add_argument("--csv", help="write the emotion timeline to this CSV file (a new file "
                        "unless --overwrite)")
    output.add_argument("--overwrite", action="store_true",
                        help="let --csv replace an existing file")
    output.add_argument("--output-video", help="headless: also write an annotated video here")
    output.add_argument("--plot", metavar="IMAGE",
                        help="headless: also draw each face's emotion timeline to this .png "
                             "(one panel per face; a summary is printed either way)")
    modes = parser.add_argument_group("modes")
    modes.add_argument("--headless", action="store_true",
                       help="no window: process --source to --csv with a progress bar")
    modes.add_argument("--realtime", action="store_true",
                       help="headless: pace a video like a camera and drop frames a slow model "
                            "cannot keep up with (default: analyse every frame)")
    modes.add_argument("--max-frames", type=non_negative_int, default=0,
                       help="headless: stop after this many analysed frames (0: all)")
    modes.add_argument("--list-cameras", action="store_true", help="list cameras and exit")
    modes.add_argument("--list-models", action="store_true", help="list installed models and exit")
    modes.add_argument("--gpu-report", action="store_true",
                       help="probe ONNX Runtime's providers, print the report and exit")
    automation = parser.add_argument_group("automation (scripted GUI runs)")
    automation.add_argument("--quit-after-frames", type=non_negative_int, default=0,
                            help="close the window after this many analysed frames")
    automation.add_argument("--screenshot", help="save a screenshot of the window before quitting")
    parser.add_argument("--log-level", default="WARNING", choices=LOG_LEVELS, help="logging verbosity")
    parser.add_argument("--version", action="version", version=version_text("emotion-app"))
    return parser


HEADLESS_ONLY = ("output_video", "plot", "realtime", "max_frames")
"""Options that mean something only without a window: given to the window, they are refused
rather than silently ignored."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["batch"]:  # a subcommand before the flags: many files, see app.batch
        from app.batch.command import main as batch_main

        return batch_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    window = not (args.headless or args.list_cameras or args.list_models or args.gpu_report)
    given = [f"--{name.replace('_', '-')}" for name in HEADLESS_ONLY if getattr(args, name)]
    if window and given:
        parser.error(f"{', '.join(given)} need{'s' * (len(given) == 1)} --headless (the window "
                     "analyses live and records with --csv)")
    set_default_mode(camera_mode_of(args))  # every camera opened, headless or in the window
    log_path = setup_logging(args.log_level)
    if window:
        from app.gui import run
    else:
        from app.headless import run
    with native_stderr_to(log_path):  # FFmpeg, libjpeg and MediaPipe print when they like
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
