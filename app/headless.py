"""``emotion-app --headless`` and the listing commands: the pipeline without a window.

Exit codes: 0 done; 1 the run failed part-way (camera lost, recording failed, a video
that stops decoding before its last frame; what was recorded is kept); 2 bad input (no
source, no camera at that index, an undecodable video, a bad model, an unwritable CSV
or video path, an existing CSV without ``--overwrite``, a ``--provider`` that cannot
run here); 130 interrupted with Ctrl+C (the CSV is closed cleanly first).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path

from app.annotate import AnnotatedVideo
from app.cameras import list_cameras
from app.capture import open_reader
from app.cli import steadiness_of
from app.logs import log_file
from app.model_card import ModelCardError
from app.model_library import HOW_TO_GET_ONE, default_model, describe_models, scan_models
from app.pipeline import Pipeline
from app.providers import probe
from app.recorder import RecordingError
from app.results import Event, EventKind, FrameResult
from app.sources import CaptureError

log = logging.getLogger(__name__)

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


class _UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""


def run(args: argparse.Namespace) -> int:
    if args.gpu_report:
        print(probe(args.provider).text())
        return 0
    if args.list_models:
        print(describe_models())
        return 0
    if args.list_cameras:
        cameras = list_cameras()
        print("\n".join(f"{c.index}: {c.width}x{c.height} (modes: "
                        + ", ".join(f"{w}x{h}" for w, h in c.resolutions) + ")" for c in cameras)
              if cameras else "No cameras found.")
        return 0
    try:
        return _analyse(args)
    except _UsageError as error:
        print(f"emotion-app: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _analyse(args: argparse.Namespace) -> int:
    if not args.source:
        raise _UsageError("--headless needs --source (a video file, image folder, camera index "
                          "or stream URL)")
    unmet = probe(args.provider).unmet
    if unmet:
        raise _UsageError(f"{unmet}; use --provider auto or cpu (--gpu-report tells more)")
    try:
        pipeline = Pipeline(_model_argument(args), provider=args.provider,
                            max_faces=args.max_faces, steadiness=steadiness_of(args),
                            gamma=not args.no_gamma)
    except ModelCardError as error:
        raise _UsageError(str(error)) from None
    try:
        reader = open_reader(args.source, realtime=args.realtime)
    except CaptureError as error:
        raise _UsageError(str(error)) from None
    video = None
    try:
        if args.output_video:
            video = AnnotatedVideo(args.output_video, reader.source.fps)
        if args.csv:
            existed = not args.overwrite and Path(args.csv).expanduser().is_file()  # before trying
            try:
                pipeline.start_recording(args.csv, overwrite=args.overwrite)
            except RecordingError as error:
                hint = "; pass --overwrite to replace it" if existed else ""
                raise _UsageError(f"{error}{hint}") from None
        return _loop(pipeline, reader, video, args)
    except RecordingError as error:
        raise _UsageError(str(error)) from None
    finally:
        final = pipeline.stop_recording()
        pipeline.close()
        reader.close()
        if video:
            video.close()
        if final:
            print(f"CSV: {final.path} ({final.rows} rows)", file=sys.stderr)


def _loop(pipeline: Pipeline, reader, video: AnnotatedVideo | None, args) -> int:
    progress = _Progress(reader.source.frame_count)
    failures: list[Event] = []
    stop = threading.Event()
    started = time.monotonic()
    frames = 0

    def on_event(event: Event) -> None:
        if event.kind is EventKind.SOURCE_ENDED and event.details.get("ended_early"):
            failures.append(event)  # a truncated video: analysed part-way, exit code 1
            progress.message(f"emotion-app: {event.message}")
        elif event.kind in (EventKind.SOURCE_LOST, EventKind.RECORDING_FAILED, EventKind.ERROR):
            failures.append(event)
            details = f" (details in {log_file()})" if event.kind is EventKind.ERROR else ""
            progress.message(f"emotion-app: {event.message}{details}")
            stop.set()
        elif event.kind is EventKind.MODEL_CHANGED:
            log.info("%s", event.message)

    def on_result(result: FrameResult) -> None:
        nonlocal frames
        frames += 1
        progress.update(result)
        if video:
            video.write(result)
        if args.max_frames and frames >= args.max_frames:
            stop.set()

    try:
        summary = pipeline.run(reader, on_result, on_event, stop)
    except KeyboardInterrupt:
        progress.finish()
        print("emotion-app: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    progress.finish()
    seconds = time.monotonic() - started
    print(f"Analysed {summary.frames} frames ({summary.faces} faces) in {seconds:.1f} s "
          f"({summary.frames / max(seconds, 1e-9):.1f} frames/s) with "
          f"{pipeline.model.path.stem} on {pipeline.model.provider}; "
          f"{reader.dropped_frames} frames dropped", file=sys.stderr)
    return EXIT_FAILED if failures else 0


def _model_argument(args: argparse.Namespace) -> str | Path:
    if args.model:
        return args.model
    best = default_model(scan_models()[0])
    if best is None:
        raise _UsageError(f"no emotion model installed. {HOW_TO_GET_ONE}")
    log.info("no --model given; using %s, the most accurate (%s)", best.path, best.accuracy_text)
    return best.path


class _Progress:
    """A one-line progress bar on stderr; plain lines every 10% when it is not a terminal."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.interactive = sys.stderr.isatty()
        self._last_print = 0.0
        self._last_decile = -1
        self._shown = False

    def update(self, result: FrameResult) -> None:
        done = result.frame.index + 1
        fraction = min(done / self.total, 1.0) if self.total else None
        status = (f"{done}/{self.total} frames" if self.total else f"{done} frames") + (
            f" | {result.fps:.1f} fps | {len(result.faces)} face(s) | "
            f"{result.dropped_frames} dropped")
        if self.interactive:
            now = time.monotonic()
            if now - self._last_print < 0.2 and fraction != 1.0:
                return
            self._last_print = now
            bar = "" if fraction is None else (
                f"[{'#' * int(fraction * 30):<30}] {fraction:4.0%} ")
            sys.stderr.write(f"\r{bar}{status}\x1b[K")
            sys.stderr.flush()
            self._shown = True
        elif fraction is not None and int(fraction * 10) > self._last_decile:
            self._last_decile = int(fraction * 10)
            print(f"{fraction:4.0%} {status}", file=sys.stderr)

    def message(self, text: str) -> None:
        self.finish()
        print(text, file=sys.stderr)

    def finish(self) -> None:
        if self._shown:
            sys.stderr.write("\n")
            self._shown = False
