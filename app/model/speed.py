"""Each model's inference time for one face on this machine, measured once and remembered.

The model menu shows it beside the accuracy, so a user can see which models keep up with
a camera here before choosing one: the most accurate (an ensemble) is also among the
slowest. A figure belongs to one file and one machine:
it is remembered in the user's cache folder under the file's path, size and modification
time and the machine's processor, and measured again when any of them changes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from app.model.inference import EmotionClassifier
from app.model.providers import CPU
from app.system.logs import user_cache_dir

log = logging.getLogger(__name__)

WARM_UP_RUNS, TIMED_RUNS = 3, 10
CACHE_FILE = "model-latency.json"


def _key(path: Path) -> str:
    status = path.stat()
    return (f"{path.resolve()}|{status.st_size}|{status.st_mtime_ns}|{platform.machine()}|"
            f"{platform.processor() or '-'}|{os.cpu_count()}")


def _cache(folder: Path | None) -> Path:
    return (folder or user_cache_dir()) / CACHE_FILE


def _read(cache: Path) -> dict[str, float]:
    try:
        found = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {key: float(value) for key, value in found.items() if isinstance(value, (int, float))} \
        if isinstance(found, dict) else {}


def remembered_ms(path: str | Path, cache_dir: Path | None = None) -> float | None:
    """The milliseconds measured for ``path`` on this machine, or None if not yet."""
    try:
        return _read(_cache(cache_dir)).get(_key(Path(path)))
    except OSError:
        return None


def measure_ms(path: str | Path, cache_dir: Path | None = None) -> float:
    """Time one face through ``path`` on the CPU (median of ``TIMED_RUNS``), remember it
    and return it. Raises ModelCardError for a file that cannot run."""
    path = Path(path)
    classifier = EmotionClassifier(path, [CPU], max_batch=1)
    spec = classifier.spec
    face = np.zeros((1, spec.channels, *spec.input_size), np.float32)
    times = []
    for run in range(WARM_UP_RUNS + TIMED_RUNS):
        start = time.perf_counter()
        classifier.logits(face)
        if run >= WARM_UP_RUNS:
            times.append((time.perf_counter() - start) * 1000.0)
    milliseconds = statistics.median(times)
    cache = _cache(cache_dir)
    try:
        remembered = _read(cache)
        remembered[_key(path)] = milliseconds
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f".{cache.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(remembered, indent=1), encoding="utf-8")
        os.replace(partial, cache)
    except OSError as error:  # a read-only cache: the figure is still shown this time
        log.info("cannot remember the latency of %s: %s", path, error)
    return milliseconds


def speed_text(milliseconds: float | None) -> str:
    """"2.4 ms/face here" for the menu; "speed: measuring..." until it is known."""
    if milliseconds is None:
        return "speed: measuring\u2026"
    if not math.isfinite(milliseconds):  # the measurement failed (logged)
        return "speed unknown"
    shown = f"{milliseconds:.1f}" if milliseconds < 10 else f"{milliseconds:.0f}"
    return f"{shown} ms/face here"
