"""Which ONNX Runtime execution provider runs the models, decided by trying each one.

``onnxruntime.get_available_providers()`` lists what the installed build was compiled
with, not what can run: ``onnxruntime-gpu`` lists TensorRT and CUDA on a machine without
a GPU, without the CUDA libraries, or with a driver too old, and the first session then
silently falls back to the CPU. So each accelerator is probed for real, once per
process: a session is created with it on a tiny convolutional model (a convolution, so
cuDNN is exercised too), run once, and kept only if ONNX Runtime actually placed the
session on that provider and its output matches the CPU's. CUDA and TensorRT are not
tried where no NVIDIA driver is loaded: the report then says "no NVIDIA GPU found"
rather than blaming missing CUDA libraries. What the native libraries
print meanwhile (library-load errors go straight to the stderr file descriptor) is
captured into the log at DEBUG, never shown on the terminal; the report quotes the
decisive line. ``onnxruntime.preload_dlls()`` is called first when it exists, so CUDA
and cuDNN installed by pip (``onnxruntime-gpu[cuda,cudnn]``) are found.
"""

from __future__ import annotations

import base64
import ctypes
import functools
import logging
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.model.tensorrt_options import TENSORRT, tensorrt_options
from app.system.logs import log_file
from app.system.quiet import CapturedOutput, native_output_captured

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
COREML = "CoreMLExecutionProvider"
REQUESTS: dict[str, tuple[str, ...]] = {
    "auto": (TENSORRT, CUDA, COREML),
    "tensorrt": (TENSORRT,),
    "cuda": (CUDA,),
    "cpu": (),
}
"""``--provider`` value -> accelerators to try, in order; the CPU is always the fallback."""
NVIDIA = (TENSORRT, CUDA)
NO_GPU = "no NVIDIA GPU found (no NVIDIA driver is loaded)"

# Conv(1->4, 3x3) + Relu + GlobalAveragePool + Flatten on a [1, 1, 8, 8] input, opset 17.
# tests/test_providers.py rebuilds it with onnx.helper and checks these bytes.
PROBE_MODEL = base64.b64decode(
    "CAgSEmVtb3Rpb24tbGl2ZS1wcm9iZTrjAgoqCgF4CgZ3ZWlnaHQSBGNvbnYiBENvbnYqEQoEcGFkc0ABQAFAAUABoAEH"
    "ChIKBGNvbnYSBHJlbHUiBFJlbHUKHwoEcmVsdRIEcG9vbCIRR2xvYmFsQXZlcmFnZVBvb2wKHwoEcG9vbBIBeSIHRmxh"
    "dHRlbioLCgRheGlzGAGgAQISBXByb2JlKqUBCAQIAQgDCAMQAUIGd2VpZ2h0SpABjuP4vquq6r7Hcdy+5DjOvgAAwL4c"
    "x7G+OY6jvlVVlb5yHIe+HMdxvlVVVb6O4zi+x3EcvgAAAL5yHMe95DiOvauqKr05jmO8OY5jPKuqKj3kOI49chzHPQAA"
    "AD7HcRw+juM4PlVVVT4cx3E+chyHPlVVlT45jqM+HMexPgAAwD7kOM4+x3HcPquq6j6O4/g+WhsKAXgSFgoUCAESEAoC"
    "CAEKAggBCgIICAoCCAhiEwoBeRIOCgwIARIICgIIAQoCCARCBAoAEBE="
)
_PROBE_INPUT = np.linspace(-1.0, 1.0, 64, dtype=np.float32).reshape(1, 1, 8, 8)
_MISSING_LIBRARY = re.compile(r"([\w.+-]+\.(?:so[\w.]*|dll|dylib))\W+cannot open shared object file")
_GPU_HINT = (
    "For the GPU: an NVIDIA driver, and the CUDA 13 and cuDNN 9 libraries: in a source "
    "checkout `bash scripts/bootstrap.sh gpu` (the gpu extra, "
    "pip install 'onnxruntime-gpu[cuda,cudnn]'), or on the library path; "
    "TensorRT also needs the TensorRT 10 libraries."
)
_BUNDLE_GPU_HINT = (  # the PyInstaller bundle (packaging/): pip is no answer there
    "For the GPU: an NVIDIA driver, and the CUDA 13 and cuDNN 9 libraries installed on the "
    "system's library path (this app bundle does not include them); TensorRT also needs the "
    "TensorRT 10 libraries."
)


