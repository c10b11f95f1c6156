"""End-to-end frames per second and per-stage milliseconds of the real-time pipeline.

    python benchmarks/pipeline.py                       # CPU, and the GPU when one runs here
    python benchmarks/pipeline.py --max-frames 100 --architectures mini_xception
    python benchmarks/pipeline.py --providers cpu --architectures ensemble \
        --merge docs/results/pipeline-cpu.md

Every video in ``--media`` (by default the ``media`` folder of ``$EMOTION_SHARED_DATA``)
goes through ``app.pipeline.Pipeline`` frame by frame (batch mode: nothing dropped),
with a CSV recorded to a scratch folder, exactly as ``emotion-app --headless --csv``
runs it. Models: a shipped one from ``models_onnx/`` per architecture when there is one,
else a random-init export (weights do not change the time); the table says which. The
first frame of each video is a warm-up (it starts MediaPipe's graphs) and is not
counted; stage times are means over the others, and frames per second are measured on
the wall clock from the warm-up frame's completion to the last one's, so they include
everything between the stages too. Providers: the CPU, plus whatever ``auto`` chooses
when that is an accelerator.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

# Sibling script (this folder is on sys.path when the script runs): model selection and
# machine description are shared with the per-face latency benchmark.
from latency import (
    REPOSITORY,
    add_selection_arguments,
    benchmark_model,
    cpu_name,
    load_note,
    print_table,
    shipped_models,
)

from app.model.providers import CPU, REQUESTS, probe
from app.pipeline import Pipeline
from app.results import STAGES, FrameResult
from app.sources.capture import SequentialReader, open_source

log = logging.getLogger("benchmarks.pipeline")

DEFAULT_MEDIA = Path(os.environ.get("EMOTION_SHARED_DATA", REPOSITORY.parent / "shared" / "data")) / "media"


def measure(pipeline: Pipeline, video: Path, scratch: Path, max_frames: int | None) -> dict:
    """Run one video through the pipeline; per-stage means, faces per frame, frames/s."""
    totals = dict.fromkeys(STAGES, 0.0)
    completions: list[float] = []
    faces = 0
    stop = threading.Event()

    def on_result(result: FrameResult) -> None:
        nonlocal faces
        completions.append(time.perf_counter())
        if len(completions) > 1:  # the first frame starts MediaPipe's graphs: a warm-up
            faces += len(result.faces)
            for stage in STAGES:
                totals[stage] += getattr(result.timings, stage)
        if max_frames and len(completions) > max_frames:
            stop.set()

    pipeline.start_recording(scratch / f"{video.stem}.csv", overwrite=True)
    with SequentialReader(open_source(video)) as reader:
        pipeline.run(reader, on_result, stop=stop)
    pipeline.stop_recording()
    frames = len(completions) - 1  # timed: all but the warm-up frame
    span = completions[-1] - completions[0] if frames > 0 else float("nan")
    return {"frames": frames, "faces": faces / max(frames, 1), "fps": frames / span,
            **{stage: total / max(frames, 1) for stage, total in totals.items()}}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help="folder of videos")
    parser.add_argument("--videos", nargs="+", help="file names in --media (default: all videos)")
    parser.add_argument("--providers", nargs="+", default=["cpu", "auto"], choices=sorted(REQUESTS),
                        help="provider requests; one resolving to an already measured provider is skipped")
    parser.add_argument("--max-frames", type=int, default=0, help="per video (0: every frame)")
    add_selection_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    args = parse_arguments(argv)
    videos = sorted(args.media / name for name in args.videos) if args.videos else sorted(
        path for path in args.media.glob("*") if path.suffix.lower() in (".mp4", ".mov", ".avi"))
    if not videos:
        print(f"no videos in {args.media}", file=sys.stderr)
        return 1
    reports = {}
    for request in args.providers:
        report = probe(request)
        if report.provider not in reports and (request == "cpu" or report.provider != CPU):
            reports[report.provider] = report
    shipped = shipped_models(args.models_dir)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as scratch:
        for name in args.architectures:
            try:
                path, origin = benchmark_model(name, shipped, Path(scratch))
            except LookupError as error:
                log.warning("skipping %s: %s", name, error)
                continue
            for provider, report in reports.items():
                pipeline = Pipeline(path, provider=report.requested)
                for video in videos:
                    figures = measure(pipeline, video, Path(scratch), args.max_frames or None)
                    log.info("%s on %s, %s: %.1f frames/s", name, provider, video.name, figures["fps"])
                    rows.append([name, origin, provider.removesuffix("ExecutionProvider"), video.name,
                                 str(figures["frames"]), f"{figures['faces']:.2f}", f"{figures['fps']:.1f}",
                                 *(f"{figures[stage]:.2f}" for stage in STAGES)])
                pipeline.close()

    header = ["architecture", "model", "provider", "video", "frames", "faces/frame", "frames/s",
              *(f"{stage} ms" for stage in STAGES)]
    print_table(f"Pipeline end to end, batch mode (every frame), CSV recording on; ONNX Runtime "
                f"{next(iter(reports.values())).onnxruntime_version}; {cpu_name()}, {os.cpu_count()} "
                f"logical CPUs{load_note()}. Stage columns: mean ms per frame.", header, rows, args.merge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
