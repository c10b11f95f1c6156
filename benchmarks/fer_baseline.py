"""The ``fer`` package's pipeline on a video, timed as ``benchmarks/pipeline.py`` times the app.

    /path/to/fer-venv/bin/python benchmarks/fer_baseline.py VIDEO [--max-frames N]

Runs in an environment of its own that has the ``fer`` package (it needs TensorFlow, which
this project does not depend on): ``FER(mtcnn=False)``, the package's default, finds faces
with OpenCV's Haar cascade and reads each with its mini-Xception (the quantised TensorFlow
Lite file inside the wheel: nothing is downloaded). Every frame is read in order, the first
is a warm-up and is not counted, and frames per second are measured on the wall clock over
the others. Prints one JSON line: frames, frames/s, faces per frame, share with a face.
``benchmarks/pipeline.py --fer-python`` runs it beside the app on the same videos.

The environment (``--no-deps`` leaves out facenet-pytorch and moviepy, which only the
MTCNN detector and the audio features need; ``setuptools`` below 81 keeps
``pkg_resources``, which the package imports)::

    python -m venv FER_VENV
    FER_VENV/bin/pip install --no-deps fer==25.10.3
    FER_VENV/bin/pip install tensorflow-cpu opencv-contrib-python==4.11.0.86 requests pillow \
        pandas tqdm "setuptools<81"
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video")
    parser.add_argument("--max-frames", type=int, default=0, help="frames timed (0: every frame)")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    import cv2
    from fer.fer import FER  # the package's __init__ exports nothing since 25.x

    detector = FER(mtcnn=False)
    video = cv2.VideoCapture(args.video)
    completions, faces, with_face = [], 0, 0
    while True:
        ok, frame = video.read()
        if not ok:
            break
        found = detector.detect_emotions(frame)
        completions.append(time.perf_counter())
        with_face += bool(found)
        if len(completions) > 1:
            faces += len(found)
        if args.max_frames and len(completions) > args.max_frames:
            break
    frames = len(completions) - 1
    if frames < 1:
        print(json.dumps({"error": f"no frames read from {args.video}"}))
        return 1
    print(json.dumps({"frames": frames, "fps": frames / (completions[-1] - completions[0]),
                      "faces": faces / frames, "with_face": with_face / len(completions),
                      "fer_version": sys.modules["fer"].__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
