"""Training-step speed on this machine: float32 vs bf16 autocast, NCHW vs channels-last.

    python benchmarks/train_speed.py --arch mini_xception --batch 64 --threads 1

Times full training steps (forward, cross-entropy, backward, Adam) on random inputs
of the architecture's size, after warm-up steps, and prints milliseconds per step and
the implied seconds per FER2013 epoch (28,709 training images) for each variant. On a
CPU the variants differ in memory layout and autocast dtype; on CUDA bf16/fp16 autocast.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from training.models import ARCHITECTURES, build_model
from training.optimisation import choose_precision, place

FER2013_TRAIN_IMAGES = 28_709
VARIANTS = (("fp32", False, False), ("fp32 channels-last", False, True),
            ("bf16 autocast", True, False), ("bf16 autocast + channels-last", True, True))


def step_seconds(arch: str, batch: int, amp: bool, channels_last: bool, device: torch.device,
                 warmup: int, steps: int) -> float:
    torch.manual_seed(0)
    size = ARCHITECTURES[arch].input_size
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = place(build_model(arch), device, memory_format).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.randn(batch, 1, size, size, device=device).contiguous(memory_format=memory_format)
    targets = torch.randint(0, 7, (batch,), device=device)
    precision = choose_precision(device, amp)

    def step() -> None:
        with precision.autocast():
            loss = F.cross_entropy(model(images).float(), targets)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mini_xception", choices=sorted(ARCHITECTURES))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"{args.arch}, batch {args.batch}, {device}, {torch.get_num_threads()} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}")
    baseline = None
    for name, amp, channels_last in VARIANTS:
        seconds = step_seconds(args.arch, args.batch, amp, channels_last, device, args.warmup, args.steps)
        baseline = baseline or seconds
        epoch = seconds * FER2013_TRAIN_IMAGES / args.batch
        print(f"  {name:30s} {1000 * seconds:8.1f} ms/step  {epoch:7.1f} s/epoch  "
              f"x{baseline / seconds:.2f} vs fp32")


if __name__ == "__main__":
    main()
