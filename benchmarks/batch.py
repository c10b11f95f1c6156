"""Throughput of ``emotion-app batch`` against one ``--headless`` run at a time.

    python benchmarks/batch.py                                  # every clip in --media
    python benchmarks/batch.py --workers 1 2 4 --repeats 3 --output docs/results/batch.md

Each way analyses the same clips (every video in ``--media``, by default the ``media``
folder of ``$EMOTION_SHARED_DATA``) with the same model, as a user would run it: "sequential
headless" starts ``emotion-app --headless`` once per clip, one after the other; "batch" is
one ``emotion-app batch`` over all of them with ``--workers N``. Seconds are wall-clock,
process starts included (that is what a batch saves besides running files side by side);
frames are those analysed, from the batch's manifest (the headless runs analyse the same
frames). The table header gives the machine and its load average at the start and the end:
other programs running (a training) take cores from the workers, and change as it runs, so
the ways take turns (``--repeats`` rounds of each, in the same order) and the table gives
the median and the range of each.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from latency import REPOSITORY, cpu_name, markdown_table

from app.batch.inputs import VIDEO_EXTENSIONS
from app.batch.local import available_cores

DEFAULT_MEDIA = Path(os.environ.get("EMOTION_SHARED_DATA", REPOSITORY.parent / "shared" / "data")) / "media"


def command() -> list[str]:
    installed = Path(sys.executable).with_name("emotion-app")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "app"]


def timed(arguments: list) -> float:
    """Seconds ``emotion-app ARGUMENTS`` took; raises if it failed."""
    started = time.perf_counter()
    completed = subprocess.run([*command(), *map(str, arguments)], cwd=REPOSITORY,
                               capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"emotion-app {' '.join(map(str, arguments))} exited "
                           f"{completed.returncode}: {completed.stderr[-2000:]}")
    return seconds


def sequential_headless(clips: list[Path], model: str, max_frames: int, scratch: Path) -> float:
    total = 0.0
    for number, clip in enumerate(clips):
        total += timed(["--headless", "--source", clip, "--model", model, "--csv",
                        scratch / f"headless-{number}.csv", "--overwrite", "--max-frames", max_frames])
    return total


def batch(clips: list[Path], model: str, max_frames: int, workers: int, out: Path) -> tuple[float, int]:
    seconds = timed(["batch", *clips, "--out", out, "--model", model, "--max-frames", max_frames,
                     "--workers", workers])
    with open(out / "manifest.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    if any(row["status"] != "ok" for row in rows):
        raise RuntimeError(f"a file failed in the batch: {rows}")
    return seconds, sum(int(row["frames"]) for row in rows)


def row(way: str, files: int, frames: int, runs: list[float], baseline: float | None) -> list[str]:
    seconds = statistics.median(runs)
    speed = "1.00" if baseline is None else f"{baseline / seconds:.2f}"
    return [way, str(files), str(frames), f"{seconds:.1f}", f"{min(runs):.1f}–{max(runs):.1f}",
            f"{frames / seconds:.1f}", speed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help="folder of clips")
    parser.add_argument("--model", default="mini_xception", help="model name or .onnx path")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="batch worker counts")
    parser.add_argument("--max-frames", type=int, default=0, help="frames per clip (0: all)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every way, taking turns")
    parser.add_argument("--output", type=Path, help="also write the markdown here")
    args = parser.parse_args(argv)
    clips = sorted(path for path in args.media.iterdir() if path.suffix.lower() in VIDEO_EXTENSIONS)
    if not clips:
        print(f"batch.py: no clips in {args.media}", file=sys.stderr)
        return 2
    start_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory(prefix="batch-benchmark-") as scratch_name:
        scratch = Path(scratch_name)
        sequential: list[float] = []
        batches: dict[int, list[float]] = {workers: [] for workers in args.workers}
        frames: dict[int, int] = {}
        for round_number in range(args.repeats):
            sequential.append(sequential_headless(clips, args.model, args.max_frames, scratch))
            for workers in args.workers:
                seconds, frames[workers] = batch(clips, args.model, args.max_frames, workers,
                                                 scratch / f"batch-{workers}-{round_number}")
                batches[workers].append(seconds)
        baseline = statistics.median(sequential)
        counted = frames[args.workers[0]]  # the batch's count: frames without faces included
        rows = [row("sequential `emotion-app --headless`, one clip at a time", len(clips), counted,
                    sequential, None)]
        rows += [row(f"`emotion-app batch --workers {workers}`", len(clips), frames[workers], runs,
                     baseline) for workers, runs in batches.items()]
    end_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    clip_names = ", ".join(clip.name for clip in clips)
    text = (f"Batch throughput, {args.model} on the CPU, {len(clips)} clips ({clip_names}"
            f"{f', first {args.max_frames} frames each' if args.max_frames else ''}); {cpu_name()}, "
            f"{available_cores()} logical CPUs, load average {start_load:.2f} at the start and "
            f"{end_load:.2f} at the end. Seconds: wall clock, process starts included, median of "
            f"{args.repeats} rounds taking turns.\n\n"
            + markdown_table(["way", "files", "frames", "seconds", "range (s)", "frames/s", "speed-up"],
                             rows) + "\n")
    print(text, end="")
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
