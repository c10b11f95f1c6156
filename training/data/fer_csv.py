"""The original ``fer2013.csv`` and the FER+ relabelling ``fer2013new.csv``.

``fer2013.csv`` (Goodfellow et al. 2013) has one row per image: ``emotion`` (0-6 in
``FER2013_LABELS`` order), ``pixels`` (2,304 space-separated gray levels of a 48x48
crop) and ``Usage``: Training, PublicTest, PrivateTest, read as the splits train, val
and test. FER+ (Barsoum et al. 2016) keeps those pixels, row for row, and replaces
the label by ten annotators' votes over neutral, happiness, surprise, sadness, anger,
disgust, fear, contempt, unknown and not-a-face. As in Microsoft's FERPlus reference
code, a single vote for a class is treated as noise and removed; an image is dropped
when unknown or not-a-face has the most votes or when FER+ left its name empty.
Majority labels keep an image only when one emotion has more than half the votes;
soft labels keep the vote distribution over the eight emotions.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from app.face.preprocess import PreprocessSpec, prepare_crop
from training.data.base import CropSet, DataOptions, DatasetLayoutError, choose_per_class, model_crops
from training.data.labels import FER2013_LABELS

log = logging.getLogger(__name__)

FER2013_FILE = "fer2013.csv"
FERPLUS_FILE = "fer2013new.csv"
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SIDE = 48
FERPLUS_VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust",
                        "fear", "contempt", "unknown", "NF")
FERPLUS_LABELS = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")
"""FER+'s column order, in the app's label vocabulary."""

csv.field_size_limit(1 << 20)  # a pixels field is about 9 kB


def find_file(root: Path, name: str, expected: str) -> Path:
    """``root`` itself, ``root/name`` or ``root/*/name``; else an error naming the layout."""
    if root.is_file() and root.name == name:
        return root
    for candidate in [root / name, *sorted(root.glob(f"*/{name}"))] if root.is_dir() else []:
        if candidate.is_file():
            return candidate
    raise DatasetLayoutError(f"{root}: no {name} found. Expected {expected}")


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            raise DatasetLayoutError(f"{path}: columns {missing} missing (found "
                                     f"{reader.fieldnames}); expected header {','.join(required)}")
        yield from enumerate(reader, start=2)


def _split_of(path: Path, number: int, usage: str) -> str:
    try:
        return USAGE_TO_SPLIT[usage.strip()]
    except KeyError:
        raise DatasetLayoutError(f"{path}:{number}: Usage {usage!r} is not one of "
                                 f"{sorted(USAGE_TO_SPLIT)}") from None


def _pixels(path: Path, number: int, text: str) -> np.ndarray:
    pixels = np.array(text.split(), dtype=np.int64)
    if pixels.size != SIDE * SIDE or pixels.min(initial=0) < 0 or pixels.max(initial=0) > 255:
        raise DatasetLayoutError(f"{path}:{number}: pixels must be {SIDE * SIDE} gray levels "
                                 f"0-255, got {pixels.size} values")
    return pixels.astype(np.uint8).reshape(SIDE, SIDE)


def load_fer2013(root: Path, split: str, spec: PreprocessSpec, options: DataOptions) -> CropSet:
    _check_split(split)
    path = find_file(root, FER2013_FILE, "the Kaggle fer2013.csv (columns emotion,pixels,Usage)")
    images, targets = [], []
    for number, row in _rows(path, ("emotion", "pixels", "Usage")):
        if _split_of(path, number, row["Usage"]) != split:
            continue
        emotion = int(row["emotion"])
        if not 0 <= emotion < len(FER2013_LABELS):
            raise DatasetLayoutError(f"{path}:{number}: emotion {emotion} is not in 0-6")
        images.append(_pixels(path, number, row["pixels"]))
        targets.append(emotion)
    return _crop_set("FER2013", split, FER2013_LABELS, images, np.asarray(targets, np.int64),
                     None, spec, options)


def ferplus_target(votes: np.ndarray, soft: bool) -> tuple[int, np.ndarray] | None:
    """(majority class, distribution over the 8 emotions) from 10 vote counts, or None to drop."""
    votes = np.where(votes <= 1, 0.0, votes.astype(np.float64))  # single votes are noise
    total = votes.sum()
    if total <= 0:
        return None
    top = int(np.argmax(votes))
    if top >= len(FERPLUS_LABELS):  # unknown or not-a-face
        return None
    if not soft and votes[top] <= 0.5 * total:
        return None
    emotions = votes[: len(FERPLUS_LABELS)]
    return top, (emotions / emotions.sum()).astype(np.float32)


def load_ferplus(root: Path, split: str, spec: PreprocessSpec, options: DataOptions) -> CropSet:
    _check_split(split)
    expected = f"{FERPLUS_FILE} (FER+ votes) beside {FER2013_FILE} (its pixels), same rows in order"
    votes_path = find_file(root, FERPLUS_FILE, expected)
    pixels_path = find_file(root, FER2013_FILE, expected)
    vote_rows = _rows(votes_path, ("Usage", "Image name", *FERPLUS_VOTE_COLUMNS))
    pixel_rows = _rows(pixels_path, ("emotion", "pixels", "Usage"))
    images, targets, distributions, dropped = [], [], [], 0
    for (number, vote_row), pixel_row in _zip_rows(votes_path, vote_rows, pixels_path, pixel_rows):
        if vote_row["Usage"].strip() != pixel_row["Usage"].strip():
            raise DatasetLayoutError(f"{votes_path}:{number}: Usage {vote_row['Usage']!r} differs from "
                                     f"{pixels_path}'s {pixel_row['Usage']!r}; are they the same release?")
        if _split_of(votes_path, number, vote_row["Usage"]) != split:
            continue
        votes = np.array([float(vote_row[column] or 0) for column in FERPLUS_VOTE_COLUMNS])
        target = ferplus_target(votes, options.soft_labels) if vote_row["Image name"].strip() else None
        if target is None:
            dropped += 1
            continue
        images.append(_pixels(pixels_path, number, pixel_row["pixels"]))
        targets.append(target[0])
        distributions.append(target[1])
    log.info("FER+ %s: %d images kept, %d dropped (unknown, not a face, or no majority)",
             split, len(images), dropped)
    soft = np.stack(distributions) if options.soft_labels and distributions else None
    return _crop_set("FER+", split, FERPLUS_LABELS, images, np.asarray(targets, np.int64), soft,
                     spec, options)


def _zip_rows(votes_path, vote_rows, pixels_path, pixel_rows):
    sentinel = object()
    while True:
        vote, pixel = next(vote_rows, sentinel), next(pixel_rows, sentinel)
        if vote is sentinel and pixel is sentinel:
            return
        if vote is sentinel or pixel is sentinel:
            raise DatasetLayoutError(f"{votes_path} and {pixels_path} have different row counts; "
                                     "FER+ labels must match fer2013.csv row for row")
        yield vote, pixel[1]


def _check_split(split: str) -> None:
    if split not in USAGE_TO_SPLIT.values():
        raise DatasetLayoutError(f"no split {split!r} in FER2013's CSV; valid: "
                                 f"{list(USAGE_TO_SPLIT.values())} (Usage Training, PublicTest, PrivateTest)")


def _crop_set(dataset, split, labels, images, targets, soft, spec, options) -> CropSet:
    chosen = choose_per_class(targets, options.limit_per_class, options.seed)
    crops = model_crops([prepare_crop(images[index], spec) for index in chosen], spec)
    return CropSet(dataset, split, labels, crops, targets[chosen],
                   None if soft is None else soft[chosen])
