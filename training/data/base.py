"""What every dataset loader returns, and the decoding steps they share.

A loader reads one split of a dataset in its native layout and returns a ``CropSet``:
every image decoded once, put through ``app.face.preprocess`` (``prepare_crop`` for sources
that already are face crops, ``crop_face`` after ``app.face.landmarks`` for full frames), given
the card's landmark emphasis when it has one (``training.data.crop_outlines`` for crops, the
frame's own landmarks for frames), and kept in memory as uint8 crops of the model's size and
colour space. FER2013 is 28,709 crops of 48x48: 66 MB, so epochs cost only augmentation and
the model, never decoding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from app.face.preprocess import PreprocessSpec, crop_face, emphasise_crop, frame_outline, prepare_crop
from app.sources.images import read_image_file
from app.system.file_names import printable
from training.data.crop_outlines import emphasise_crops

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class DatasetLayoutError(ValueError):
    """A dataset folder or file does not have the layout its loader expects."""


@dataclass(frozen=True)
class DataOptions:
    """How to read a dataset, beyond its root and split."""

    limit_per_class: int | None = None
    """Keep at most this many images of each class (a seeded random choice): quick runs."""
    seed: int = 0
    exclude_classes: tuple[str, ...] = ()
    """Class names to drop, e.g. ``contempt`` to train FER+ or CK+ on seven classes."""
    classes: tuple[str, ...] = ()
    """An image tree's classes in output order, as the user listed them (``--classes``):
    then folders outside the dataset's label set, or empty in a split, are taken as they are."""
    soft_labels: bool = False
    """FER+: train on the annotators' vote distribution instead of the majority label."""
    ckplus_peak_frames: int = 3
    """CK+: how many last frames of a labelled sequence carry its emotion."""


@dataclass(frozen=True)
class CropSet:
    """One split of a dataset, decoded: crops, class indices and the label order."""

    dataset: str
    """Human-readable dataset name for the model card, e.g. ``FER2013``."""
    split: str
    labels: tuple[str, ...]
    """Class names in index order (the dataset's canonical order)."""
    crops: np.ndarray
    """(N, H, W, C) uint8 crops in the spec's size and colour space."""
    targets: np.ndarray
    """(N,) int64 class indices (the majority label where votes exist)."""
    soft_targets: np.ndarray | None = None
    """(N, K) float32 label distributions (FER+ soft labels), rows summing to 1."""

    def __len__(self) -> int:
        return len(self.targets)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=len(self.labels))

    def without_classes(self, names: Sequence[str]) -> CropSet:
        """Drop the samples of ``names`` and re-index the remaining classes."""
        if not names:
            return self
        unknown = sorted(set(names) - set(self.labels))
        if unknown:
            raise ValueError(f"cannot exclude {unknown}: {self.dataset} classes are {list(self.labels)}")
        kept_classes = [index for index, name in enumerate(self.labels) if name not in names]
        remap = np.full(len(self.labels), -1, np.int64)
        remap[kept_classes] = np.arange(len(kept_classes))
        rows = np.flatnonzero(remap[self.targets] >= 0)
        soft = None
        if self.soft_targets is not None:
            soft = self.soft_targets[rows][:, kept_classes]
            mass = soft.sum(axis=1)
            rows, soft = rows[mass > 0], soft[mass > 0] / mass[mass > 0, None]
        return replace(self, labels=tuple(self.labels[i] for i in kept_classes),
                       crops=self.crops[rows], targets=remap[self.targets[rows]], soft_targets=soft)

    def summary(self) -> str:
        counts = ", ".join(f"{name} {count}" for name, count in zip(self.labels, self.class_counts()))
        return f"{self.dataset} {self.split}: {len(self)} images ({counts})"


def choose_per_class(targets: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices keeping at most ``limit`` samples per class, a seeded choice in original order."""
    targets = np.asarray(targets)
    if limit is None:
        return np.arange(len(targets))
    if limit < 1:
        raise ValueError(f"limit per class must be at least 1, got {limit}")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        if len(members) > limit:
            members = np.sort(rng.choice(members, limit, replace=False))
        chosen.append(members)
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)


def read_image(path: Path, spec: PreprocessSpec) -> np.ndarray:
    """Decode an image file as gray or BGR, whichever the spec's colour space needs."""
    return decode_file(path, cv2.IMREAD_GRAYSCALE if spec.color_space == "gray" else cv2.IMREAD_COLOR)


def decode_file(path: Path, flags: int) -> np.ndarray:
    """An image file decoded with OpenCV's ``flags``, whatever bytes its name holds;
    DatasetLayoutError when it is not a readable image."""
    image = read_image_file(path, flags)
    if image is None:
        raise DatasetLayoutError(f"{printable(path)}: not a readable image")
    return image


def stack_crops(crops: Sequence[np.ndarray], spec: PreprocessSpec) -> np.ndarray:
    height, width = spec.input_size
    if not crops:
        return np.zeros((0, height, width, spec.channels), np.uint8)
    return np.stack(crops)


def model_crops(crops: Sequence[np.ndarray], spec: PreprocessSpec) -> np.ndarray:
    """A dataset's own face crops (``prepare_crop``'s) stacked as the model sees them: with
    the landmark emphasis the spec asks for, from the landmarks found in each crop."""
    return emphasise_crops(stack_crops(crops, spec), spec)


def decode_crops(paths: Sequence[Path], spec: PreprocessSpec, threads: int = 4) -> np.ndarray:
    """Image files that already are face crops -> (N, H, W, C) uint8 via ``prepare_crop``.

    OpenCV releases the GIL while decoding, so a few threads decode in parallel.
    """

    def decode(path: Path) -> np.ndarray:
        return prepare_crop(read_image(path, spec), spec)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return model_crops(list(pool.map(decode, paths)), spec)


def align_frames(
    items: Sequence[tuple[Path, int]], spec: PreprocessSpec, read: Callable[[Path], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Full frames -> aligned crops of their largest face, exactly as the app crops live faces.

    ``items`` are (path, class index); frames without a face are skipped and counted.
    Returns the crops and the class indices of the frames kept.
    """
    from app.face.landmarks import FaceLandmarker

    crops, targets, missed = [], [], []
    with FaceLandmarker(max_faces=1) as landmarker:
        for path, target in items:
            frame = read(path)
            faces = landmarker.detect(frame)
            if not faces:
                missed.append(path)
                continue
            face = faces[0]
            crop = crop_face(frame, face.anchors, spec)
            if spec.landmark_emphasis:
                crop = emphasise_crop(crop, frame_outline(face.anchors, face.mesh, spec), spec)
            crops.append(crop)
            targets.append(target)
    if missed:
        log.warning("no face found in %d of %d frames (first: %s); they are left out",
                    len(missed), len(items), missed[0])
    return stack_crops(crops, spec), np.asarray(targets, np.int64)


def require(path: Path, what: str, expected: str) -> Path:
    """``path`` if it exists, else a DatasetLayoutError naming what was expected."""
    if not path.exists():
        raise DatasetLayoutError(f"{path} not found: {what}. Expected layout: {expected}")
    return path
