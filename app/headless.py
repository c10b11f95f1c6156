"""``emotion-app --headless`` and the listing commands: the pipeline without a window.

A run ends with a summary on stdout (``app.output.run_summary``: faces, emotion shares, frames
without a face) and, with ``--plot``, an image of each face's timeline
(``app.output.timeline_image``), both made from the results the CSV records, after the CSV is
closed, so a plot that cannot be written loses none of it.

Exit codes: 0 done; 1 the run failed part-way (camera lost, recording failed, a video
that stops decoding before its last frame, a plot that could not be written at the end;
what was recorded is kept); 2 bad input (no source, no camera at that index, an
undecodable video, a bad model, an unwritable CSV, video or plot path, an existing CSV
without ``--overwrite``, a ``--provider`` that cannot run here); 130 interrupted with
Ctrl+C (the CSV is closed cleanly first, and the summary and plot cover what was analysed).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.arguments import steadiness_of
from app.model.card import ModelCardError
from app.model.inference import EmotionClassifier
from app.model.library import describe_models, most_accurate_installed
from app.model.providers import probe
from app.output.annotate import AnnotatedVideo
from app.output.frame_bars import draw_frame_bars
from app.output.report import ReportError, RunFacts, write_report
from app.output.run_summary import RunTally, summary_text
from app.output.timeline_csv import RecordingError
from app.output.timeline_image import checked_plot_path, draw_timelines, write_image
from app.pipeline import Pipeline
from app.results import Event, EventKind, FrameResult, RecordingStatus
from app.sources.base import CaptureError
from app.sources.cameras import list_cameras
from app.sources.capture import open_reader
from app.system.exit_codes import ExitCode
from app.system.file_names import printable
from app.system.logs import log_file
from app.system.output_paths import refuse_existing

log = logging.getLogger(__name__)


class UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""


@dataclass(frozen=True)
class Analysis:
    """What one run through a source gave: counts, time, and the events that made it fail."""

    frames: int
    faces: int
    seconds: float
    failures: tuple[Event, ...]
    """A truncated video, a lost source, a failed recording, an error; () when it went well."""


def run(args: argparse.Namespace) -> int:
    if args.gpu_report:
        print(probe(args.provider).text())
        return ExitCode.OK
    if args.list_models:
        print(describe_models())
        return ExitCode.OK
    if args.list_cameras:
        cameras = list_cameras()
        print("\n".join(f"{c.index}: {c.width}x{c.height} (modes: "
                        + ", ".join(f"{w}x{h}" for w, h in c.resolutions) + ")" for c in cameras)
              if cameras else "No cameras found.")
        return ExitCode.OK
    try:
        return _analyse(args)
    except UsageError as error:
        print(f"emotion-app: error: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT


def _analyse(args: argparse.Namespace) -> int:
    if not args.source:
        raise UsageError("--headless needs --source (a video file, image folder, camera index "
                          "or stream URL)")
    try:  # each output is a new file unless --overwrite: refused before any analysis
        for output in (args.csv, args.plot, args.output_video):
            if output:
                refuse_existing(output, args.overwrite)
        plot_path = checked_plot_path(args.plot) if args.plot else None
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.report and not args.csv:
        raise UsageError("--report is made from the recorded timeline: give --csv too")
    pipeline = build_pipeline(args)
    pipeline_model = pipeline.model.path
    try:
        reader = open_reader(args.source, realtime=args.realtime)
    except CaptureError as error:
        raise UsageError(str(error)) from None
    tally = RunTally(reader.source.kind, keep_series=plot_path is not None)
    title = f"Emotion timeline: {_source_title(reader.source)}, {pipeline.model.path.stem}"
    video = final = None
    try:
        if args.output_video:
            video = AnnotatedVideo(args.output_video, reader.source.fps)
        if args.csv:
            existed = not args.overwrite and Path(args.csv).expanduser().is_file()  # before trying
            try:
                pipeline.start_recording(args.csv, overwrite=args.overwrite)
            except RecordingError as error:
                hint = "; pass --overwrite to replace it" if existed else ""
                raise UsageError(f"{error}{hint}") from None
        code = _loop(pipeline, reader, video, tally, args)
    except RecordingError as error:
        raise UsageError(str(error)) from None
    finally:
        final = pipeline.stop_recording()
        pipeline.close()
        reader.close()
        if video:
            video.close()
        if final:
            print(f"CSV: {printable(final.path)} ({final.rows} rows)", file=sys.stderr)
        if video and video.frames_written:
            print(f"Video: {video.path} ({video.frames_written} frames)", file=sys.stderr)
    code = _report(tally, plot_path, title, final, code)
    if args.report and final is not None:
        code = _session_report(args, final, tally, pipeline_model) or code
    return code


def build_pipeline(args: argparse.Namespace, classifier: EmotionClassifier | None = None) -> Pipeline:
    """The pipeline the command line asks for (model, provider, faces, steadiness, gamma, views).
    ``classifier``: a model already loaded with these options, so that ``emotion-app batch``
    loads it once per worker and still starts each file with fresh face IDs, as a headless
    run does. Raises UsageError."""
    unmet = probe(args.provider).unmet
    if unmet:
        raise UsageError(f"{unmet}; use --provider auto or cpu (--gpu-report tells more)")
    try:
        pipeline = Pipeline(None if classifier else model_argument(args), provider=args.provider,
                            max_faces=args.max_faces, steadiness=steadiness_of(args),
                            gamma=not args.no_gamma, views=args.views)
    except ModelCardError as error:
        raise UsageError(str(error)) from None
    if classifier is not None:
        pipeline.use_model(classifier)
    return pipeline


def _report(tally: RunTally, plot_path: Path | None, title: str, csv: RecordingStatus | None,
            code: int) -> int:
    """The summary on stdout, then the plot; a plot that cannot be written is exit code 1."""
    print(summary_text(tally), flush=True)
    if plot_path is None:
        return code
    try:
        one_frame = tally.frames == 1  # a photo: bars, not a timeline of one dot per face
        write_image(plot_path, draw_frame_bars(tally, title) if one_frame else draw_timelines(tally, title))
    except OSError as error:
        kept = f"; the CSV {csv.path} is kept ({csv.rows} rows)" if csv else ""
        print(f"emotion-app: cannot write the plot to {plot_path}: {error.strerror or error}{kept}",
              file=sys.stderr)
        return code or ExitCode.FAILED
    print(f"Plot: {printable(plot_path)}", file=sys.stderr)
    return code


def _session_report(args: argparse.Namespace, csv: RecordingStatus, tally: RunTally,
                    model_path: Path) -> int:
    """``--report``: the HTML report of the CSV just closed; 0, or FAILED when it cannot
    be written (the CSV is kept)."""
    facts = RunFacts(source=str(args.source), model_path=model_path, frames=tally.frames,
                     settings={"max_faces": str(args.max_faces), "provider": args.provider,
                               "gamma": "off" if args.no_gamma else "as the card says"})
    try:
        path = write_report(csv.path, args.report, facts)
    except (OSError, ValueError, ReportError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        print(f"emotion-app: cannot write the report to {args.report}: {reason}; the CSV {csv.path} "
              "is kept", file=sys.stderr)
        return ExitCode.FAILED
    print(f"Report: {path}", file=sys.stderr)
    return 0


def _source_title(source) -> str:
    """A file's or folder's name; a camera's or stream's (password-free) description."""
    return source.name if source.live else Path(source.name).name


def _loop(pipeline: Pipeline, reader, video: AnnotatedVideo | None, tally: RunTally,
          args) -> int:
    progress = _Progress(reader.source.frame_count)

    def on_result(result: FrameResult) -> None:
        tally.add(result)
        progress.update(result)
        if video:
            video.write(result)

    try:
        analysis = analyse(pipeline, reader, on_result, args.max_frames, progress.message)
    except KeyboardInterrupt:
        progress.finish()
        print("emotion-app: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    progress.finish()
    print(f"Analysed {analysis.frames} frames, {analysis.faces} face readings (a face in a frame) "
          f"in {analysis.seconds:.1f} s "
          f"({analysis.frames / max(analysis.seconds, 1e-9):.1f} frames/s) with "
          f"{pipeline.model.path.stem} on {pipeline.model.provider}; "
          f"{reader.dropped_frames} frames dropped", file=sys.stderr)
    return ExitCode.FAILED if analysis.failures else ExitCode.OK


def analyse(pipeline: Pipeline, reader, on_result: Callable[[FrameResult], None], max_frames: int,
            on_message: Callable[[str], None]) -> Analysis:
    """Run ``reader`` through ``pipeline`` (recording if it records) up to ``max_frames``
    (0: all): the one run path of ``--headless`` and of each file of ``emotion-app batch``.
    A lost source, a failed recording or an error stops the run and, like a truncated
    video, is told to ``on_message`` and listed in ``failures``."""
    failures: list[Event] = []
    stop = threading.Event()
    started = time.monotonic()
    frames = 0

    def on_event(event: Event) -> None:
        if event.kind is EventKind.SOURCE_ENDED and event.details.get("ended_early"):
            failures.append(event)  # a truncated video: analysed part-way, exit code 1
            on_message(f"emotion-app: {event.message}")
        elif event.kind in (EventKind.SOURCE_LOST, EventKind.RECORDING_FAILED, EventKind.ERROR):
            failures.append(event)
            details = f" (details in {log_file()})" if event.kind is EventKind.ERROR else ""
            on_message(f"emotion-app: {event.message}{details}")
            stop.set()
        elif event.kind is EventKind.MODEL_CHANGED:
            log.info("%s", event.message)

    def counted(result: FrameResult) -> None:
        nonlocal frames
        frames += 1
        on_result(result)
        if max_frames and frames >= max_frames:
            stop.set()

    summary = pipeline.run(reader, counted, on_event, stop)
    return Analysis(summary.frames, summary.faces, time.monotonic() - started, tuple(failures))


def model_argument(args: argparse.Namespace) -> str | Path:
    if args.model:
        return args.model
    try:
        return most_accurate_installed().path
    except ModelCardError as error:
        raise UsageError(str(error)) from None


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
