"""Training half of the project: PyTorch models, data, training, evaluation, export.

Imports ``app.face.preprocess`` so that a dataset image becomes a tensor through exactly
the code the app runs on live faces.
"""

import logging
import os

# No ONNX Runtime telemetry from exports and evaluations either (see ``app/__init__.py``):
# set before anything here imports onnxruntime.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

logging.getLogger(__name__).addHandler(logging.NullHandler())
