"""Teacher probabilities for distillation: exported models scored once over a split, cached.

    emotion-train soft-labels models_onnx/a.onnx models_onnx/b.onnx --data fer2013 --out teacher.npz
    emotion-train train --arch mini_xception --data fer2013 --teacher teacher.npz

Each teacher runs exactly as in the app (``training.evaluate``: its own card's input
size, gamma and normalisation, ONNX Runtime), read over every test-time view its card
chose (``--views all``, ``app.model.views``). The teachers' probabilities are averaged (optionally
weighted) per image and stored with each teacher's own, its weights' SHA-256, and a
fingerprint of the split (image count, a digest of the class indices), so a student
trains against them for as many epochs as it likes at the cost of one pass per teacher,
and a cache made for another split or subset is refused instead of silently misaligned.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.system.output_files import Staged
from training.data import CropSet, DataOptions
from training.evaluate import classifier_for, load_for, tensor_batches
from training.export import weights_sha256

log = logging.getLogger(__name__)


def split_fingerprint(crops: CropSet) -> str:
    """What identifies a split's sample order: its size and a digest of its class indices."""
    digest = hashlib.sha256(np.ascontiguousarray(crops.targets, dtype=np.int64).tobytes()).hexdigest()
    return f"{crops.dataset}/{crops.split}/{len(crops)}/{digest[:16]}"


@dataclass(frozen=True)
class TeacherProbabilities:
    labels: tuple[str, ...]
    """Class order of ``probabilities``: the dataset's."""
    probabilities: np.ndarray
    """(N, K) float32: the teachers' weighted mean, rows summing to 1."""
    members: tuple[str, ...]
    """Each teacher's file name."""
    member_sha256: tuple[str, ...]
    weights: tuple[float, ...]
    member_probabilities: np.ndarray
    """(M, N, K) float16: each teacher's own, to re-weight without re-running them."""
    fingerprint: str
    targets: np.ndarray
    """(N,) the split's class indices, to score the teacher and check alignment."""

    @property
    def accuracy(self) -> float:
        return float((self.probabilities.argmax(axis=1) == self.targets).mean())

    def save(self, path: str | Path) -> Path:
        with Staged(Path(path)) as stage, open(stage.path, "xb") as file:  # a file: no .npz added
            self._write(file)
            file.close()
            return stage.commit()

    def _write(self, file) -> None:
        np.savez_compressed(file, labels=np.array(self.labels), probabilities=self.probabilities,
                            members=np.array(self.members), member_sha256=np.array(self.member_sha256),
                            weights=np.array(self.weights, np.float64),
                            member_probabilities=self.member_probabilities,
                            fingerprint=np.array(self.fingerprint), targets=self.targets)

    @classmethod
    def load(cls, path: str | Path) -> TeacherProbabilities:
        try:
            with np.load(Path(path), allow_pickle=False) as saved:
                return cls(tuple(str(label) for label in saved["labels"]),
                           saved["probabilities"].astype(np.float32),
                           tuple(str(name) for name in saved["members"]),
                           tuple(str(sha) for sha in saved["member_sha256"]),
                           tuple(float(weight) for weight in saved["weights"]),
                           saved["member_probabilities"], str(saved["fingerprint"]),
                           saved["targets"].astype(np.int64))
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{path}: not a soft-label file of emotion-train soft-labels "
                             f"({error})") from None

    def check_matches(self, crops: CropSet) -> None:
        """Refuse a cache made for another split, subset or class order."""
        if self.labels != crops.labels:
            raise ValueError(f"teacher labels {list(self.labels)} differ from the dataset's "
                             f"{list(crops.labels)}")
        if self.fingerprint != split_fingerprint(crops):
            raise ValueError(f"the teacher probabilities were made for {self.fingerprint}, not "
                             f"{split_fingerprint(crops)}: remake them with emotion-train soft-labels "
                             "on the same data and options")

    def split(self) -> list[TeacherProbabilities]:
        """One single-teacher entry per member, to be averaged again with others."""
        return [TeacherProbabilities(self.labels, own.astype(np.float32), (name,), (sha,), (1.0,),
                                     own[None], self.fingerprint, self.targets)
                for name, sha, own in zip(self.members, self.member_sha256, self.member_probabilities)]

    @classmethod
    def average(cls, members: list[TeacherProbabilities], weights: list[float] | None = None
                ) -> TeacherProbabilities:
        """The weighted mean of single-teacher entries made over the same split."""
        weights = list(weights) if weights else [1.0] * len(members)
        if len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"need one non-negative weight per teacher ({len(members)}), not all "
                             f"zero; got {weights}")
        if len({(member.fingerprint, member.labels) for member in members}) > 1:
            raise ValueError("the teachers saw different samples or classes: "
                             f"{sorted({member.fingerprint for member in members})}")
        stacked = np.stack([member.probabilities for member in members])
        mean = np.tensordot(np.asarray(weights, np.float64) / sum(weights), stacked, axes=1)
        first = members[0]
        return cls(first.labels, (mean / mean.sum(axis=1, keepdims=True)).astype(np.float32),
                   tuple(name for member in members for name in member.members),
                   tuple(sha for member in members for sha in member.member_sha256), tuple(weights),
                   stacked.astype(np.float16), first.fingerprint, first.targets)

    def describe(self) -> str:
        return " + ".join(f"{weight:g} x {name}" for name, weight in zip(self.members, self.weights))


def member_probabilities(path: Path, data: Path, split: str, dataset: str, options: DataOptions,
                         batch_size: int = 256) -> tuple[np.ndarray, CropSet, str]:
    """One teacher's (N, K) probabilities over a split in the dataset's class order."""
    classifier = classifier_for(path)
    crops = load_for(classifier, data, split, dataset, options)
    if set(classifier.labels) != set(crops.labels):
        raise ValueError(f"{path.name}: labels {list(classifier.labels)} are not the dataset's "
                         f"{list(crops.labels)}")
    order = [classifier.labels.index(label) for label in crops.labels]
    probabilities = np.empty((len(crops), len(crops.labels)), np.float32)
    for start, batch in tensor_batches(classifier, crops, np.arange(len(crops)), batch_size):
        probabilities[start: start + len(batch)] = classifier.predict(batch, "all").probabilities[:, order]
    accuracy = float((probabilities.argmax(axis=1) == crops.targets).mean())
    log.info("%s on %s %s: %.2f %% (the teacher's own accuracy on this split)", path.name,
             crops.dataset, split, 100 * accuracy)
    return probabilities, crops, weights_sha256(path)


def make_teacher(paths: list[Path], data: Path, split: str = "train", dataset: str = "auto",
                 options: DataOptions | None = None, weights: list[float] | None = None
                 ) -> TeacherProbabilities:
    """Score every ONNX teacher over the split once (an ``.npz`` of an earlier pass brings its
    teachers as they are) and average their probabilities."""
    if not paths:
        raise ValueError("give at least one teacher model")
    options = options or DataOptions()
    members: list[TeacherProbabilities] = []
    for path in map(Path, paths):
        if path.suffix == ".npz":
            members += TeacherProbabilities.load(path).split()
            continue
        probabilities, crops, sha = member_probabilities(path, data, split, dataset, options)
        members.append(TeacherProbabilities(
            crops.labels, probabilities, (path.name,), (sha,), (1.0,), probabilities[None].astype(np.float16),
            split_fingerprint(crops), crops.targets))
    return TeacherProbabilities.average(members, weights)
