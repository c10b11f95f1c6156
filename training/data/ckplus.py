"""CK+ (Lucey et al. 2010): posed sequences from neutral to peak, split by subject.

Layout of the release: ``cohn-kanade-images/S005/001/S005_001_00000011.png`` for the
frames and ``Emotion/S005/001/S005_001_00000011_emotion.txt`` holding one number,
1-7, for the 327 labelled sequences (0 neutral, 1 anger, 2 contempt, 3 disgust,
4 fear, 5 happy, 6 sadness, 7 surprise). As is usual for CK+, the last
``ckplus_peak_frames`` frames of a labelled sequence carry its emotion and its first
frame is neutral. Frames of one subject are near-duplicates, so subjects, never
frames, are split: a fixed shuffle of the subject ids assigns 80 % of them to train,
10 % to val and 10 % to test, the same on every machine. Frames are 640x490 photos,
not crops: the app's landmarker finds the face and ``crop_face`` aligns it to the
spec's template, exactly as the app aligns a live face.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from app.face.preprocess import PreprocessSpec
from training.data.base import (
    IMAGE_SUFFIXES,
    CropSet,
    DataOptions,
    DatasetLayoutError,
    align_frames,
    choose_per_class,
    decode_file,
    require,
)

IMAGES_DIR = "cohn-kanade-images"
EMOTION_DIR = "Emotion"
CKPLUS_LABELS = ("neutral", "angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
SPLIT_SEED = 0  # fixed: the subject split must not move with the training seed
LAYOUT = (f"<root>/{IMAGES_DIR}/<subject>/<sequence>/<frame>.png and "
          f"<root>/{EMOTION_DIR}/<subject>/<sequence>/<frame>_emotion.txt (the CK+ release)")


def labelled_sequences(root: Path) -> dict[str, list[tuple[Path, int]]]:
    """Subject id -> [(sequence folder, emotion 1-7)] for every labelled sequence."""
    images = require(root / IMAGES_DIR, "CK+ frames folder", LAYOUT)
    emotions = require(root / EMOTION_DIR, "CK+ emotion labels folder", LAYOUT)
    subjects: dict[str, list[tuple[Path, int]]] = {}
    for label_file in sorted(emotions.glob("*/*/*_emotion.txt")):
        subject, sequence = label_file.parent.parent.name, label_file.parent.name
        try:
            emotion = int(float(label_file.read_text().split()[0]))
        except (IndexError, ValueError):
            raise DatasetLayoutError(f"{label_file}: expected one number 1-7") from None
        if not 1 <= emotion < len(CKPLUS_LABELS):
            raise DatasetLayoutError(f"{label_file}: emotion {emotion} is not in 1-7")
        subjects.setdefault(subject, []).append((images / subject / sequence, emotion))
    if not subjects:
        raise DatasetLayoutError(f"{emotions} holds no */*/*_emotion.txt files; expected {LAYOUT}")
    return subjects


def subject_split(subjects: list[str]) -> dict[str, str]:
    """Subject id -> split, a fixed shuffle cut at 80 / 10 / 10 % (at least one each when possible)."""
    order = sorted(subjects)
    np.random.default_rng(SPLIT_SEED).shuffle(order)
    held_out = max(1, round(len(order) * SPLIT_FRACTIONS["val"])) if len(order) >= 3 else 0
    assignment = {subject: "val" for subject in order[:held_out]}
    assignment |= {subject: "test" for subject in order[held_out: 2 * held_out]}
    assignment |= {subject: "train" for subject in order[2 * held_out:]}
    return assignment


def frames_of(sequence: Path) -> list[Path]:
    frames = sorted(path for path in sequence.glob("*") if path.suffix.lower() in IMAGE_SUFFIXES)
    if not frames:
        raise DatasetLayoutError(f"{sequence} holds no frames; expected {LAYOUT}")
    return frames


def load(root: Path, split: str, spec: PreprocessSpec, options: DataOptions) -> CropSet:
    if split not in SPLIT_FRACTIONS:
        raise DatasetLayoutError(f"CK+ has no split {split!r}; valid: {list(SPLIT_FRACTIONS)}")
    if options.ckplus_peak_frames < 1:
        raise ValueError(f"ckplus_peak_frames must be at least 1, got {options.ckplus_peak_frames}")
    sequences = labelled_sequences(root)
    assignment = subject_split(list(sequences))
    items: list[tuple[Path, int]] = []
    for subject in sorted(sequences):
        if assignment[subject] != split:
            continue
        for sequence, emotion in sequences[subject]:
            frames = frames_of(sequence)
            items.append((frames[0], 0))
            items += [(frame, emotion) for frame in frames[1:][-options.ckplus_peak_frames:]]
    targets = np.array([target for _, target in items], np.int64)
    chosen = choose_per_class(targets, options.limit_per_class, options.seed)
    crops, kept_targets = align_frames([items[index] for index in chosen], spec, _read_frame)
    return CropSet("CK+", split, CKPLUS_LABELS, crops, kept_targets)


def _read_frame(path: Path) -> np.ndarray:
    return decode_file(path, cv2.IMREAD_COLOR)
