"""``emotion-app batch INPUT... --out DIR``: the command line, the plan, the summary.

Exit codes (``app.headless``'s): 0 every file ok (or skipped, finished before); 1 some
failed (the manifest says which and why; the others are done), or the manifest could not
be written (a full disk: the summary says so); 2 bad input (a missing
path, nothing to analyse, a bad model, an unwritable --out, Ray missing or out of
reach), before anything is analysed; 130 interrupted with Ctrl+C: what finished is kept
and the same command continues from there.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from pathlib import Path

from app.arguments import LOG_LEVELS, add_analysis_arguments, non_negative_int, positive_int
from app.batch.inputs import BatchInput, find_inputs
from app.batch.local import available_cores, run_locally, threads_per_worker
from app.batch.manifest import FAILED, Manifest, ManifestRow, file_sha256, now_text
from app.batch.progress import BatchProgress
from app.batch.work import Outcome, Task
from app.headless import UsageError, model_argument
from app.output.run_summary import recorded_face_lines
from app.system.cli_text import installed_version, version_text
from app.system.exit_codes import ExitCode
from app.system.file_names import printable
from app.system.logs import LOG_ENV, log_file, setup_logging
from app.system.quiet import native_stderr_to

log = logging.getLogger(__name__)

PROGRAM = "emotion-app batch"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Analyse many videos and image folders as --headless does, one CSV per input, "
                    "in parallel on this machine or on a Ray cluster.",
        epilog="Inputs: video files, image files, and folders, walked recursively (each video "
               "file is one input; each folder holding images is one, like --source FOLDER). "
               "Outputs mirror the input tree under --out, with manifest.csv beside them. Run "
               "the same command again to continue an interrupted batch: finished files are "
               f"skipped. Log file: {log_file()} ({LOG_ENV} names another).")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video file, image file or folder")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the CSVs and manifest.csv")
    analysis = parser.add_argument_group("model and analysis (as for --headless)")
    add_analysis_arguments(analysis)
    analysis.add_argument("--max-frames", type=non_negative_int, default=0,
                          help="stop each file after this many analysed frames (0: all)")
    running = parser.add_argument_group("running")
    running.add_argument("--workers", type=positive_int, metavar="N",
                         help=f"worker processes on this machine (default: one per core, here "
                              f"{available_cores()}); with --ray local, the instance's CPUs")
    running.add_argument("--threads", type=positive_int, metavar="N",
                         help="threads per worker for ONNX Runtime and OpenCV (default: the "
                              "cores shared out among the workers; 1 per task on a Ray cluster)")
    running.add_argument("--ray", metavar="local|auto|ADDRESS",
                         help="run the files as Ray tasks: 'local' starts a private instance "
                              "here, 'auto' joins the cluster `ray start` runs here, or give "
                              "the head's address (needs the cluster extra; see docs/batch.md)")
    parser.add_argument("--report", metavar="HTML",
                        help="also write one self-contained HTML report: a table over the manifest "
                             "(file, faces, dominant emotion, mean valence, failures), then each file's")
    running.add_argument("--redo", action="store_true",
                         help="analyse every input again, even those the manifest lists as done")
    parser.add_argument("--log-level", default="WARNING", choices=LOG_LEVELS, help="logging verbosity")
    parser.add_argument("--version", action="version", version=version_text("emotion-app"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_path = setup_logging(args.log_level)
    with native_stderr_to(log_path):  # the workers inherit it: their native output goes there too
        try:
            return run_batch(args)
        except (UsageError, ValueError) as error:
            print(f"{PROGRAM}: error: {error}", file=sys.stderr)
            return ExitCode.BAD_INPUT
        except KeyboardInterrupt:  # while planning: nothing started yet
            print(f"{PROGRAM}: interrupted", file=sys.stderr)
            return ExitCode.INTERRUPTED


def run_batch(args: argparse.Namespace) -> int:
    """Plan, skip what is done, run the rest, write the manifest, summarise; the exit code."""
    inputs = find_inputs(args.inputs)
    for item in inputs:  # said before the run: unrelated photos in one folder make one CSV
        if item.kind == "folder":
            print(f"{PROGRAM}: {_shown_name(item)}: its images are one input, written to one CSV "
                  f"({item.output}: a row per face per image, source_file names the image); give "
                  "the image files themselves for a CSV each", file=sys.stderr)
    out = _output_folder(args.out)
    model_path, model_sha256 = _checked_model(args)
    settings = settings_text(args)
    manifest = Manifest(out)
    if manifest.path.exists() and not manifest.rewrite():  # drops a line a crash cut off
        raise ValueError(manifest.error)  # before anything is analysed: nothing could be recorded
    todo = sorted((item for item in inputs if args.redo or not manifest.finished(
        str(item.path), str(item.output), model_sha256, settings)), key=_bytes, reverse=True)
    blocked = [out / item.output for item in todo if (out / item.output).is_dir()]
    if blocked:
        raise ValueError(f"{printable(blocked[0])} is a folder, where the CSV of an input goes "
                         f"({len(blocked)} such); move it, or choose another --out")
    tasks = [Task(index, str(item.path), str(out / item.output)) for index, item in enumerate(todo)]
    skipped = len(inputs) - len(todo)
    workers = args.workers or max(1, min(available_cores(), len(tasks)))
    threads = args.threads or (1 if args.ray and args.ray != "local" else threads_per_worker(workers))
    progress = BatchProgress(len(tasks), {index: _shown_name(item) for index, item in enumerate(todo)})
    outcomes: list[Outcome] = []
    version = installed_version()

    def on_outcome(outcome: Outcome) -> None:
        item = todo[outcome.index]
        outcomes.append(outcome)  # first: a Ctrl+C after the manifest row must count the file done
        manifest.record(ManifestRow(
            str(item.path), str(item.output), outcome.frames, outcome.faces, outcome.seconds,
            outcome.status, outcome.error, model_path.stem, model_sha256, version, settings,
            outcome.output_bytes, now_text()))
        progress.finished(outcome, _face_lines(out / item.output) if outcome.status != FAILED else [])

    interrupted = False
    try:
        if tasks and args.ray:
            from app.batch.ray_runner import run_on_ray

            run_on_ray(tasks, args, args.ray, workers, threads, model_sha256, on_outcome)
        elif tasks:
            run_locally(tasks, args, workers, threads, on_outcome, progress.update)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.finish()
        manifest.rewrite()
    print(_summary(outcomes, skipped, progress, workers, threads, args, model_path, manifest),
          flush=True)
    report_failed = bool(args.report) and not _write_report(args.report, manifest, inputs, out)
    if interrupted:
        print(f"{PROGRAM}: interrupted; run the same command again to continue "
              f"({len(tasks) - len(outcomes)} files left)", file=sys.stderr)
        return ExitCode.INTERRUPTED
    failed = report_failed or manifest.error or any(outcome.status == FAILED for outcome in outcomes)
    return ExitCode.FAILED if failed else ExitCode.OK


def _write_report(path: str, manifest: Manifest, inputs: list[BatchInput], out: Path) -> bool:
    """``--report``: the inputs of this batch as the manifest has them; False (said on
    stderr) when the page cannot be written."""
    from app.output.report import BatchEntry, ReportError, write_batch_report

    rows = [manifest.rows.get(str(item.path)) for item in inputs]
    entries = [BatchEntry(row.input, out / row.output, row.status, row.error, row.model, row.model_sha256,
                          row.frames) if row else BatchEntry(str(item.path), None, "not analysed", "", "", "")
               for item, row in zip(inputs, rows)]
    try:
        written = write_batch_report(entries, path, f"Emotion batch report: {len(entries)} files")
    except (OSError, ReportError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        print(f"{PROGRAM}: cannot write the report to {path}: {reason}", file=sys.stderr)
        return False
    print(f"Report: {written}", file=sys.stderr)
    return True


def _face_lines(csv_path: Path) -> list[str]:
    """The file's summary, as ``--headless`` prints it: each face's share of each emotion
    shown (read back from its CSV; none where it cannot be read, on a cluster's disk)."""
    try:
        return recorded_face_lines(csv_path)
    except (OSError, ValueError, csv.Error) as error:
        log.debug("no summary of %s: %s", csv_path, error)
        return []


def settings_text(args: argparse.Namespace) -> str:
    """The options that change a CSV's numbers: a finished file counts as done only for the same."""
    return (f"max_faces={args.max_faces} smoothing={args.smoothing:g} "
            f"switch_margin={args.switch_margin:g} switch_hold={args.switch_hold:g} "
            f"gamma={'off' if args.no_gamma else 'card'} views={args.views} max_frames={args.max_frames} "
            f"provider={args.provider}")


def _output_folder(text: str) -> Path:
    out = Path(text).expanduser().resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {text}: cannot create the folder: {error.strerror or error}") from None
    if not os.access(out, os.W_OK):
        raise ValueError(f"--out {text}: the folder is not writable")
    return out


def _checked_model(args: argparse.Namespace) -> tuple[Path, str]:
    """The model file every worker will load (``args.model`` set to it) and its SHA-256;
    raises UsageError for no model, a bad one, or a ``--provider`` that cannot run here."""
    from app.model.card import ModelCardError, read_card
    from app.model.library import resolve_model
    from app.model.providers import probe

    if not args.ray:  # a cluster's nodes may have the GPU this machine lacks
        unmet = probe(args.provider).unmet
        if unmet:
            raise UsageError(f"{unmet}; use --provider auto or cpu (--gpu-report tells more)")
    try:
        path = resolve_model(model_argument(args)).resolve()
        read_card(path)
    except ModelCardError as error:
        raise UsageError(str(error)) from None
    args.model = str(path)
    return path, file_sha256(path)


def _bytes(item: BatchInput) -> int:
    """An input's size on disk: the largest go first, so the last to finish is a short one."""
    try:
        if item.kind != "folder":
            return item.path.stat().st_size
        return sum(entry.stat().st_size for entry in os.scandir(item.path) if entry.is_file())
    except OSError:
        return ExitCode.OK


def _shown_name(item: BatchInput) -> str:
    relative = os.path.relpath(item.path)
    return printable(relative if not relative.startswith("..") else item.path)


def _summary(outcomes: list[Outcome], skipped: int, progress: BatchProgress, workers: int,
             threads: int, args: argparse.Namespace, model_path: Path, manifest: Manifest) -> str:
    failed = [outcome for outcome in outcomes if outcome.status == FAILED]
    frames = sum(outcome.frames for outcome in outcomes)
    faces = sum(outcome.faces for outcome in outcomes)
    seconds = max(progress.elapsed_s, 1e-9)
    where = (f"Ray ({args.ray})" if args.ray else
             f"{workers} worker{'s' * (workers != 1)} x {threads} thread{'s' * (threads != 1)}")
    lines = [f"Batch: {len(outcomes) - len(failed)} files ok, {len(failed)} failed, {skipped} "
             f"skipped (done before); {frames} frames, {faces} faces in {seconds:.1f} s "
             f"({frames / seconds:.1f} frames/s) on {where} with {model_path.stem}"]
    lines += [f"  failed: {progress.names.get(outcome.index, outcome.index)}: {outcome.error}"
              for outcome in failed]
    lines.append(f"Manifest: {printable(manifest.path)}" if manifest.error is None
                 else f"Manifest: {manifest.error}")
    return "\n".join(lines)
