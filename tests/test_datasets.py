"""Dataset loaders on the real FER2013 tree and on small files written in each release's layout."""

import csv

import cv2
import numpy as np
import pytest

from app.face.alignment import DEFAULT_TEMPLATE_ID
from app.face.preprocess import PreprocessSpec, prepare_crop
from training.data import DataOptions, DatasetLayoutError, load_split, resolve_format
from training.data.ckplus import CKPLUS_LABELS, subject_split
from training.data.fer_csv import FERPLUS_LABELS, FERPLUS_VOTE_COLUMNS, ferplus_target
from training.data.labels import FER2013_LABELS
from training.data.rafdb import RAFDB_LABELS

GRAY = PreprocessSpec((48, 48), 1, "gray", (0.5,), (0.25,), False, DEFAULT_TEMPLATE_ID)
RGB = PreprocessSpec((40, 40), 3, "rgb", (0.5,) * 3, (0.25,) * 3, False, DEFAULT_TEMPLATE_ID)


def pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)


def write_fer_csv(path, rows):
    """rows: (emotion, pixel array, Usage)."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["emotion", "pixels", "Usage"])
        for emotion, image, usage in rows:
            writer.writerow([emotion, " ".join(map(str, image.ravel())), usage])


def test_real_fer2013_tree(fer2013_root):
    crops = load_split("auto", fer2013_root, "val", GRAY, DataOptions(limit_per_class=3, seed=1))
    assert crops.dataset == "FER2013" and crops.labels == FER2013_LABELS
    assert crops.crops.shape == (21, 48, 48, 1) and crops.crops.dtype == np.uint8
    assert crops.class_counts().tolist() == [3] * 7
    again = load_split("image-tree", fer2013_root, "val", GRAY, DataOptions(limit_per_class=3, seed=1))
    np.testing.assert_array_equal(crops.crops, again.crops)
    for split, images in {"train": 28_709, "val": 3_589, "test": 3_589}.items():
        counted = sum(1 for path in (fer2013_root / split).rglob("*") if path.is_file())
        assert counted == images, f"FER2013 {split} should hold {images} images, found {counted}"
    test = load_split("auto", fer2013_root, "test", GRAY, DataOptions(limit_per_class=3, seed=1))
    assert test.labels == FER2013_LABELS and test.class_counts().tolist() == [3] * 7
    assert not set(map(bytes, test.crops)) & set(map(bytes, crops.crops)), "test and val share crops"
    with pytest.raises(DatasetLayoutError, match="no split 'holdout'.*<root>/<split>/<class>"):
        load_split("auto", fer2013_root, "holdout", GRAY)


def test_image_tree_orders_classes_and_maps_synonyms(tmp_path):
    for split, names in {"train": ["happiness", "anger", "neutral"], "val": ["anger"]}.items():
        for index, name in enumerate(names):
            (tmp_path / split / name).mkdir(parents=True)
            cv2.imwrite(str(tmp_path / split / name / f"{index}.png"), pixels(index))
    train = load_split("auto", tmp_path, "train", RGB)
    assert train.labels == FER2013_LABELS
    assert [train.labels[target] for target in train.targets] == ["angry", "happy", "neutral"]
    assert train.crops.shape == (3, 40, 40, 3)
    np.testing.assert_array_equal(train.crops[0], prepare_crop(pixels(1), RGB))
    other = tmp_path / "other"
    for name in ("cat", "dog"):
        (other / "train" / name).mkdir(parents=True)
        cv2.imwrite(str(other / "train" / name / "a.png"), pixels(0))
    assert load_split("image-tree", other, "train", GRAY).labels == ("cat", "dog")
    (other / "val" / "cat").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match="holds no images"):
        load_split("image-tree", other, "val", GRAY)


def test_fer2013_csv_reads_usage_as_splits(tmp_path):
    rows = [(3, pixels(0), "Training"), (0, pixels(1), "PublicTest"), (6, pixels(2), "Training"),
            (5, pixels(3), "PrivateTest")]
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    assert resolve_format("auto", tmp_path).name == "fer2013-csv"
    train = load_split("fer2013-csv", tmp_path, "train", GRAY)
    assert train.labels == FER2013_LABELS and train.targets.tolist() == [3, 6]
    np.testing.assert_array_equal(train.crops[1][:, :, 0], pixels(2))
    assert load_split("auto", tmp_path / "fer2013.csv", "val", GRAY).targets.tolist() == [0]
    assert load_split("auto", tmp_path, "test", GRAY).targets.tolist() == [5]
    write_fer_csv(tmp_path / "fer2013.csv", [(3, pixels(0)[:40], "Training")])
    with pytest.raises(DatasetLayoutError, match=r"fer2013.csv:2: pixels must be 2304"):
        load_split("fer2013-csv", tmp_path, "train", GRAY)
    (tmp_path / "fer2013.csv").write_text("label,image\n1,2\n")
    with pytest.raises(DatasetLayoutError, match="emotion,pixels,Usage"):
        load_split("fer2013-csv", tmp_path, "train", GRAY)


def test_ferplus_votes_majority_and_soft(tmp_path):
    votes = [  # neutral happiness surprise sadness anger disgust fear contempt unknown NF
        [0, 9, 1, 0, 0, 0, 0, 0, 0, 0],  # happy; the single surprise vote is noise
        [4, 0, 0, 4, 0, 0, 0, 2, 0, 0],  # no majority: soft only
        [0, 0, 0, 0, 0, 0, 0, 0, 6, 4],  # unknown wins: dropped
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face: dropped
        [0, 0, 0, 0, 0, 0, 0, 8, 0, 2],  # contempt
        [0, 0, 10, 0, 0, 0, 0, 0, 0, 0],  # surprise, but FER+ left the name empty
        [2, 0, 0, 0, 8, 0, 0, 0, 0, 0],  # angry, in the val split
    ]
    usages = ["Training"] * 6 + ["PublicTest"]
    write_fer_csv(tmp_path / "fer2013.csv", [(0, pixels(i), u) for i, u in enumerate(usages)])
    with (tmp_path / "fer2013new.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Usage", "Image name", *FERPLUS_VOTE_COLUMNS])
        for index, (row, usage) in enumerate(zip(votes, usages)):
            writer.writerow([usage, "" if index == 5 else f"fer{index:07d}.png", *row])
    assert resolve_format("auto", tmp_path).name == "ferplus"
    majority = load_split("auto", tmp_path, "train", GRAY)
    assert majority.dataset == "FER+" and majority.labels == FERPLUS_LABELS
    assert [majority.labels[t] for t in majority.targets] == ["happy", "contempt"]
    np.testing.assert_array_equal(majority.crops[1][:, :, 0], pixels(4))
    soft = load_split("ferplus", tmp_path, "train", GRAY, DataOptions(soft_labels=True))
    assert len(soft) == 3
    np.testing.assert_allclose(soft.soft_targets[1], [0.4, 0, 0, 0.4, 0, 0, 0, 0.2], atol=1e-6)
    np.testing.assert_allclose(soft.soft_targets[0], [0, 1, 0, 0, 0, 0, 0, 0])
    seven = load_split("ferplus", tmp_path, "train", GRAY,
                       DataOptions(soft_labels=True, exclude_classes=("contempt",)))
    assert "contempt" not in seven.labels and np.allclose(seven.soft_targets.sum(axis=1), 1)
    assert load_split("ferplus", tmp_path, "val", GRAY).targets.tolist() == [FERPLUS_LABELS.index("angry")]
    assert ferplus_target(np.array([1.0] * 10), soft=True) is None  # all single votes: noise
    write_fer_csv(tmp_path / "fer2013.csv", [(0, pixels(0), "Training")])
    with pytest.raises(DatasetLayoutError, match="different row counts"):
        load_split("ferplus", tmp_path, "train", GRAY)


def write_rafdb(root, entries):
    (root / "EmoLabel").mkdir(parents=True)
    (root / "Image" / "aligned").mkdir(parents=True)
    lines = []
    for index, (name, label) in enumerate(entries):
        lines.append(f"{name} {label}")
        colour = np.random.default_rng(index).integers(0, 256, (100, 100, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "Image" / "aligned" / name.replace(".jpg", "_aligned.jpg")), colour)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")


def test_rafdb_basic_layout(tmp_path):
    root = tmp_path / "basic"
    write_rafdb(root, [("train_00001.jpg", 1), ("train_00002.jpg", 4), ("test_0001.jpg", 7)])
    assert resolve_format("auto", tmp_path).name == "rafdb"
    train = load_split("auto", tmp_path, "train", RGB)
    assert train.dataset == "RAF-DB" and train.labels == RAFDB_LABELS
    assert [train.labels[t] for t in train.targets] == ["surprise", "happy"]
    assert train.crops.shape == (2, 40, 40, 3)
    test = load_split("rafdb", root, "test", GRAY)
    assert [test.labels[t] for t in test.targets] == ["neutral"]
    with pytest.raises(DatasetLayoutError, match=r"valid: \['train', 'test'\]"):
        load_split("rafdb", root, "val", GRAY)
    (root / "Image" / "aligned" / "test_0001_aligned.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match="missing"):
        load_split("rafdb", root, "test", GRAY)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 9\n")
    with pytest.raises(DatasetLayoutError, match="label 1-7"):
        load_split("rafdb", root, "train", GRAY)


def test_ckplus_splits_by_subject_and_aligns_frames(tmp_path, single_face_image):
    subjects = [f"S{index:03d}" for index in range(5, 10)]
    for number, subject in enumerate(subjects):
        sequence = tmp_path / "cohn-kanade-images" / subject / "001"
        sequence.mkdir(parents=True)
        for frame in (1, 2):
            cv2.imwrite(str(sequence / f"{subject}_001_{frame:08d}.png"), single_face_image)
        labels = tmp_path / "Emotion" / subject / "001"
        labels.mkdir(parents=True)
        (labels / f"{subject}_001_00000002_emotion.txt").write_text(f"   {number % 7 + 1}.0000000e+00\n")
    assignment = subject_split(subjects)
    assert sorted(assignment.values()) == ["test", "train", "train", "train", "val"]
    options = DataOptions(ckplus_peak_frames=1)
    splits = {split: load_split("auto", tmp_path, split, GRAY, options) for split in ("train", "val", "test")}
    assert sum(len(crops) for crops in splits.values()) == 10
    emotions = {subject: number % 7 + 1 for number, subject in enumerate(subjects)}
    for split, crops in splits.items():
        assert crops.dataset == "CK+" and crops.labels == CKPLUS_LABELS
        expected = [target for subject in subjects if assignment[subject] == split
                    for target in (0, emotions[subject])]  # first frame neutral, last the emotion
        assert sorted(crops.targets.tolist()) == sorted(expected)
        assert crops.crops.shape[1:] == (48, 48, 1)
        assert 40 < crops.crops.mean() < 220 and crops.crops.std() > 20  # a face, not padding
    with pytest.raises(DatasetLayoutError, match="cohn-kanade-images"):
        load_split("ckplus", tmp_path / "Emotion", "train", GRAY)


def test_unknown_layout_lists_every_expected_one(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(DatasetLayoutError) as error:
        resolve_format("auto", tmp_path)
    for name in ("ferplus", "fer2013-csv", "rafdb", "ckplus", "image-tree"):
        assert name in str(error.value)
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        resolve_format("auto", tmp_path / "missing")


def test_exclude_classes_reindexes(tmp_path):
    rows = [(0, pixels(0), "Training"), (1, pixels(1), "Training"), (6, pixels(2), "Training")]
    write_fer_csv(tmp_path / "fer2013.csv", rows)
    crops = load_split("auto", tmp_path, "train", GRAY, DataOptions(exclude_classes=("disgust",)))
    assert crops.labels == tuple(label for label in FER2013_LABELS if label != "disgust")
    assert [crops.labels[t] for t in crops.targets] == ["angry", "neutral"]
    with pytest.raises(ValueError, match="cannot exclude"):
        load_split("auto", tmp_path, "train", GRAY, DataOptions(exclude_classes=("bored",)))