@dataclass(frozen=True)
class ProviderAttempt:
    provider: str
    usable: bool
    reason: str
    seconds: float = 0.0


@dataclass(frozen=True)
class ProviderReport:
    """The outcome of the probe: the provider that runs, and why."""

    requested: str
    provider: str
    attempts: tuple[ProviderAttempt, ...]
    available: tuple[str, ...]
    onnxruntime_version: str
    preload_note: str = ""

    @property
    def on_gpu(self) -> bool:
        return self.provider in NVIDIA

    @property
    def gpu_found(self) -> bool:
        """An NVIDIA driver is loaded (False also where CUDA and TensorRT were not tried)."""
        return any(a.provider in NVIDIA and a.reason != NO_GPU for a in self.attempts)

    @property
    def unmet(self) -> str | None:
        """Why an explicitly requested accelerator (``--provider cuda``) does not run;
        None when it does, or for ``auto`` and ``cpu``."""
        if self.requested in ("auto", "cpu") or self.provider != CPU:
            return None
        return f"--provider {self.requested} cannot run here ({self.summary.removeprefix(CPU + ': ')})"

    @property
    def session_providers(self) -> list:
        """What to pass to ``InferenceSession(providers=...)``: the choice, then fallbacks."""
        if self.provider == TENSORRT:
            return [(TENSORRT, tensorrt_options()), CUDA, CPU]
        return [self.provider] if self.provider == CPU else [self.provider, CPU]

    @property
    def summary(self) -> str:
        """One line for a status bar: the provider and the reason."""
        if self.provider != CPU:
            return f"{self.provider} ({'GPU' if self.on_gpu else 'accelerator'}): passed the probe"
        if self.requested == "cpu":
            return f"{CPU}: requested with --provider cpu"
        failures = [a for a in self.attempts if not a.usable]
        if failures and all(a.reason == NO_GPU for a in failures):
            return f"{CPU}: no NVIDIA GPU found"
        return f"{CPU}: " + ("; ".join(f"{_short(a.provider)}: {a.reason}" for a in failures)
                             or "this onnxruntime build has no accelerator")

    def text(self) -> str:
        """The full report, as ``emotion-app --gpu-report`` prints it."""
        lines = [
            f"ONNX Runtime {self.onnxruntime_version}; providers in this build: "
            + ", ".join(self.available),
            f"Requested: {self.requested}",
            f"Running on: {self.provider}" + (" (GPU)" if self.on_gpu else ""),
            "Probe (create a session on a tiny model, run it, check where it ran):",
        ]
        for attempt in self.attempts:
            verdict = "usable" if attempt.usable else "not usable"
            lines.append(f"  {attempt.provider}: {verdict} - {attempt.reason} ({attempt.seconds:.2f} s)")
        if not self.attempts:
            lines.append("  (no accelerator to try)")
        if self.preload_note:
            lines.append(f"onnxruntime.preload_dlls(): {self.preload_note}")
        if not self.on_gpu and self.gpu_found:
            lines.append(_BUNDLE_GPU_HINT if getattr(sys, "frozen", False) else _GPU_HINT)
        lines.append(f"Raw library messages are in the log: {log_file()}")
        return "\n".join(lines)


@functools.cache
def probe(requested: str = "auto") -> ProviderReport:
    """Probe the accelerators ``requested`` names (see ``REQUESTS``); cached per process."""
    if requested not in REQUESTS:
        raise ValueError(f"unknown provider request {requested!r}; valid: {sorted(REQUESTS)}")
    import onnxruntime as ort

    available = tuple(ort.get_available_providers())
    candidates = REQUESTS[requested]
    preload_note = ""
    wants_nvidia = any(name in NVIDIA and name in available for name in candidates)
    driver = wants_nvidia and nvidia_driver_loaded()
    if driver:
        preload_note = _preload_cuda_libraries(ort)
    attempts: list[ProviderAttempt] = []
    chosen = CPU
    for candidate in candidates:
        if candidate not in available:
            if requested != "auto":  # auto skips what this platform's build lacks, quietly
                attempts.append(ProviderAttempt(
                    candidate, False, f"not part of the onnxruntime {ort.__version__} installed here"))
            continue
        if candidate in NVIDIA and not driver:
            attempts.append(ProviderAttempt(candidate, False, NO_GPU))
            continue
        attempt = _try_provider(ort, candidate)
        attempts.append(attempt)
        if attempt.usable:
            chosen = candidate
            break
    report = ProviderReport(requested, chosen, tuple(attempts), available, ort.__version__,
                            preload_note)
    log.log(logging.WARNING if report.unmet else logging.INFO, "execution provider: %s",
            report.summary)
    return report


