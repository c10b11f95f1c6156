"""End-to-end frames per second and per-stage milliseconds of the real-time pipeline.

    python benchmarks/pipeline.py                       # CPU, and the GPU when one runs here
    python benchmarks/pipeline.py --max-frames 100 --architectures mini_xception
    python benchmarks/pipeline.py --providers cpu --architectures ensemble \
        --merge docs/results/pipeline-cpu.md
    python benchmarks/pipeline.py --providers cpu --modes 0:sequential 3:overlapped  # before, after
    python benchmarks/pipeline.py --providers cpu --views none all --modes 3:overlapped 3:live \
        --fer-python /tmp/fer-venv/bin/python       # views, live, and the ratio to ``fer``

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
``0:sequential`` is the app before both changes. A third field ``static``
(``3:overlapped:static``) reads followed faces with the static-mode mesh on a region
re-aimed every frame, as the app did before each followed face kept a tracking-mode mesh
(``app.face.mesh_region``). Beside each speed: the share of frames
with a face and the number of distinct face IDs, since a faster run that finds fewer
faces or splits one face into several IDs is worse. ``live`` plays each video at its own
speed like a camera (``emotion-app --headless --realtime``, the window): frames the
pipeline cannot keep up with are dropped, and a face's read is refreshed within the frame
budget (``app.read_schedule``); its frames/s is then the frames analysed per second, each
with fresh boxes, and the table also gives the fewest reads per second any face got (its
fresh reads over the seconds it was in view) and the oldest read shown.

``--views`` reads each model over the given settings of its card's test-time views
(``app.model.views``; ``auto``: all of them in batch mode, the schedule's choice live).
The per-face columns divide the landmark and align stages by the faces per frame: align is
everything between the landmarks and the model (the similarity warp of each face, shrunk
first by area averaging when the face is larger than the crop; the quality measures: blur,
head pose by solvePnP; adaptive gamma and normalisation; the face IDs).

``--fer-python`` names a Python that has the ``fer`` package (kept out of this project's
environment: it needs TensorFlow), and ``benchmarks/fer_baseline.py`` times its pipeline
(Haar cascade and mini-Xception) on each video in the same run; each row then gives its
frames/s as a multiple of ``fer``'s on that video.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import subprocess
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
from app.face.mesh_region import Follower, Region
from app.model.providers import CPU, REQUESTS, probe
from app.model.views import CHOICES as VIEW_CHOICES
from app.pipeline import Pipeline
from app.results import STAGES, Event, EventKind, FrameResult
from app.sources.capture import SequentialReader, open_reader, open_source

log = logging.getLogger("benchmarks.pipeline")

DEFAULT_MEDIA = Path(os.environ.get("EMOTION_SHARED_DATA", REPOSITORY.parent / "shared" / "data")) / "media"


class EveryFrameLandmarker(QuietLandmarker):
    """The landmarks as before tracking: the detector and a fresh mesh on every frame."""

    def follow(self, frame_bgr):
        return self.detect(frame_bgr)


class StaticMeshLandmarker(QuietLandmarker):
    """Followed faces read by the static-mode mesh (its own detector, then the landmark
    model) on a region re-aimed every frame, as before the tracking-mode mesh."""

    def _follower(self, face):
        if face.mesh is None:
            return None
        follower = Follower(self._mesh)
        follower.aim = lambda box, scale: Region.around(box, scale)
        return follower

    def _runner(self, graph):
        return graph.process

    def close(self):
        self._followed, self._idle = [], []  # their graph is the static mesh, closed once
        super().close()


def landmarker_factory(detect_every: int, static_mesh: bool = False):
    if detect_every == 0:
        return EveryFrameLandmarker
    kind = StaticMeshLandmarker if static_mesh else QuietLandmarker
    return lambda max_faces: kind(max_faces, detect_every=detect_every)


RUNS = ("sequential", "overlapped", "live")


def parse_mode(text: str) -> tuple[int, str, bool]:
    """``5:overlapped`` -> (5, "overlapped", False): detector interval, how the stages run,
    whether followed faces use the static-mode mesh (``5:overlapped:static``)."""
    interval, _, rest = text.partition(":")
    stages, _, mesh = rest.partition(":")
    if not interval.isdigit() or stages not in RUNS or mesh not in ("", "static"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected N:{'|'.join(RUNS)}[:static], N >= 0")
    return int(interval), stages, mesh == "static"


def mode_text(detect_every: int, run: str, static_mesh: bool = False) -> str:
    landmarks = f"detect every {detect_every}" if detect_every else "detect every frame"
    mesh = ", static mesh" if static_mesh and detect_every else ""
    return f"{landmarks}{mesh}, {run}"


def fer_figures(python: str, video: Path, max_frames: int | None) -> dict:
    """``benchmarks/fer_baseline.py`` run by ``python`` on ``video``; {} when it fails (logged)."""
    command = [python, str(Path(__file__).with_name("fer_baseline.py")), str(video),
               "--max-frames", str(max_frames or 0)]
    completed = subprocess.run(command, capture_output=True, text=True)
    lines = completed.stdout.strip().splitlines()
    figures = json.loads(lines[-1]) if completed.returncode == 0 and lines else {}
    if "fps" not in figures:
        log.warning("fer on %s failed: %s", video.name, (completed.stderr or completed.stdout)[-500:])
        return {}
    log.info("fer %s on %s: %.1f frames/s", figures["fer_version"], video.name, figures["fps"])
    return figures


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
            run: str = "overlapped") -> dict:
    """Run one video through the pipeline; per-stage means, faces per frame, frames/s, the
    share of frames with a face and the distinct face IDs (all frames); the fewest reads
    per second of any face and the oldest read shown."""
    totals = dict.fromkeys(STAGES, 0.0)
    completions: list[float] = []
    faces = with_face = 0
    face_ids: set[int] = set()
    reads: dict[int, list[float]] = {}  # face ID -> the video times of its fresh reads, first, last seen
    oldest_read_ms = 0.0
    stop = threading.Event()

    def on_result(result: FrameResult) -> None:
        nonlocal faces, with_face, oldest_read_ms
        completions.append(time.perf_counter())
        with_face += bool(result.faces)
        face_ids.update(face.face_id for face in result.faces)
        if len(completions) > 1:  # the first frame starts MediaPipe's graphs: a warm-up
            faces += len(result.faces)
            for stage in STAGES:
                totals[stage] += getattr(result.timings, stage)
            now = completions[-1]
            for face in result.faces:
                seen = reads.setdefault(face.face_id, [0, now, now])
                seen[0] += face.fresh
                seen[2] = now
                oldest_read_ms = max(oldest_read_ms, face.read_age_ms)
        if max_frames and len(completions) > max_frames:
            stop.set()

    pipeline.start_recording(scratch / f"{video.stem}.csv", overwrite=True)
    reader = open_reader(video, realtime=True) if run == "live" else SequentialReader(open_source(video))
    with reader:
        if run == "sequential":
            run_sequentially(pipeline, reader, on_result, stop)
        else:
            pipeline.run(reader, on_result, stop=stop)
    pipeline.stop_recording()
    frames = len(completions) - 1  # timed: all but the warm-up frame
    span = completions[-1] - completions[0] if frames > 0 else float("nan")
    rates = [count / (last - first) for count, first, last in reads.values() if last - first >= 1.0]
    return {"frames": frames, "faces": faces / max(frames, 1), "fps": frames / span,
            "with_face": with_face / max(len(completions), 1), "ids": len(face_ids),
            "reads_per_s": min(rates, default=float("nan")), "oldest_read_ms": oldest_read_ms,
            "dropped": reader.dropped_frames,
            **{stage: total / max(frames, 1) for stage, total in totals.items()}}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help="folder of videos")
    parser.add_argument("--videos", nargs="+", help="file names in --media (default: all videos)")
    parser.add_argument("--providers", nargs="+", default=["cpu", "auto"], choices=sorted(REQUESTS),
                        help="provider requests; one resolving to an already measured provider is skipped")
    parser.add_argument("--max-frames", type=int, default=0, help="per video (0: every frame)")
    parser.add_argument("--modes", type=parse_mode, nargs="+",
                        default=[(DETECT_EVERY, "overlapped", False)],
                        metavar="N:STAGES", help="ways to run, e.g. 0:sequential (the app before "
                        f"tracking and overlap) {DETECT_EVERY}:overlapped (the app, the default), "
                        f"{DETECT_EVERY}:live (played at the video's speed, as a camera); "
                        ":static after either reads followed faces with the static-mode mesh, "
                        "as before the tracking-mode mesh")
    parser.add_argument("--views", nargs="+", default=["auto"], choices=VIEW_CHOICES,
                        help="test-time views settings to run each model with (default: auto)")
    parser.add_argument("--fer-python", metavar="PYTHON",
                        help="a Python with the fer package: time its pipeline on each video too")
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
    fer = {video: fer_figures(args.fer_python, video, args.max_frames or None)
           for video in videos} if args.fer_python else {}
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as scratch:
        for name in args.architectures:
            try:
                path, origin = benchmark_model(name, shipped, Path(scratch))
            except LookupError as error:
                log.warning("skipping %s: %s", name, error)
                continue
            for (provider, report), (detect_every, run, static_mesh), views in itertools.product(
                    reports.items(), args.modes, args.views):
                pipeline = Pipeline(path, provider=report.requested, views=views,
                                    landmarker_factory=landmarker_factory(detect_every, static_mesh))
                mode = mode_text(detect_every, run, static_mesh)
                for video in videos:
                    figures = measure(pipeline, video, Path(scratch), args.max_frames or None, run)
                    log.info("%s on %s, %s, views %s, %s: %.1f frames/s", name, provider, mode, views,
                             video.name, figures["fps"])
                    rows.append(row(name, origin, provider, mode, views, video, figures, fer.get(video)))
                pipeline.close()

    header = ["architecture", "model", "provider", "mode", "views", "video", "frames", "faces/frame",
              "with a face", "face IDs", "frames/s", "x fer", "dropped", "reads/s per face (fewest)",
              "oldest read ms", *(f"{stage} ms" for stage in STAGES), "landmarks ms/face",
              "align ms/face"]
    fer_note = "".join(f" `fer` {figures['fer_version']} on {video.name}: {figures['fps']:.1f} frames/s "
                       f"({figures['with_face']:.1%} with a face)."
                       for video, figures in fer.items() if figures)
    print_table(f"Pipeline end to end, CSV recording on (batch mode: every frame; live: at the video's "
                f"speed, frames dropped when behind);{fer_note} ONNX Runtime "
                f"{next(iter(reports.values())).onnxruntime_version}; {cpu_name()}, {os.cpu_count()} "
                f"logical CPUs{load_note()}. Stage columns: mean ms per frame.", header, rows, args.merge)
    return 0


def row(name: str, origin: str, provider: str, mode: str, views: str, video: Path, figures: dict,
        fer: dict | None) -> list[str]:
    faces = figures["faces"] or float("nan")
    ratio = f"{figures['fps'] / fer['fps']:.2f}x" if fer else "-"
    return [name, origin, provider.removesuffix("ExecutionProvider"), mode, views, video.name,
            str(figures["frames"]), f"{figures['faces']:.2f}", f"{figures['with_face']:.1%}",
            str(figures["ids"]), f"{figures['fps']:.1f}", ratio, str(figures["dropped"]),
            f"{figures['reads_per_s']:.1f}", f"{figures['oldest_read_ms']:.0f}",
            *(f"{figures[stage]:.2f}" for stage in STAGES),
            f"{figures['landmarks'] / faces:.2f}", f"{figures['align'] / faces:.2f}"]


if __name__ == "__main__":
    sys.exit(main())
