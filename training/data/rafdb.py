"""RAF-DB basic emotions (Li et al. 2017): ``EmoLabel/list_patition_label.txt`` + ``Image/aligned``.

Each line of the label file names an original image and its class, 1-7 for surprise,
fear, disgust, happiness, sadness, anger, neutral (``train_00001.jpg 5``); the
release's aligned 100x100 crop of that image is ``Image/aligned/train_00001_aligned.jpg``.
The name's prefix is the split: ``train`` or ``test`` (RAF-DB has no validation split;
train with ``--val-split test`` or hold out part of train yourself). The aligned crops
are face crops already: ``prepare_crop``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.face.preprocess import PreprocessSpec
from training.data.base import CropSet, DataOptions, DatasetLayoutError, choose_per_class, decode_crops

LABEL_FILE = "EmoLabel/list_patition_label.txt"
ALIGNED_DIR = "Image/aligned"
RAFDB_LABELS = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")
"""Label 1-7 of the release, in the app's vocabulary."""
SPLITS = ("train", "test")
LAYOUT = (f"<root>/{LABEL_FILE} with lines '<split>_<id>.jpg <1-7>' and "
          f"<root>/{ALIGNED_DIR}/<split>_<id>_aligned.jpg (RAF-DB's basic release)")


def base_folder(root: Path) -> Path:
    """The folder holding ``EmoLabel`` and ``Image``: ``root`` or its ``basic`` sub-folder."""
    for candidate in (root, root / "basic"):
        if (candidate / LABEL_FILE).is_file():
            return candidate
    raise DatasetLayoutError(f"{root}: no {LABEL_FILE}; expected {LAYOUT}")


def read_labels(root: Path) -> list[tuple[str, int]]:
    """(image name, class index 0-6) for every line of the label file."""
    path = base_folder(root) / LABEL_FILE
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= 7:
            raise DatasetLayoutError(f"{path}:{number}: expected '<image> <label 1-7>', got {line!r}")
        entries.append((parts[0], int(parts[1]) - 1))
    return entries


def aligned_path(base: Path, name: str) -> Path:
    stem, _, suffix = name.rpartition(".")
    return base / ALIGNED_DIR / f"{stem}_aligned.{suffix}"


def load(root: Path, split: str, spec: PreprocessSpec, options: DataOptions) -> CropSet:
    if split not in SPLITS:
        raise DatasetLayoutError(f"RAF-DB has no split {split!r}; valid: {list(SPLITS)}")
    base = base_folder(root)
    entries = [(name, label) for name, label in read_labels(root) if name.startswith(split + "_")]
    if not entries:
        raise DatasetLayoutError(f"{base / LABEL_FILE} lists no {split} images; expected {LAYOUT}")
    targets = np.array([label for _, label in entries], np.int64)
    chosen = choose_per_class(targets, options.limit_per_class, options.seed)
    paths = [aligned_path(base, entries[index][0]) for index in chosen]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise DatasetLayoutError(f"{len(missing)} aligned images listed in {LABEL_FILE} are missing, "
                                 f"first {missing[0]}; expected {LAYOUT}")
    return CropSet("RAF-DB", split, RAFDB_LABELS, decode_crops(paths, spec), targets[chosen])
