"""End-to-end frames per second and per-stage milliseconds of the real-time pipeline.

    python benchmarks/pipeline.py                       # CPU, and the GPU when one runs here
    python benchmarks/pipeline.py --max-frames 100 --architectures mini_xception
    python benchmarks/pipeline.py --providers cpu --architectures ensemble \
        --merge docs/results/pipeline-cpu.md
    python benchmarks/pipeline.py --providers cpu --modes 0:sequential 3:overlapped  # before, after

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

``--modes`` compares ways of running the same frames, each ``N:STAGES``. N > 0 follows
each face from the frame before and runs the full-range detector every N frames
(``app.face.landmarks``, the app's way); 0 runs the detector and a fresh mesh on every
frame, as the app did before it tracked. ``overlapped`` is ``Pipeline.frames``, whose
landmarks run a frame ahead on their own thread (the app's way); ``sequential`` runs
every stage of a frame on one thread (``Pipeline.process``), as the app did before. So
``0:sequential`` is the app before both changes. Beside each speed: the share of frames
with a face and the number of distinct face IDs, since a faster run that finds fewer
faces or splits one face into several IDs is worse.
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

from app.face.landmarks import DETECT_EVERY, QuietLandmarker
from app.model.providers import CPU, REQUESTS, probe
from app.pipeline import Pipeline
from app.results import STAGES, Event, EventKind, FrameResult
from app.sources.capture import SequentialReader, open_source

log = logging.getLogger("benchmarks.pipeline")

DEFAULT_MEDIA = Path(os.environ.get("EMOTION_SHARED_DATA", REPOSITORY.parent / "shared" / "data")) / "media"


class EveryFrameLandmarker(QuietLandmarker):
    """The landmarks as before tracking: the detector and a fresh mesh on every frame."""

    def follow(self, frame_bgr):
        return self.detect(frame_bgr)


def landmarker_factory(detect_every: int):
    if detect_every == 0:
        return EveryFrameLandmarker
    return lambda max_faces: QuietLandmarker(max_faces, detect_every=detect_every)


def parse_mode(text: str) -> tuple[int, bool]:
    """``5:overlapped`` -> (5, True): detector interval, stages overlapped."""
    interval, _, stages = text.partition(":")
    if not interval.isdigit() or stages not in ("sequential", "overlapped"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected N:sequential or N:overlapped, N >= 0")
    return int(interval), stages == "overlapped"


def mode_text(detect_every: int, overlapped: bool) -> str:
    landmarks = f"detect every {detect_every}" if detect_every else "detect every frame"
    return f"{landmarks}, {'overlapped' if overlapped else 'sequential'}"


def run_sequentially(pipeline: Pipeline, reader, on_result, stop: threading.Event) -> None:
    """Every stage of each frame on this thread, one frame after the other."""
    while not stop.is_set():
        item = reader.next(timeout=1.0)
        if isinstance(item, Event):
            if item.kind is EventKind.SOURCE_ENDED:
                return
        elif item is not None:
            on_result(pipeline.process(item, reader.dropped_frames))


def measure(pipeline: Pipeline, video: Path, scratch: Path, max_frames: int | None,
            overlapped: bool = True) -> dict:
    """Run one video through the pipeline; per-stage means, faces per frame, frames/s, the
    share of frames with a face and the distinct face IDs (all frames)."""
    totals = dict.fromkeys(STAGES, 0.0)
    completions: list[float] = []
    faces = with_face = 0
    face_ids: set[int] = set()
    stop = threading.Event()

    def on_result(result: FrameResult) -> None:
        nonlocal faces, with_face
        completions.append(time.perf_counter())
        with_face += bool(result.faces)
        face_ids.update(face.face_id for face in result.faces)
        if len(completions) > 1:  # the first frame starts MediaPipe's graphs: a warm-up
            faces += len(result.faces)
            for stage in STAGES:
                totals[stage] += getattr(result.timings, stage)
        if max_frames and len(completions) > max_frames:
            stop.set()

    pipeline.start_recording(scratch / f"{video.stem}.csv", overwrite=True)
    with SequentialReader(open_source(video)) as reader:
        if overlapped:
            pipeline.run(reader, on_result, stop=stop)
        else:
            run_sequentially(pipeline, reader, on_result, stop)
    pipeline.stop_recording()
    frames = len(completions) - 1  # timed: all but the warm-up frame
    span = completions[-1] - completions[0] if frames > 0 else float("nan")
    return {"frames": frames, "faces": faces / max(frames, 1), "fps": frames / span,
            "with_face": with_face / max(len(completions), 1), "ids": len(face_ids),
            **{stage: total / max(frames, 1) for stage, total in totals.items()}}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help="folder of videos")
    parser.add_argument("--videos", nargs="+", help="file names in --media (default: all videos)")
    parser.add_argument("--providers", nargs="+", default=["cpu", "auto"], choices=sorted(REQUESTS),
                        help="provider requests; one resolving to an already measured provider is skipped")
    parser.add_argument("--max-frames", type=int, default=0, help="per video (0: every frame)")
    parser.add_argument("--modes", type=parse_mode, nargs="+", default=[(DETECT_EVERY, True)],
                        metavar="N:STAGES", help="ways to run, e.g. 0:sequential (the app before "
                        f"tracking and overlap) {DETECT_EVERY}:overlapped (the app, the default)")
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
                for detect_every, overlapped in args.modes:
                    pipeline = Pipeline(path, provider=report.requested,
                                        landmarker_factory=landmarker_factory(detect_every))
                    mode = mode_text(detect_every, overlapped)
                    for video in videos:
                        figures = measure(pipeline, video, Path(scratch), args.max_frames or None,
                                          overlapped)
                        log.info("%s on %s, %s, %s: %.1f frames/s", name, provider, mode, video.name,
                                 figures["fps"])
                        rows.append([name, origin, provider.removesuffix("ExecutionProvider"), mode,
                                     video.name, str(figures["frames"]), f"{figures['faces']:.2f}",
                                     f"{figures['with_face']:.1%}", str(figures["ids"]),
                                     f"{figures['fps']:.1f}", *(f"{figures[stage]:.2f}" for stage in STAGES)])
                    pipeline.close()

    header = ["architecture", "model", "provider", "mode", "video", "frames", "faces/frame",
              "with a face", "face IDs", "frames/s", *(f"{stage} ms" for stage in STAGES)]
    print_table(f"Pipeline end to end, batch mode (every frame), CSV recording on; ONNX Runtime "
                f"{next(iter(reports.values())).onnxruntime_version}; {cpu_name()}, {os.cpu_count()} "
                f"logical CPUs{load_note()}. Stage columns: mean ms per frame.", header, rows, args.merge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
