"""Decoded crops as PyTorch batches: augmentation, ``to_tensor``, and reproducible order.

Reproducibility is by construction rather than by saved state: an epoch's sample order
is a permutation seeded by (seed, epoch), and a sample's augmentation draws from a
generator seeded by (seed, epoch, index). Neither depends on how many loader workers
run, on which rank of a distributed run loads the sample, or on whether the run was
interrupted and resumed mid-epoch. The batch samplers yield ``(epoch, index)`` keys so
persistent workers need no epoch bookkeeping.
"""

from __future__ import annotations

import math
import signal

import numpy as np
import torch
from torch.utils.data import Dataset

from app.face.preprocess import PreprocessSpec, to_tensor
from training.augment import Augmenter
from training.data.base import CropSet


class CropDataset(Dataset):
    """Index ``(epoch, index)`` -> (float32 (C, H, W) tensor, target), plus the teacher's
    (K,) probabilities of the sample when distilling."""

    def __init__(
        self,
        crops: CropSet,
        spec: PreprocessSpec,
        augmenter: Augmenter | None = None,
        seed: int = 0,
        soft_targets: bool = False,
        teacher: np.ndarray | None = None,
    ) -> None:
        if soft_targets and crops.soft_targets is None:
            raise ValueError(f"{crops.dataset} {crops.split} has no soft labels")
        if teacher is not None and teacher.shape != (len(crops), len(crops.labels)):
            raise ValueError(f"teacher probabilities {teacher.shape} do not fit {len(crops)} samples "
                             f"of {len(crops.labels)} classes")
        self.crops, self.spec, self.augmenter, self.seed = crops, spec, augmenter, seed
        self.soft_targets, self.teacher = soft_targets, teacher

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, key: tuple[int, int] | int):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        crop = self.crops.crops[index]
        if self.augmenter is not None:
            crop = self.augmenter(crop, np.random.default_rng((self.seed, epoch, index)))
        tensor, _ = to_tensor(crop, self.spec)
        target = (torch.from_numpy(self.crops.soft_targets[index]) if self.soft_targets
                  else int(self.crops.targets[index]))
        if self.teacher is None:
            return torch.from_numpy(tensor), target
        return torch.from_numpy(tensor), target, torch.from_numpy(self.teacher[index])


class TrainBatches:
    """Batch sampler: a seeded permutation per epoch, cut into global batches split across ranks.

    Each global batch of ``batch_size`` samples is the same whatever the number of
    ranks; rank ``r`` of ``world`` loads its ``r``-th slice. The last incomplete batch
    is dropped (a batch of one breaks batch normalisation).
    ``set_epoch(epoch, skip)`` starts the epoch after ``skip`` batches (mid-epoch resume).
    """

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} must divide among {world} processes")
        if size < batch_size:
            raise ValueError(f"{size} training images do not fill one batch of {batch_size}; "
                             "use a smaller --batch")
        self.size, self.batch_size, self.seed, self.rank, self.world = size, batch_size, seed, rank, world
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    @property
    def batches_per_epoch(self) -> int:
        return self.size // self.batch_size

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.skip)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        per_rank = self.batch_size // self.world
        for batch in range(self.skip, self.batches_per_epoch):
            start = batch * self.batch_size + self.rank * per_rank
            yield [(self.epoch, index) for index in order[start: start + per_rank]]


class EvalBatches:
    """Batch sampler for evaluation: rank ``r`` takes samples ``r, r + world, ...``, no padding."""

    def __init__(self, size: int, batch_size: int, rank: int = 0, world: int = 1) -> None:
        self.indices = list(range(rank, size, world))
        self.batch_size = batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def __iter__(self):
        for start in range(0, len(self.indices), self.batch_size):
            yield self.indices[start: start + self.batch_size]


def ignore_interrupts(worker_id: int) -> None:
    """Loader workers leave Ctrl-C to the main process, which saves and stops cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
