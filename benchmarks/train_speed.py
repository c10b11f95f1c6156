"""Training-step speed on this machine for each layout the CPU runs natively.

    python benchmarks/train_speed.py --arch vgg16_gcca_pdra --batch 128 --threads 2

Times full training steps (forward, cross-entropy, backward, SGD) on random inputs of
the architecture's size in each precision and memory layout that ``emotion-train
train`` would try on this CPU (``training.cpu_plan``: bf16 only where AMX or AVX-512
BF16 runs it natively), and prints images per second and the implied seconds per
FER2013 epoch (28,709 training images) for each, the fastest marked.
"""

from __future__ import annotations

import argparse

import torch

from training.cpu_plan import CpuCapability, candidate_layouts, images_per_second
from training.models import ARCHITECTURES

FER2013_TRAIN_IMAGES = 28_709


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mini_xception", choices=sorted(ARCHITECTURES))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = CpuCapability.detect()
    print(f"{args.arch}, batch {args.batch}, {torch.get_num_threads()} threads, {cpu.describe()}, "
          f"torch {torch.__version__}")
    size = ARCHITECTURES[args.arch].input_size
    speeds = {layout.name: images_per_second(args.arch, layout, args.batch, size, 1, steps=args.steps)
              for layout in candidate_layouts(cpu, allow_bf16=True, allow_channels_last=True)}
    fastest = max(speeds, key=speeds.get)
    for name, speed in speeds.items():
        print(f"  {name:24s} {speed:8.1f} images/s  {FER2013_TRAIN_IMAGES / speed:7.1f} s/epoch"
              + ("  (fastest)" if name == fastest else ""))


if __name__ == "__main__":
    main()
