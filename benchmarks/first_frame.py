"""Start-up as a user feels it: from the command to the first analysed frame, as a table.

    python benchmarks/first_frame.py
    python benchmarks/first_frame.py --baseline /path/to/older/checkout   # before and after
    python benchmarks/first_frame.py --runs 9 --model mini_xception

Each run starts ``python -m app`` in a fresh process, headless (``--headless --csv``) and
in the window (offscreen Qt, ``--csv``), on a real clip, and polls the CSV: the first
analysed frame is there the moment the file holds its first row (the recorder hands every
frame's rows to the OS in one write). The process is then stopped. With ``--baseline``,
another checkout (a ``git worktree`` of an older commit) is timed in the same runs,
interleaved, on the same machine and clip, so the two columns compare like with like.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("EMOTION_SHARED_DATA", REPOSITORY.parent / "shared" / "data"))
DEFAULT_CLIP = SHARED_DATA / "media" / "fer_woman2.mp4"
WAYS = {"headless": ["--headless"], "window": []}
POLL_S = 0.005
TIMEOUT_S = 120.0


def first_frame_seconds(tree: Path, way: str, clip: Path, model: str | None, folder: Path) -> float:
    """Seconds from starting ``python -m app`` in ``tree`` to the first CSV row."""
    csv = folder / f"{way}.csv"
    csv.unlink(missing_ok=True)
    command = [sys.executable, "-m", "app", *WAYS[way], "--source", str(clip), "--csv", str(csv),
               "--overwrite", *(["--model", model] if model else [])]
    command += ["--max-frames", "100000"] if way == "headless" else ["--quit-after-frames", "100000"]
    environment = dict(os.environ, PYTHONPATH=str(tree), QT_QPA_PLATFORM="offscreen")
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=folder, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - started < TIMEOUT_S:
            if csv.is_file() and csv.read_bytes().count(b"\n") >= 2:
                return time.perf_counter() - started
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(command)} ended ({process.returncode}) before a "
                                   f"frame: {process.stderr.read().decode(errors='replace')[-500:]}")
            time.sleep(POLL_S)
        raise RuntimeError(f"no analysed frame within {TIMEOUT_S:.0f} s: {' '.join(command)}")
    finally:
        process.kill()
        process.wait()
        process.stderr.close()


def commit_of(tree: Path) -> str:
    """The checkout's commit, so that a baseline column says what it timed."""
    completed = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                               capture_output=True, text=True)
    return completed.stdout.strip() or "unknown commit"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per way and tree")
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--model", help="--model for every run (default: the app's default)")
    parser.add_argument("--baseline", type=Path, help="another checkout to time beside this one")
    args = parser.parse_args(argv)
    if not args.clip.is_file():
        parser.error(f"{args.clip}: no such clip (--clip, or set EMOTION_SHARED_DATA)")
    trees = {f"this checkout, {commit_of(REPOSITORY)}": REPOSITORY}
    if args.baseline:
        trees = {f"baseline, {commit_of(args.baseline)}": args.baseline.resolve(), **trees}
    times: dict[tuple[str, str], list[float]] = {(way, tree): [] for way in WAYS for tree in trees}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.runs):
            for way in WAYS:
                for name, tree in trees.items():
                    times[way, name].append(first_frame_seconds(tree, way, args.clip, args.model,
                                                                Path(folder)))
    print(f"Command to first analysed frame (`{args.clip.name}`, model "
          f"{args.model or 'the default'}), median of {args.runs} fresh processes; "
          f"{os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.2f} at the end.\n")
    print("| way | " + " | ".join(f"{name} (s)" for name in trees) + " |")
    print("| --- |" + " --- |" * len(trees))
    for way in WAYS:
        cells = [f"{statistics.median(times[way, name]):.2f}" for name in trees]
        print(f"| {way} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
