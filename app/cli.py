"""``emotion-app``: the desktop app, or with ``--headless`` the same pipeline without a window;
``emotion-app batch`` runs many files that way (``app.batch``); ``emotion-app calibrate``
works on a recorded CSV (``app.output.commands``)."""

from __future__ import annotations

import argparse
import sys

from app.arguments import LOG_LEVELS, add_analysis_arguments, argparse_type, camera_mode_of, non_negative_int
from app.sources.camera_mode import parse_fps, parse_size, set_default_mode
from app.system.cli_text import version_text
from app.system.exit_codes import quiet_on_closed_pipe
from app.system.logs import LOG_ENV, log_file, setup_logging
from app.system.quiet import native_stderr_to


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-app",
        description="Real-time facial emotion recognition from a camera, video, image folder or stream.",
        epilog="Sources: a camera index (0, 1, ...), a video file, a folder of images, or a "
               "stream URL (rtsp://, http://). Models: a name from models_onnx/ (see "
               "--list-models) or the path of an ONNX file that carries a model card. "
               "A recorded CSV afterwards: emotion-app calibrate --help, emotion-app report --help. "
               f"Log file (with the native libraries' raw messages): {log_file()} "
               f"({LOG_ENV} names another). Many files at once, in parallel: emotion-app batch "
               "--help.",
    )
    source = parser.add_argument_group("input and model")
    source.add_argument("--source", help="camera index, video file, image folder or stream URL")
    add_analysis_arguments(source)
    source.add_argument("--camera-size", type=argparse_type(parse_size), metavar="WIDTHxHEIGHT",
                        help="ask a camera for this resolution, e.g. 1280x720 (--list-cameras "
                             "shows the sizes each accepts; default: the driver's)")
    source.add_argument("--camera-fps", type=argparse_type(parse_fps), metavar="FPS",
                        help="ask a camera for this frame rate, e.g. 30 (default: the driver's)")
    output = parser.add_argument_group("recording")
    output.add_argument("--csv", help="write the emotion timeline to this CSV file (a new file "
                        "unless --overwrite)")
    output.add_argument("--overwrite", action="store_true",
                        help="let --csv, --plot and --output-video replace existing files")
    output.add_argument("--output-video", help="headless: also write an annotated video here (a "
                        "new file unless --overwrite)")
    output.add_argument("--plot", metavar="IMAGE",
                        help="headless: also draw each face's emotion timeline to this .png "
                             "(one panel per face; a summary is printed either way)")
    output.add_argument("--report", metavar="HTML",
                        help="headless: also write a self-contained HTML report of the --csv "
                             "(emotion-app report --help)")
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


HEADLESS_ONLY = ("output_video", "plot", "report", "realtime", "max_frames")
"""Options that mean something only without a window: given to the window, they are refused
rather than silently ignored."""


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["batch"]:  # a subcommand before the flags: many files, see app.batch
        from app.batch.command import main as batch_main

        return batch_main(argv[1:])
    if argv[:1] == ["calibrate"]:  # a recorded CSV corrected for each face's neutral baseline
        from app.output.commands import calibrate_main

        return calibrate_main(argv[1:])
    if argv[:1] == ["report"]:  # a recorded CSV as one self-contained HTML page
        from app.output.commands import report_main

        return report_main(argv[1:])
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
