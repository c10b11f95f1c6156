"""Landmark emphasis on dataset crops, with the landmarks found once and cached.

A live face gets its emphasis regions from the mesh the app already computed; a dataset
crop has no landmarks, so the app's landmarker reads each crop
(``app.face.crop_landmarks``) and the regions come from what it found, with the same
fallbacks as live: mesh, else the detector's anchors, else the alignment template's
points (a crop in which no face was found). Finding them costs about as much as a few
epochs of a small model, so the locations (not the emphasised crops: the strength may
change) are cached under the user's cache folder, keyed by the crops' bytes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

from app.face.alignment import DETECTOR_ANCHOR_NAMES
from app.face.crop_landmarks import METHOD, CropFace, locate_in_crop
from app.face.emphasis import FEATURE_POINT_INDICES, FeatureOutline
from app.face.preprocess import PreprocessSpec, emphasise_crop, template_outline
from app.system.output_files import Staged, cache_path

log = logging.getLogger(__name__)

NOT_FOUND, DETECTOR, MESH = 0, 1, 2
CACHE_VERSION = "1"


def cache_folder() -> Path:
    """``$XDG_CACHE_HOME/emotion-live/crop-landmarks`` (``~/.cache`` without the variable)."""
    return cache_path("crop-landmarks")


def emphasise_crops(crops: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """(N, H, W, C) uint8 crops with the spec's landmark emphasis (unchanged when it is off)."""
    if spec.landmark_emphasis == 0.0 or len(crops) == 0:
        return crops
    outlines = crop_outlines(crops, spec)
    sources = {source: sum(outline.source == source for outline in outlines)
               for source in ("mesh", "detector", "template")}
    log.info("landmark emphasis %.2f on %d crops: regions from the mesh in %d, the detector in %d, "
             "the template in %d", spec.landmark_emphasis, len(crops), sources["mesh"],
             sources["detector"], sources["template"])
    return np.stack([emphasise_crop(crop, outline, spec) for crop, outline in zip(crops, outlines)])


def crop_outlines(crops: np.ndarray, spec: PreprocessSpec) -> list[FeatureOutline]:
    """Each crop's feature regions: mesh, else detector anchors, else the template."""
    kinds, points, anchors = _located(crops)
    fallback = template_outline(spec)
    outlines = []
    for kind, feature_points, detector_points in zip(kinds, points, anchors):
        if kind == MESH:
            outlines.append(FeatureOutline.from_feature_points(feature_points.astype(np.float32)))
        elif kind == DETECTOR:
            outlines.append(FeatureOutline.from_anchors(dict(zip(DETECTOR_ANCHOR_NAMES, detector_points))))
        else:
            outlines.append(fallback)
    return outlines


def _located(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kind, mesh feature points, detector anchors) per crop, from the cache when present."""
    digest = hashlib.sha256(f"{CACHE_VERSION} {METHOD} {crops.shape}".encode())
    digest.update(np.ascontiguousarray(crops).data)
    path = cache_folder() / f"{digest.hexdigest()[:24]}.npz"
    if path.exists():
        try:
            with np.load(path) as cached:
                return cached["kind"], cached["feature_points"], cached["detector_anchors"]
        except (OSError, ValueError, KeyError) as error:
            log.warning("ignoring unreadable landmark cache %s: %s", path, error)
    located = _locate_all(crops)
    try:
        with Staged(path) as stage:
            np.savez(stage.path, kind=located[0], feature_points=located[1], detector_anchors=located[2])
            stage.commit()
    except OSError as error:
        log.warning("cannot cache crop landmarks in %s (%s); they will be found again next time",
                    path.parent, error)
    return located


def _locate_all(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from app.face.landmarks import QuietLandmarker  # MediaPipe's start-up lines to the log

    kinds = np.zeros(len(crops), np.int8)
    points = np.full((len(crops), len(FEATURE_POINT_INDICES), 2), np.nan, np.float16)
    anchors = np.full((len(crops), len(DETECTOR_ANCHOR_NAMES), 2), np.nan, np.float16)
    started = time.monotonic()
    log.info("finding landmarks in %d crops for landmark emphasis (cached for next time)", len(crops))
    with QuietLandmarker(max_faces=1) as landmarker:
        for index, crop in enumerate(crops):
            face = locate_in_crop(landmarker, crop)
            if face is not None:
                _store(face, index, kinds, points, anchors)
            if (index + 1) % 5000 == 0:
                log.info("%d/%d crops, %.0f s", index + 1, len(crops), time.monotonic() - started)
    return kinds, points, anchors


def _store(face: CropFace, index: int, kinds: np.ndarray, points: np.ndarray, anchors: np.ndarray) -> None:
    if face.feature_points is not None:
        kinds[index], points[index] = MESH, face.feature_points
    elif all(name in face.anchors for name in DETECTOR_ANCHOR_NAMES):
        kinds[index] = DETECTOR
        anchors[index] = [face.anchors[name] for name in DETECTOR_ANCHOR_NAMES]
