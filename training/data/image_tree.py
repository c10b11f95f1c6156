"""Image trees ``<root>/<split>/<class>/<image>``: FER2013's Kaggle release and any like it.

Class folders named as FER2013's classes (or a common synonym: ``happiness``,
``anger``, ``scared`` ...) take FER2013's canonical order, ``training.data.labels.FER2013_LABELS``,
so a model trained on the tree has the output order of every other FER2013 model.
Other trees take the sorted union of the class folders of all splits, so every split
of one root shares one order. Images are face crops already: ``prepare_crop``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.face.preprocess import PreprocessSpec
from training.data.base import (
    IMAGE_SUFFIXES,
    CropSet,
    DataOptions,
    DatasetLayoutError,
    choose_per_class,
    decode_crops,
)
from training.data.labels import FER2013_LABELS

LAYOUT = "<root>/<split>/<class>/<image>, e.g. fer2013/train/happy/Training_1.jpg"
SYNONYMS = {
    "anger": "angry", "disgusted": "disgust", "fearful": "fear", "scared": "fear",
    "happiness": "happy", "sadness": "sad", "surprised": "surprise",
}


def splits(root: Path) -> list[str]:
    """Split folders of the tree: sub-folders of ``root`` that hold class folders."""
    if not root.is_dir():
        raise DatasetLayoutError(f"{root} is not a folder; expected an image tree {LAYOUT}")
    return sorted(
        child.name for child in root.iterdir()
        if child.is_dir() and any(grandchild.is_dir() for grandchild in child.iterdir())
    )


def class_folders(root: Path, split: str) -> list[Path]:
    return sorted(child for child in (root / split).iterdir() if child.is_dir())


def canonical_labels(root: Path) -> tuple[tuple[str, ...], dict[str, str], str]:
    """(label order, folder name -> label, dataset name) shared by every split of ``root``."""
    names = sorted({folder.name for split in splits(root) for folder in class_folders(root, split)})
    if not names:
        raise DatasetLayoutError(f"{root} has no class folders; expected {LAYOUT}")
    folder_to_label = {name: SYNONYMS.get(name.lower(), name.lower()) for name in names}
    if set(folder_to_label.values()) <= set(FER2013_LABELS):
        return FER2013_LABELS, folder_to_label, "FER2013"
    return tuple(names), {name: name for name in names}, f"image tree {root.name}"


def load(root: Path, split: str, spec: PreprocessSpec, options: DataOptions) -> CropSet:
    available = splits(root)
    if split not in available:
        raise DatasetLayoutError(
            f"{root} has no split {split!r} (found {available or 'none'}); expected {LAYOUT}")
    labels, folder_to_label, dataset = canonical_labels(root)
    paths, targets = [], []
    for folder in class_folders(root, split):
        files = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        targets += [labels.index(folder_to_label[folder.name])] * len(files)
    if not paths:
        raise DatasetLayoutError(f"{root / split} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                                 f"expected {LAYOUT}")
    targets_array = np.asarray(targets, np.int64)
    chosen = choose_per_class(targets_array, options.limit_per_class, options.seed)
    crops = decode_crops([paths[index] for index in chosen], spec)
    return CropSet(dataset, split, labels, crops, targets_array[chosen])