def nvidia_driver_loaded() -> bool:
    """Whether this machine has an NVIDIA GPU with its driver: the kernel module's version
    file (Linux), else the driver's CUDA library (Windows, WSL, containers)."""
    if Path("/proc/driver/nvidia/version").exists():
        return True
    library = {"win32": "nvcuda.dll", "darwin": None}.get(sys.platform, "libcuda.so.1")
    if library is None:
        return False
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def _try_provider(ort, provider: str) -> ProviderAttempt:
    start = time.perf_counter()
    error: Exception | None = None
    placed, output = None, None
    with native_output_captured() as captured:
        try:
            options = ort.SessionOptions()
            options.log_severity_level = 2  # keep warnings: they carry the fallback's reason
            providers = [(provider, tensorrt_options())] if provider == TENSORRT else [provider]
            session = ort.InferenceSession(PROBE_MODEL, sess_options=options,
                                           providers=[*providers, CPU])
            placed = session.get_providers()[0]
            if placed == provider:
                output = session.run(None, {"x": _PROBE_INPUT})[0]
        except Exception as caught:  # ORT raises its own pybind exception types
            error = caught
    seconds = time.perf_counter() - start
    if captured.text:
        log.debug("ONNX Runtime said while probing %s:\n%s", provider, captured.text.rstrip())
    if error is not None:
        reason = f"session failed: {_first_line(str(error))}"
    elif placed != provider:
        reason = f"ONNX Runtime fell back to the CPU ({_reason_from(captured)})"
    elif not np.allclose(output, _reference_output(ort), rtol=1e-2, atol=1e-3):
        reason = "ran, but its output differs from the CPU's"
    else:
        return ProviderAttempt(provider, True, "session created, ran, and matched the CPU", seconds)
    return ProviderAttempt(provider, False, reason, seconds)


@functools.lru_cache(maxsize=1)
def _reference_output(ort) -> np.ndarray:
    session = ort.InferenceSession(PROBE_MODEL, providers=[CPU])
    return session.run(None, {"x": _PROBE_INPUT})[0]


def _preload_cuda_libraries(ort) -> str:
    """Call ``onnxruntime.preload_dlls()`` quietly; returns a note of what it complained about."""
    if not hasattr(ort, "preload_dlls"):
        return "not available in this onnxruntime"
    with native_output_captured() as captured:
        try:
            ort.preload_dlls()
        except Exception as error:  # it raises for a bad directory; anything else is logged too
            captured.text += f"\n{type(error).__name__}: {error}"
    if captured.text.strip():
        log.debug("onnxruntime.preload_dlls() said:\n%s", captured.text.rstrip())
    missing = _missing_libraries(captured)
    if missing:
        return "could not load " + ", ".join(missing)
    return _first_line(captured.text) if captured.lines() else "ok"


def _reason_from(captured: CapturedOutput) -> str:
    """The decisive part of what the native libraries printed."""
    missing = _missing_libraries(captured)
    if missing:
        return "missing libraries: " + ", ".join(missing)
    lines = captured.lines()
    for line in lines:
        if "no CUDA-capable device" in line or "CUDA driver version is insufficient" in line:
            return _first_line(line)
    for line in lines:
        if re.search(r"error|fail", line, re.IGNORECASE):
            return _first_line(line)
    return lines[0] if lines else "no message"


def _missing_libraries(captured: CapturedOutput) -> list[str]:
    return list(dict.fromkeys(_MISSING_LIBRARY.findall(captured.text)))


def _first_line(text: str, limit: int = 240) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    line = re.sub(r"^\S+ \S+ \[[EW]:onnxruntime:[^\]]*\]\s*", "", line)  # timestamp and tag
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _short(provider: str) -> str:
    return provider.removesuffix("ExecutionProvider")
