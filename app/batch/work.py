"""One batch task, in whichever process runs it: a local worker or a Ray task.

A task is one ``--headless`` run: ``app.headless.build_pipeline`` with the batch's
options and ``app.headless.analyse`` recording to a CSV, so the CSV is what
``emotion-app --headless --source INPUT --csv OUTPUT`` writes. The model is loaded once
per process and reused (a fresh pipeline per file still starts face IDs at 1, as a
headless run does). The CSV is written in a private folder beside it
(``app.system.output_files.Staged``) and renamed into place when the run ends, so a CSV
under its real name is never one cut off by a crash or an interrupt, and nothing is
ever written through a link planted in the output folder. A file that cannot be opened
or decoded, or anything else going wrong, becomes a ``failed`` outcome with the reason;
it never stops the process.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.batch.manifest import FAILED, OK
from app.system.file_names import printable
from app.system.output_files import Staged, discard_staged

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.25

FrameProgress = Callable[[int, int, int | None], None]
"""(task index, frames analysed so far, frames expected or None): called a few times a second."""


@dataclass(frozen=True)
class Task:
    index: int
    input: str
    """The video file, image file or image folder (absolute: every node must see it there)."""
    output: str
    """The CSV's absolute path."""


@dataclass(frozen=True)
class Outcome:
    index: int
    status: str
    """``ok`` or ``failed``."""
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    error: str = ""
    output_bytes: int = 0
    """The finished CSV's size (0 when none was written)."""


def limit_threads(threads: int) -> None:
    """Keep this process to ``threads`` threads for OpenCV and ONNX Runtime, so that N
    processes share the cores instead of each taking all of them."""
    import cv2

    from app.model.card import set_session_threads

    cv2.setNumThreads(threads)
    set_session_threads(threads)


class Worker:
    """A process's part of a batch: the options, and the model once it is loaded."""

    def __init__(self, args: argparse.Namespace, threads: int) -> None:
        self.args = args
        self.threads = threads
        limit_threads(threads)
        self._classifier = None

    def run(self, task: Task, on_frames: FrameProgress | None = None) -> Outcome:
        """Analyse ``task.input`` into ``task.output``; never raises for what one file does."""
        started = time.monotonic()
        try:
            outcome = self._analyse(task, on_frames)
        except Exception as error:  # a bug or a library failing: this file fails, the batch goes on
            log.exception("analysing %s failed", task.input)
            outcome = Outcome(task.index, FAILED, error=f"{type(error).__name__}: {error}")
        return dataclasses.replace(outcome, seconds=time.monotonic() - started)

    def _analyse(self, task: Task, on_frames: FrameProgress | None) -> Outcome:
        from app.headless import UsageError, build_pipeline
        from app.output.timeline_csv import RecordingError
        from app.sources.base import CaptureError
        from app.sources.capture import open_reader

        try:
            pipeline = build_pipeline(self.args, self._classifier)
        except UsageError as error:
            return Outcome(task.index, FAILED, error=str(error))
        if self._classifier is None:
            self._classifier = pipeline.model
        output = Path(task.output)
        try:
            try:
                reader = open_reader(task.input, realtime=False)
            except CaptureError as error:  # its message starts with the path, which the row has
                reason = str(error).removeprefix(f"{printable(task.input)}: ")
                return Outcome(task.index, FAILED, error=reason)
            written = output  # where the CSV is written: messages name it by its own name
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
                discard_staged(output)  # what a killed run left
                with Staged(output) as stage:
                    written = stage.path
                    analysis, errors = self._record(task, pipeline, reader, written, on_frames)
                    stage.commit()  # kept even when the run failed part-way, as --headless keeps it
            except (OSError, RecordingError) as error:
                return Outcome(task.index, FAILED, error=str(error).replace(str(written), str(output)))
            finally:
                reader.close()
        finally:
            pipeline.close()
        if on_frames:
            on_frames(task.index, analysis.frames, analysis.frames)
        return Outcome(task.index, FAILED if errors else OK, analysis.frames, analysis.faces,
                       error="; ".join(errors).replace(str(written), str(output)),
                       output_bytes=output.stat().st_size)


    def _record(self, task: Task, pipeline, reader, path: Path, on_frames: FrameProgress | None):
        """Analyse ``reader`` into a new CSV at ``path``: the analysis and every failure it
        reported (those of the final sync included)."""
        from app.headless import analyse
        from app.results import EventKind

        pipeline.start_recording(path)
        try:
            expected = reader.source.frame_count
            if expected is not None and self.args.max_frames:
                expected = min(expected, self.args.max_frames)
            analysis = analyse(pipeline, reader, _reporter(task.index, expected, on_frames),
                               self.args.max_frames, lambda text: log.warning("%s: %s", task.input, text))
        finally:
            pipeline.stop_recording()
        late = [event.message for event in pipeline.drain_events()  # the final sync
                if event.kind is EventKind.RECORDING_FAILED]
        return analysis, [event.message for event in analysis.failures] + late


def _reporter(index: int, expected: int | None, on_frames: FrameProgress | None):
    """An ``on_result`` that tells ``on_frames`` the count, at most a few times a second."""
    frames, last = 0, 0.0

    def on_result(_result) -> None:
        nonlocal frames, last
        frames += 1
        now = time.monotonic()
        if on_frames and now - last >= PROGRESS_INTERVAL_S:
            last = now
            on_frames(index, frames, expected)
    return on_result
