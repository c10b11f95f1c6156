"""Which faces that only the face detector reports (no mesh) to count: the figures behind
``app.face.confirmation``'s thresholds.

    python benchmarks/false_faces.py > docs/results/false-faces.md

Every video in ``--media`` runs once through ``app.pipeline.Pipeline`` (mini_xception: the
model does not matter here) while every face the landmarker returns is noted, before any
is held back: its frame, whether its mesh was found, its detector score, its box. Each
setting of the grid (a detector score, frames in a row) is then replayed through
``app.face.confirmation.FaceConfirmation``, the code the app runs, and counts, per clip,
the faces with a mesh it holds back (real faces lost) and the faces without one it
passes. On these clips every face without a mesh is lettering of a title (on
``pyfeat_no_face.mp4`` and at the end of ``pyfeat_face_noface.mov``; looked at frame by
frame), so a good setting passes none of them and holds back no face with a mesh.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from pathlib import Path

from latency import markdown_table
from pipeline import DEFAULT_MEDIA

from app.face.confirmation import MIN_DETECTOR_FRAMES, MIN_DETECTOR_SCORE, FaceConfirmation
from app.face.landmarks import Face, QuietLandmarker
from app.pipeline import Pipeline
from app.sources.capture import SequentialReader, open_source

log = logging.getLogger("benchmarks.false_faces")

SCORES = (0.0, 0.6, 0.65, 0.7, 0.75, 0.8)
FRAMES = (1, 3, 5, 8)


def landmarked_frames(videos: list[Path]) -> dict[str, list[list[Face]]]:
    """Video name -> every frame's faces as the landmarker returned them."""
    noted: list[list[Face]] = []

    class Noting(QuietLandmarker):
        def follow(self, frame_bgr):
            noted.append(super().follow(frame_bgr))
            return noted[-1]

    pipeline = Pipeline("mini_xception", provider="cpu", landmarker_factory=lambda faces: Noting(faces))
    found = {}
    for video in videos:
        noted.clear()
        with SequentialReader(open_source(video)) as reader:
            pipeline.run(reader)
        found[video.name] = list(noted)
        log.info("%s: %d frames, %d faces, %d without a mesh", video.name, len(noted),
                 sum(map(len, noted)), sum(face.mesh is None for faces in noted for face in faces))
    pipeline.close()
    return found


def passed(frames: list[list[Face]], min_score: float, min_frames: int) -> tuple[int, int]:
    """(faces with a mesh held back, faces without one passed) over a clip's frames."""
    gate = FaceConfirmation(min_score, min_frames)
    held = passed_without = 0
    for faces in frames:
        kept = {id(face) for face in gate.admit(faces)}
        held += sum(face.mesh is not None and id(face) not in kept for face in faces)
        passed_without += sum(face.mesh is None and id(face) in kept for face in faces)
    return held, passed_without


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help="folder of videos")
    args = parser.parse_args(argv)
    videos = sorted(p for p in args.media.glob("*") if p.suffix.lower() in (".mp4", ".mov", ".avi"))
    clips = landmarked_frames(videos)
    detector_only = [(name, index, face.score) for name, frames in clips.items()
                     for index, faces in enumerate(frames) for face in faces if face.mesh is None]
    print(f"{len(videos)} clips ({', '.join(clips)}); faces the detector alone reported (frame, "
          "score): " + ("; ".join(f"{name} {index} {score:.2f}" for name, index, score in detector_only)
                        or "none") + ". Each is a title's lettering (looked at), none a face. Per "
          "clip and setting (detector score at least, frames in a row): faces with a mesh held "
          "back / faces without one passed; both must be 0.\n")
    header = ["score", "frames", *clips, "none lost, none false"]
    rows = []
    for min_score, min_frames in itertools.product(SCORES, FRAMES):
        counts = [passed(frames, min_score, min_frames) for frames in clips.values()]
        good = not any(held or false for held, false in counts)
        chosen = (min_score, min_frames) == (MIN_DETECTOR_SCORE, MIN_DETECTOR_FRAMES)
        rows.append([f"{min_score:g}", str(min_frames), *(f"{held} / {false}" for held, false in counts),
                     ("yes" if good else "no") + (", the app's" if chosen else "")])
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
