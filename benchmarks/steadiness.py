"""How often the emotion shown switches on real clips, and how fast it follows a real
change of expression: the figures behind ``app.face.steady``'s defaults.

    python benchmarks/steadiness.py > docs/results/steadiness.md

Every video in ``--media`` (as in ``pipeline.py``) runs once through
``app.pipeline.Pipeline`` with the default model (the most accurate installed, or
``--model``), smoothing and hysteresis off, which gives each face's raw per-frame
probabilities. Each setting of the grid (time constant, switch margin, switch hold) then
replays those sequences through ``app.face.steady.SteadyRead``, the code the app runs:

- switches: how often the emotion shown changes, on ``fer_woman2.mp4`` and on all clips;
- not the top: the share of frames whose emotion shown is not the largest smoothed
  probability (the bars), and the longest such run in seconds (at most the switch hold);
- step lag: real frames of one steady expression followed by real frames of another.
  A steady expression is a stretch of at least ``--segment`` seconds whose reference
  emotion, the top of the centred one-second mean (which sees the future, as no live
  read can), stays the same. For every pair of such stretches with different emotions,
  the last second of the first is followed by the second; the lag is the time from the
  second's first frame to the first frame that shows its emotion (a pair whose emotion
  never shows counts as missed).

The chosen setting has the fewest switches over all clips among those whose median
step lag is at most ``--max-lag`` seconds, that miss no step, and whose emotion shown is
not the top one in at most ``--max-not-top`` of the frames (the name should agree with
the bars; the hold bounds how long it may not).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from latency import markdown_table
from pipeline import DEFAULT_MEDIA

from app.face.steady import OFF, Steadiness, SteadyRead
from app.model.library import default_model, resolve_model, scan_models
from app.pipeline import Pipeline
from app.results import FrameResult
from app.sources.capture import SequentialReader, open_source

log = logging.getLogger("benchmarks.steadiness")

OLD_DEFAULT = Steadiness(round(-1 / 30 / np.log(0.6), 4), 0.0, 0.0)
"""The smoothing before time constants: a weight of 0.6 kept per 1/30 s, no hysteresis."""
TIME_CONSTANTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2)
HOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
REFERENCE_WINDOW_S = 1.0
LEAD_IN_S = 1.0
Sequence = tuple[np.ndarray, np.ndarray]
"""(times in seconds (T,), raw probabilities (T, K)) of one face."""


def raw_sequences(model: Path, videos: list[Path]) -> dict[str, list[Sequence]]:
    """Video name -> each face's raw probabilities over time (smoothing and hysteresis off)."""
    pipeline = Pipeline(model, provider="cpu", steadiness=OFF)
    found = {}
    for video in videos:
        faces: dict[int, list] = defaultdict(list)

        def on_result(result: FrameResult, faces=faces) -> None:
            for face in result.faces:
                faces[face.face_id].append((result.frame.source_ms / 1000.0, face.probabilities))

        with SequentialReader(open_source(video)) as reader:
            pipeline.run(reader, on_result)
        found[video.name] = [(np.array([t for t, _ in rows]), np.stack([p for _, p in rows]))
                             for rows in faces.values() if len(rows) > 1]
        log.info("%s: %d faces, %d frames", video.name, len(found[video.name]),
                 sum(len(times) for times, _ in found[video.name]))
    pipeline.close()
    return found


def shown(sequence: Sequence, steadiness: Steadiness) -> np.ndarray:
    return replayed(sequence, steadiness)[0]


def replayed(sequence: Sequence, steadiness: Steadiness) -> tuple[np.ndarray, np.ndarray]:
    """(the emotion shown, the top smoothed emotion) at each frame."""
    read = SteadyRead()
    times, probabilities = sequence
    steps = [read.update(row, time_s, steadiness) for time_s, row in zip(times, probabilities)]
    return np.array([index for _, index in steps]), np.array([smoothed.argmax() for smoothed, _ in steps])


def switches(sequence: Sequence, steadiness: Steadiness) -> tuple[int, int, float]:
    """(switches of the emotion shown, frames it is not the top one, longest such run in s)."""
    labels, tops = replayed(sequence, steadiness)
    behind = labels != tops
    longest, since = 0.0, None
    for time_s, off in zip(sequence[0], behind):
        since = (time_s if since is None else since) if off else None
        longest = max(longest, time_s - since) if off else longest
    return int(np.count_nonzero(labels[1:] != labels[:-1])), int(behind.sum()), longest


def steady_segments(sequence: Sequence, minimum_s: float) -> list[tuple[Sequence, int]]:
    """Stretches of at least ``minimum_s`` whose centred-mean top emotion stays one, with it."""
    times, probabilities = sequence
    reference = np.array([probabilities[np.abs(times - t) <= REFERENCE_WINDOW_S / 2].mean(axis=0).argmax()
                          for t in times])
    segments, start = [], 0
    for end in range(1, len(times) + 1):
        if end == len(times) or reference[end] != reference[start]:
            if times[end - 1] - times[start] >= minimum_s:
                segments.append(((times[start:end], probabilities[start:end]), int(reference[start])))
            start = end
    return segments


def spliced(first: Sequence, second: Sequence) -> tuple[Sequence, float]:
    """The last ``LEAD_IN_S`` of ``first`` then ``second``, on one clock; and the step's time."""
    (times_a, probs_a), (times_b, probs_b) = first, second
    keep = times_a >= times_a[-1] - LEAD_IN_S
    interval = float(np.median(np.diff(times_b))) if len(times_b) > 1 else 1 / 30
    step = times_a[-1] + interval
    times = np.concatenate([times_a[keep], times_b - times_b[0] + step])
    return (times, np.concatenate([probs_a[keep], probs_b])), step


