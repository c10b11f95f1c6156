"""Real-time facial emotion recognition: the product half of the project.

Everything under ``app`` runs on numpy, OpenCV, MediaPipe, ONNX Runtime and Qt only;
it never imports torch. ``training`` imports ``app.face.preprocess`` so that a face becomes
a tensor in exactly one place.
"""

import logging
import os

# MediaPipe's C++ core logs through glog/absl straight to stderr; keep those lines out
# of the user's terminal unless they ask for them.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# ONNX Runtime's official builds send usage telemetry to Microsoft (a host looked up a few
# seconds into every run) and keep a device ID and queued events in the user's cache.
# Only this variable, set before onnxruntime loads, stops all of it
# (``onnxruntime.disable_telemetry_events()`` does not). The app sends nothing, whatever
# the environment says; tests/test_offline.py checks it.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"
__all__ = ["EmotionRecognizer", "__version__"]


def __getattr__(name: str):
    """``from app import EmotionRecognizer`` loads the pipeline only when asked: ``import
    app`` stays quick for what needs none of it (the CLI's --help, ``training``)."""
    if name == "EmotionRecognizer":
        from app.api import EmotionRecognizer

        return EmotionRecognizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
