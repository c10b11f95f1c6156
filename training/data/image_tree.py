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


def canonical_labels(root: Path, classes: tuple[str, ...] = ()
                     ) -> tuple[tuple[str, ...], dict[str, str], str]:
    """(label order, folder name -> label, dataset name) shared by every split of ``root``.

    A class folder outside FER2013's classes beside FER2013 ones (``train/hapy``: a
    misspelling that trained an 8-class model in which "happy" had no images), or one that
    is empty in a split, is refused by name, unless ``classes`` lists the classes to train
    on: then those, in that order."""
    available = splits(root)
    names = sorted({folder.name for split in available for folder in class_folders(root, split)})
    if not names:
        raise DatasetLayoutError(f"{root} has no class folders; expected {LAYOUT}")
    if classes:
        unknown = sorted(set(names) - set(classes))
        if unknown:
            raise DatasetLayoutError(f"{root}: class folders {unknown} are not among --classes "
                                     f"{list(classes)}")
        return tuple(classes), {name: name for name in names}, f"image tree {root.name}"
    folder_to_label = {name: SYNONYMS.get(name.lower(), name.lower()) for name in names}
    foreign = [name for name in names if folder_to_label[name] not in FER2013_LABELS]
    if foreign and len(foreign) < len(names):
        raise DatasetLayoutError(
            f"{root}: class folders {foreign} are not FER2013 classes ({', '.join(FER2013_LABELS)}) "
            "though the others are; rename them, or list the classes to train on with --classes")
    empty = [f"{split}/{name}" for split in available for name in names
             if (root / split / name).is_dir() and not _images_in(root / split / name)]
    if empty:
        more = f" (and {len(empty) - 1} more: {', '.join(empty[1:4])})" if len(empty) > 1 else ""
        raise DatasetLayoutError(f"{root}: {empty[0]} holds no images{more}, so its class could not "
                                 "be learnt or measured there; add images, or list the classes to "
                                 "train on with --classes")
    if not foreign:
        return FER2013_LABELS, folder_to_label, "FER2013"
    return tuple(names), {name: name for name in names}, f"image tree {root.name}"


def _images_in(folder: Path) -> bool:
    return any(path.suffix.lower() in IMAGE_SUFFIXES for path in folder.iterdir())


def load(root: Path, split: str, spec: PreprocessSpec, options: DataOptions) -> CropSet:
    available = splits(root)
    if split not in available:
        raise DatasetLayoutError(
            f"{root} has no split {split!r} (found {available or 'none'}); expected {LAYOUT}")
    labels, folder_to_label, dataset = canonical_labels(root, options.classes)
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
