"""PyInstaller runtime hook: no ONNX Runtime telemetry from the bundle.

Runs before the app's first import, so ``ORT_DISABLE_TELEMETRY`` is set before
onnxruntime loads even if a later change imported it ahead of ``app`` (which sets it
too, see ``app/__init__.py``): the bundle sends nothing and writes no device ID.
"""

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"
