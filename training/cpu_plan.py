"""How a training uses the machine it is on: precision, memory layout and threads.

CPUs differ in what makes a training step fast. Where the CPU has matrix units (AMX) or
AVX-512 BF16, bf16 autocast runs the convolutions on them; without either, bf16 is
emulated and slower than fp32. Channels-last memory helps plain convolutions and hurts
some layers (grouped, dynamic or depthwise ones, depending on the oneDNN kernels that
exist for the CPU). No table written on one machine holds on the next, so a run measures:
a few real training steps of its own architecture, batch and input size in each layout
the CPU supports natively, and takes the fastest. The result is cached per CPU, torch
version and configuration, so later runs and resumptions start at once.

Threads follow the load: OpenMP threads wait for each other at every operation, so one
thread descheduled by other work stalls them all, and on a busy two-core machine two
threads can train ten times slower than one. ``ThreadGovernor`` measures, between
batches, how much CPU the rest of the machine uses and runs as many threads as there
are idle cores, up to the run's ceiling.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from app.batch.local import available_cores
from app.system.output_files import write_bytes_staged
from training.models import build_model
from training.optimisation import Precision, place

log = logging.getLogger(__name__)

PROBE_STEPS = 5


@dataclass(frozen=True)
class CpuCapability:
    """What this CPU offers a training step."""

    name: str
    isa: str
    """PyTorch's kernel level (``torch.backends.cpu.get_cpu_capability()``): AVX512, AVX2..."""
    amx_bf16: bool
    avx512_bf16: bool
    cores: int

    @property
    def native_bf16(self) -> bool:
        return self.amx_bf16 or self.avx512_bf16

    def describe(self) -> str:
        units = [unit for unit, present in (("AMX bf16", self.amx_bf16),
                                            ("AVX-512 BF16", self.avx512_bf16)) if present]
        return (f"{self.name}, {self.cores} cores, {self.isa}"
                + (f" with {' and '.join(units)}" if units else ", no native bf16"))

    @classmethod
    def detect(cls, cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuCapability:
        name, flags = "unknown CPU", set()
        try:
            for line in cpuinfo.read_text(errors="replace").splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name == "unknown CPU":
                    name = " ".join(value.split())
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
        except OSError:  # not Linux: no flags, so bf16 counts as emulated
            pass
        return cls(name, torch.backends.cpu.get_cpu_capability(), "amx_bf16" in flags,
                   "avx512_bf16" in flags, available_cores())


@dataclass(frozen=True)
class Layout:
    """One way to run a CPU training step."""

    precision: str
    """``fp32`` or ``bf16`` (autocast)."""
    channels_last: bool

    @property
    def name(self) -> str:
        return self.precision + (" + channels-last" if self.channels_last else "")

    def as_precision(self) -> Precision:
        return Precision("cpu", torch.bfloat16 if self.precision == "bf16" else None)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


@dataclass(frozen=True)
class CpuPlan:
    layout: Layout
    images_per_second: dict[str, float]
    """Measured speed of each layout tried (empty when only one was allowed)."""
    reason: str


def candidate_layouts(cpu: CpuCapability, allow_bf16: bool, allow_channels_last: bool) -> list[Layout]:
    precisions = ["fp32"] + (["bf16"] if allow_bf16 and cpu.native_bf16 else [])
    formats = [False] + ([True] if allow_channels_last else [])
    return [Layout(precision, channels_last) for precision in precisions for channels_last in formats]


def images_per_second(arch: str, layout: Layout, batch: int, input_size: int, channels: int,
                      ablate: tuple[str, ...] = (), steps: int = PROBE_STEPS) -> float:
    """Training steps (forward, cross-entropy, backward, SGD) on random inputs after two
    warm-up steps; the fastest step counts, as other work on the machine only slows steps."""
    torch.manual_seed(0)
    model = place(build_model(arch, in_channels=channels, input_size=input_size,
                              ablate=frozenset(ablate)), torch.device("cpu"), layout.memory_format).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    images = torch.randn(batch, channels, input_size, input_size).contiguous(
        memory_format=layout.memory_format)
    targets = torch.randint(0, 7, (batch,))
    precision = layout.as_precision()

    def step() -> None:
        with precision.autocast():
            loss = F.cross_entropy(model(images).float(), targets)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    step()
    step()
    fastest = float("inf")
    for _ in range(steps):
        started = time.perf_counter()
        step()
        fastest = min(fastest, time.perf_counter() - started)
    return batch / fastest


def plan_cpu(arch: str, batch: int, input_size: int, channels: int, threads: int,
             ablate: tuple[str, ...] = (), allow_bf16: bool = True, allow_channels_last: bool = True,
             cache: Path | None = None, cpu: CpuCapability | None = None,
             measure=images_per_second) -> CpuPlan:
    """The fastest layout for this architecture on this CPU, measured or read from ``cache``."""
    cpu = cpu or CpuCapability.detect()
    layouts = candidate_layouts(cpu, allow_bf16, allow_channels_last)
    not_tried = ("" if cpu.native_bf16 or not allow_bf16 else
                 f"; bf16 not tried: {cpu.isa} has neither AMX nor AVX-512 BF16, so it would be emulated")
    if len(layouts) == 1:
        return CpuPlan(layouts[0], {}, f"the only layout allowed on {cpu.describe()}{not_tried}")
    key = "|".join(map(str, (cpu.name, cpu.isa, cpu.amx_bf16, cpu.avx512_bf16, torch.__version__, arch,
                             ",".join(ablate), batch, input_size, channels, threads,
                             ",".join(layout.name for layout in layouts))))
    cached = _read_cache(cache).get(key)
    if cached is None:
        torch.set_num_threads(threads)
        cached = {layout.name: round(measure(arch, layout, batch, input_size, channels, ablate), 1)
                  for layout in layouts}
        _write_cache(cache, key, cached)
        source = f"fastest of {PROBE_STEPS} training steps each"
    else:
        source = "measured earlier on this CPU"
    fastest = max(layouts, key=lambda layout: cached[layout.name])
    speeds = ", ".join(f"{name} {speed:.0f}" for name, speed in cached.items())
    return CpuPlan(fastest, cached, f"the fastest of {speeds} images/s ({source}, batch {batch}, "
                                    f"{threads} threads) on {cpu.describe()}{not_tried}")


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "emotion-live" / "cpu-plans.json"


def _read_cache(cache: Path | None) -> dict:
    if cache is None:
        return {}
    try:
        data = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(cache: Path | None, key: str, speeds: dict[str, float]) -> None:
    if cache is None:
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_staged(cache, json.dumps({**_read_cache(cache), key: speeds}, indent=1).encode())
    except OSError as error:  # an unwritable cache costs a probe next time, not the run
        log.debug("could not cache the CPU plan in %s: %s", cache, error)


class ThreadGovernor:
    """Runs as many PyTorch threads as there are idle cores, between 1 and ``ceiling``.

    ``update()`` is called between batches; every ``interval`` seconds it compares the
    whole machine's busy time (``/proc/stat``) with this process's own (``/proc/self/stat``)
    over the interval just past: the difference is what other work used. Where those
    files do not exist (not Linux) the thread count stays at the ceiling.
    """

    def __init__(self, ceiling: int, interval: float = 20.0, cores: int | None = None) -> None:
        self.ceiling, self.interval = max(1, ceiling), interval
        self.cores = cores or available_cores()
        self.threads = self.ceiling
        self._last = self._sample()
        torch.set_num_threads(self.threads)

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        """(monotonic seconds, machine busy seconds over all cores, this process's seconds)."""
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
            own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        values = [int(value) for value in fields]
        busy = sum(values) - values[3] - (values[4] if len(values) > 4 else 0)  # less idle, iowait
        return time.monotonic(), busy / ticks, (int(own[11]) + int(own[12])) / ticks

    def others_cores(self, before, after) -> float:
        """Cores' worth of CPU that other processes used between two samples."""
        elapsed = after[0] - before[0]
        return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / max(elapsed, 1e-6))

    def update(self) -> int:
        """The thread count to use now (changed, and logged, when the load changed)."""
        if self._last is None or time.monotonic() - self._last[0] < self.interval:
            return self.threads
        now = self._sample()
        if now is None:
            return self.threads
        others = self.others_cores(self._last, now)
        self._last = now
        wanted = min(self.ceiling, max(1, round(self.cores - others)))
        if wanted != self.threads:
            log.info("other work uses %.1f of %d cores: %d PyTorch threads instead of %d",
                     others, self.cores, wanted, self.threads)
            self.threads = wanted
            torch.set_num_threads(wanted)
        return self.threads
