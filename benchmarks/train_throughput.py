"""Training throughput per architecture: ``emotion-train train``'s own loop against a bare step.

    python benchmarks/train_throughput.py > docs/results/train-throughput.md
    python benchmarks/train_throughput.py --arch yolov8_dyconv_gam --batches 20 --compile yolov8_dyconv_gam

For each architecture and each recipe (``paper``: its paper's batch; ``fast``: the fast
recipe's batch), with the threads given (default: every core) and the precision and
memory layout that ``emotion-train train`` measures as fastest on this CPU
(``training.cpu_plan``):

- **bare step**: forward, loss, backward and optimiser step on one fixed real batch, the
  most the loop could reach;
- **bare step, torch.compile**: the same with the model compiled by Inductor;
- **emotion-train**: the real ``Trainer.train_epoch`` over real FER2013 crops (sampling,
  augmentation, ``to_tensor``, the recipe's loss, scheduler and weight average), timed
  batch by batch through its stop poll, so nothing of the loop is left out;
- **validation**: ``Trainer.validate`` over the whole val split.

Seconds per epoch = training images / training rate + validation seconds. Warm-up
batches are not timed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

# Sibling script (this folder is on sys.path when the script runs).
from latency import markdown_table

from app.batch.local import available_cores
from training.cpu_plan import CpuCapability
from training.distributed import Context
from training.models import ARCHITECTURES
from training.recipes import recipe_for
from training.run_setup import build_parts
from training.settings import DataSettings, RunSettings, TrainSettings
from training.trainer import Trainer

WARMUP = 3


class BatchClock:
    """A stop request the trainer polls once per batch: records when each batch ended and asks
    to stop after ``limit`` batches."""

    def __init__(self, limit: int) -> None:
        self.limit, self.ends = limit, []

    @property
    def requested(self) -> bool:
        self.ends.append(time.perf_counter())
        return len(self.ends) >= self.limit

    def images_per_second(self, batch_size: int) -> float:
        timed = self.ends[WARMUP - 1:]
        return (len(timed) - 1) * batch_size / (timed[-1] - timed[0])


def trainer_for(arch: str, kind: str, data: Path, out: str, threads: int) -> Trainer:
    recipe = recipe_for(arch, kind)
    settings = TrainSettings(arch, recipe, DataSettings("auto", str(data)),
                             RunSettings(out, device="cpu", workers=0, threads=threads, progress=False),
                             ARCHITECTURES[arch].input_size)
    context = Context(torch.device("cpu"))
    return Trainer(settings, context, build_parts(settings, context, None, threads), "benchmark")


def bare_rate(trainer: Trainer, batches: int, compiled: bool) -> float:
    """Images per second of fixed-batch steps with the run's model, precision and layout."""
    parts, recipe = trainer.parts, trainer.settings.recipe
    model = parts.objective.model
    forward = torch.compile(model) if compiled else model
    images, targets = next(iter(parts.train_loader))[:2]
    images = images.contiguous(memory_format=parts.memory_format)
    optimiser = trainer.optimiser

    def step() -> None:
        with parts.precision.autocast():
            loss = F.cross_entropy(forward(images).float(), targets)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    model.train()
    for _ in range(WARMUP):
        step()
    started = time.perf_counter()
    for _ in range(batches):
        step()
    return batches * recipe.batch_size / (time.perf_counter() - started)


def measure(arch: str, kind: str, data: Path, batches: int, compiled: bool, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        trainer = trainer_for(arch, kind, data, out, threads)
        batch_size = trainer.settings.recipe.batch_size
        clock = BatchClock(WARMUP + batches)
        trainer.train_epoch(clock)
        loop = clock.images_per_second(batch_size)
        started = time.perf_counter()
        trainer.validate()
        validation = time.perf_counter() - started
        train_images = trainer.parts.train_batches.size
        bare = bare_rate(trainer, batches, compiled=False)
        compiled_rate = bare_rate(trainer, batches, compiled=True) if compiled else None
    layout = trainer.parts.precision.name + (
        " + channels-last" if trainer.parts.memory_format == torch.channels_last else "")
    return {"arch": arch, "kind": kind, "batch": batch_size, "precision": layout,
            "bare": bare, "compiled": compiled_rate, "loop": loop, "validation": validation,
            "epoch": train_images / loop + validation}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=sorted(ARCHITECTURES), choices=sorted(ARCHITECTURES))
    parser.add_argument("--recipes", nargs="+", default=["paper", "fast"], choices=("paper", "fast"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fer2013"))
    parser.add_argument("--batches", type=int, default=6, help="timed batches per measurement")
    parser.add_argument("--compile", nargs="*", default=["mini_xception"], metavar="ARCH",
                        help="architectures also timed under torch.compile (default: mini_xception; "
                             "Inductor takes minutes per large model on a small CPU)")
    parser.add_argument("--threads", type=int, default=available_cores(),
                        help="PyTorch CPU threads (default: every core)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    rows = [measure(arch, kind, args.data, args.batches, arch in args.compile, args.threads)
            for arch in args.arch for kind in args.recipes]
    print(f"Training throughput with {args.threads} threads on {CpuCapability.detect().describe()}, "
          f"torch {torch.__version__}; load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} at the end; images per second, "
          f"{args.batches} timed batches after {WARMUP} warm-up. Precision and layout: the "
          f"fastest that emotion-train measures on this CPU.\n")
    header = ["architecture", "recipe", "batch", "precision", "bare step (img/s)",
              "bare step, torch.compile (img/s)", "emotion-train (img/s)", "loop vs bare",
              "validation (s)", "s per FER2013 epoch"]
    print(markdown_table(header, [
        [row["arch"], row["kind"], str(row["batch"]), row["precision"], f"{row['bare']:.0f}",
         f"{row['compiled']:.0f}" if row["compiled"] else "-", f"{row['loop']:.0f}",
         f"{100 * row['loop'] / row['bare']:.0f} %", f"{row['validation']:.1f}", f"{row['epoch']:.0f}"]
        for row in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
