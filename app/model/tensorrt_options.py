"""TensorRT's session options: engines cached on disk, and one batch profile per model.

TensorRT compiles a model into an engine for the input shapes it will see. Cached on
disk, a model's engine is built once rather than at every start; with an explicit
optimisation profile covering batches of 1 to the most faces per frame, it is built
for all of them at once, rather than again (a slow build, mid-run) each time one
more face comes into view, which is what happens with a dynamic batch axis and no
profile.
"""

from __future__ import annotations

from app.system.logs import user_cache_dir

TENSORRT = "TensorrtExecutionProvider"


def tensorrt_options() -> dict[str, object]:
    """The engine and timing caches, in the user's cache folder."""
    cache = user_cache_dir() / "tensorrt"
    cache.mkdir(parents=True, exist_ok=True)
    return {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache),
            "trt_timing_cache_enable": True}


def provider_name(entry: str | tuple[str, dict]) -> str:
    """The name in a ``providers=`` entry: a name, or a (name, options) pair."""
    return entry[0] if isinstance(entry, tuple) else entry


def with_batch_profile(providers: list, input_name: str, sample_shape: tuple[int, ...],
                       max_batch: int) -> list:
    """``providers`` with TensorRT's profile set to batches of 1 to ``max_batch`` samples
    of ``sample_shape`` (optimised for one face, the common case); others unchanged."""
    dims = "x".join(str(side) for side in sample_shape)
    profile = {"trt_profile_min_shapes": f"{input_name}:1x{dims}",
               "trt_profile_opt_shapes": f"{input_name}:1x{dims}",
               "trt_profile_max_shapes": f"{input_name}:{max_batch}x{dims}"}
    return [(TENSORRT, {**(entry[1] if isinstance(entry, tuple) else {}), **profile})
            if provider_name(entry) == TENSORRT else entry for entry in providers]
