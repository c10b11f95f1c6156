"""Dataset loaders by format name, and format detection from a folder's layout.

``load_split(format, root, split, spec, options)`` returns a ``CropSet``: the split
decoded once into uint8 crops through ``app.face.preprocess``. ``format`` is one of
``FORMATS`` (or ``auto``, which recognises each release by its files).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.face.preprocess import PreprocessSpec
from training.data import ckplus, fer_csv, image_tree, rafdb
from training.data.base import CropSet, DataOptions, DatasetLayoutError

log = logging.getLogger(__name__)

Loader = Callable[[Path, str, PreprocessSpec, DataOptions], CropSet]


@dataclass(frozen=True)
class DatasetFormat:
    name: str
    load: Loader
    splits: Callable[[Path], list[str]]
    detect: Callable[[Path], bool]
    layout: str


def _has(*relative: str) -> Callable[[Path], bool]:
    """Whether ``root`` is, holds, or has a sub-folder holding one of ``relative``."""

    def detect(root: Path) -> bool:
        if root.is_file():
            return root.name in relative
        return any((root / path).exists() or any(root.glob(f"*/{path}")) for path in relative)

    return detect


_CSV_SPLITS = list(fer_csv.USAGE_TO_SPLIT.values())
FORMATS: dict[str, DatasetFormat] = {
    "ferplus": DatasetFormat("ferplus", fer_csv.load_ferplus, lambda root: _CSV_SPLITS,
                             _has(fer_csv.FERPLUS_FILE),
                             f"{fer_csv.FERPLUS_FILE} beside {fer_csv.FER2013_FILE}"),
    "fer2013-csv": DatasetFormat("fer2013-csv", fer_csv.load_fer2013, lambda root: _CSV_SPLITS,
                                 _has(fer_csv.FER2013_FILE),
                                 f"{fer_csv.FER2013_FILE} with columns emotion,pixels,Usage"),
    "rafdb": DatasetFormat("rafdb", rafdb.load, lambda root: list(rafdb.SPLITS),
                           _has(rafdb.LABEL_FILE, "basic/" + rafdb.LABEL_FILE), rafdb.LAYOUT),
    "ckplus": DatasetFormat("ckplus", ckplus.load, lambda root: list(ckplus.SPLIT_FRACTIONS),
                            _has(ckplus.IMAGES_DIR), ckplus.LAYOUT),
    "image-tree": DatasetFormat("image-tree", image_tree.load, image_tree.splits,
                                lambda root: root.is_dir() and bool(image_tree.splits(root)),
                                image_tree.LAYOUT),
}
ALIASES = {"fer2013-tree": "image-tree"}
FORMAT_CHOICES = ("auto", *FORMATS, *ALIASES)


def resolve_format(name: str, root: Path) -> DatasetFormat:
    """The format called ``name``, or for ``auto`` the first whose files ``root`` holds."""
    if not root.exists():
        raise DatasetLayoutError(f"{root} does not exist")
    name = ALIASES.get(name, name)
    if name in FORMATS:
        return FORMATS[name]
    if name != "auto":
        raise ValueError(f"unknown dataset format {name!r}; valid: {list(FORMAT_CHOICES)}")
    for dataset_format in FORMATS.values():
        if dataset_format.detect(root):
            log.info("%s: detected dataset format %s", root, dataset_format.name)
            return dataset_format
    layouts = "\n".join(f"  {f.name}: {f.layout}" for f in FORMATS.values())
    raise DatasetLayoutError(f"{root} matches no dataset layout; expected one of:\n{layouts}")


def load_split(
    format_name: str, root: Path, split: str, spec: PreprocessSpec, options: DataOptions | None = None
) -> CropSet:
    """Decode one split into memory, minus ``options.exclude_classes``."""
    options = options or DataOptions()
    dataset_format = resolve_format(format_name, Path(root))
    crops = dataset_format.load(Path(root), split, spec, options).without_classes(options.exclude_classes)
    if len(crops) == 0:
        raise DatasetLayoutError(f"{root}: split {split!r} has no usable images")
    log.info("%s", crops.summary())
    return crops


__all__ = ["FORMATS", "FORMAT_CHOICES", "CropSet", "DataOptions", "DatasetFormat",
           "DatasetLayoutError", "load_split", "resolve_format"]