def step_lags(pairs: list[tuple[Sequence, float, int]], steadiness: Steadiness) -> list[float | None]:
    """Seconds from each step to the first frame showing the new emotion (None: never)."""
    lags = []
    for sequence, step, target in pairs:
        labels = shown(sequence, steadiness)
        after = (sequence[0] >= step) & (labels == target)
        lags.append(float(sequence[0][np.argmax(after)] - step) if after.any() else None)
    return lags


def measure(clips: dict[str, list[Sequence]], pairs, steadiness: Steadiness) -> dict:
    counted = {name: [switches(face, steadiness) for face in faces] for name, faces in clips.items()}
    per_clip = {name: sum(count for count, _, _ in faces) for name, faces in counted.items()}
    frames = sum(len(times) for faces in clips.values() for times, _ in faces)
    behind = sum(off for faces in counted.values() for _, off, _ in faces)
    longest = max((run for faces in counted.values() for _, _, run in faces), default=0.0)
    lags = step_lags(pairs, steadiness)
    found = sorted(lag for lag in lags if lag is not None)
    face_minutes = sum(times[-1] - times[0] for faces in clips.values() for times, _ in faces) / 60
    return {"steadiness": steadiness, "woman2": per_clip.get("fer_woman2.mp4", 0),
            "switches": sum(per_clip.values()), "per_minute": sum(per_clip.values()) / face_minutes,
            "median_lag": statistics.median(found) if found else float("inf"),
            "p90_lag": float(np.percentile(found, 90)) if found else float("inf"),
            "missed": lags.count(None), "behind": behind / max(frames, 1), "longest_behind": longest}


def row(figures: dict, note: str) -> list[str]:
    steadiness = figures["steadiness"]
    return [f"{steadiness.time_constant_s:g}", f"{steadiness.switch_margin:g}",
            f"{steadiness.switch_hold_s:g}", str(figures["woman2"]), str(figures["switches"]),
            f"{figures['per_minute']:.1f}", f"{figures['median_lag']:.2f}", f"{figures['p90_lag']:.2f}",
            str(figures["missed"]), f"{100 * figures['behind']:.1f}", f"{figures['longest_behind']:.2f}",
            note]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help="folder of videos")
    parser.add_argument("--model", help="model name or path (default: the app's default model)")
    parser.add_argument("--segment", type=float, default=1.0, help="shortest steady expression (s)")
    parser.add_argument("--max-lag", type=float, default=0.3, help="largest median step lag allowed (s)")
    parser.add_argument("--max-not-top", type=float, default=0.05,
                        help="largest share of frames whose emotion shown is not the top one")
    parser.add_argument("--top", type=int, default=10, help="settings listed besides the reference rows")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    args = parse_arguments(argv)
    videos = sorted(p for p in args.media.glob("*") if p.suffix.lower() in (".mp4", ".mov", ".avi"))
    model = resolve_model(args.model) if args.model else default_model(scan_models()[0]).path
    clips = raw_sequences(model, videos)
    segments = [segment for faces in clips.values() for face in faces
                for segment in steady_segments(face, args.segment)]
    pairs = [(*spliced(a, b), target) for (a, label_a), (b, target) in itertools.permutations(segments, 2)
             if label_a != target]
    grid = [Steadiness(*values) for values in itertools.product(TIME_CONSTANTS, MARGINS, HOLDS)]
    results = [measure(clips, pairs, steadiness) for steadiness in grid]
    allowed = [r for r in results if r["median_lag"] <= args.max_lag + 1e-6 and r["missed"] == 0
               and r["behind"] <= args.max_not_top]
    allowed.sort(key=lambda r: (r["switches"], r["median_lag"]))
    chosen = allowed[0] if allowed else None
    current = Steadiness()
    reference = [(measure(clips, pairs, OFF), "off: raw frames"),
                 (measure(clips, pairs, OLD_DEFAULT), "the old default (0.6 per 1/30 s)")]
    listed = [(r, "chosen" if r is chosen else "") for r in allowed[: args.top]]
    if current not in [r["steadiness"] for r, _ in listed]:
        listed.append((next(r for r in results if r["steadiness"] == current)
                       if current in grid else measure(clips, pairs, current), ""))
    listed = [(r, ", ".join(filter(None, [note, "the app's default" * (r["steadiness"] == current)])))
              for r, note in listed]
    frames = sum(len(times) for faces in clips.values() for times, _ in faces)
    print(f"Model `{model.name}`; {len(videos)} clips ({', '.join(v.name for v in videos)}), "
          f"{sum(map(len, clips.values()))} faces, {frames} frames; {len(segments)} steady expressions "
          f"of at least {args.segment:g} s, {len(pairs)} step changes between them; {len(grid)} "
          f"settings tried, {len(allowed)} with a median step lag of at most {args.max_lag:g} s, "
          f"no step missed and at most {100 * args.max_not_top:g} % of frames not naming the top "
          "emotion (the fewest switches first).\n")
    header = ["time constant (s)", "switch margin", "switch hold (s)", "switches, fer_woman2.mp4",
              "switches, all clips", "switches per face-minute", "step lag median (s)",
              "step lag p90 (s)", "steps missed", "frames not naming the top bar (%)",
              "longest not naming it (s)", ""]
    print(markdown_table(header, [row(r, note) for r, note in reference + listed]))
    if chosen is not None:
        best = chosen["steadiness"]
        print(f"\nChosen: time constant {best.time_constant_s:g} s, switch margin "
              f"{best.switch_margin:g}, switch hold {best.switch_hold_s:g} s; app.face.steady's defaults "
              f"are {current.time_constant_s:g} s, {current.switch_margin:g}, {current.switch_hold_s:g} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
