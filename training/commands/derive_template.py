"""Derive the alignment template from FER2013's own training crops.

FER2013 crops are tight, roughly centred faces of 48x48 pixels. To frame a live face
the way the training crops are framed, run the app's own landmarker on every training
crop (upscaled and padded, since the detector needs context around a face), keep the
mesh anchors in the crop's [0, 1] coordinates, and average them with the per-coordinate
median, which a few mislocated meshes cannot drag. The count of crops in
which a face was found, and the spread of each anchor, go into the template file.

    emotion-train derive-template --data data/fer2013 \\
        --out assets/alignment/fer2013_mesh_v1.json
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import cv2
import numpy as np

from app.face.alignment import ANCHOR_NAMES, DEFAULT_TEMPLATE_ID, AlignmentTemplate
from app.face.crop_landmarks import METHOD, locate_in_crop
from app.face.landmarks import FaceLandmarker
from app.sources.images import read_image_file
from app.system.exit_codes import ExitCode

log = logging.getLogger(__name__)

def crop_anchors(landmarker: FaceLandmarker, crop: np.ndarray) -> np.ndarray | None:
    """Mesh anchors of a face crop in [0, 1] crop coordinates, or None if no mesh face."""
    face = locate_in_crop(landmarker, crop)
    if face is None or face.source != "mesh":
        return None
    return np.array([face.anchors[name] for name in ANCHOR_NAMES])


def derive(image_paths: list[Path], template_id: str) -> AlignmentTemplate:
    found = []
    started = time.monotonic()
    with FaceLandmarker(max_faces=1) as landmarker:
        for index, path in enumerate(image_paths, 1):
            crop = read_image_file(path, cv2.IMREAD_GRAYSCALE)
            if crop is None:
                log.warning("cannot read %s", path)
                continue
            anchors = crop_anchors(landmarker, crop)
            if anchors is not None:
                found.append(anchors)
            if index % 1000 == 0:
                log.info("%d/%d crops, %d faces", index, len(image_paths), len(found))
    if not found:
        raise RuntimeError("no face found in any crop; is --data a FER2013 image tree?")
    stacked = np.stack(found)
    median, mean, spread = np.median(stacked, axis=0), stacked.mean(axis=0), stacked.std(axis=0)
    points = {name: (round(float(x), 5), round(float(y), 5)) for name, (x, y) in zip(ANCHOR_NAMES, median)}
    provenance = {
        "dataset": "FER2013 train",
        "crops": len(image_paths),
        "faces_found": len(found),
        "anchor_mean": {name: [round(float(v), 5) for v in m] for name, m in zip(ANCHOR_NAMES, mean)},
        "anchor_std": {name: [round(float(v), 5) for v in s] for name, s in zip(ANCHOR_NAMES, spread)},
        "method": METHOD,
        "seconds": round(time.monotonic() - started, 1),
        "command": "emotion-train derive-template",
    }
    return AlignmentTemplate(template_id, points, provenance)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True,
                        help="FER2013 image tree (<root>/train/<class>/*.jpg)")
    parser.add_argument("--out", type=Path, required=True, help="template JSON to write")
    parser.add_argument("--id", default=DEFAULT_TEMPLATE_ID, help="template id stored in model cards")
    parser.add_argument("--limit", type=int, default=0,
                        help="read every n-th crop so that at most this many are read (0: all)")


def run(args: argparse.Namespace) -> int:
    paths = sorted((args.data / "train").glob("*/*.jpg"))
    if not paths:
        raise SystemExit(f"no images under {args.data / 'train'}/<class>/*.jpg")
    if args.limit and len(paths) > args.limit:
        paths = paths[:: -(-len(paths) // args.limit)]
    template = derive(paths, args.id)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(template.to_json() + "\n")
    log.info("%d of %d crops had a face; template written to %s",
             template.provenance["faces_found"], len(paths), args.out)
    return ExitCode.OK


if __name__ == "__main__":
    import sys

    from training.cli import main

    sys.exit(main(["derive-template", *sys.argv[1:]]))
