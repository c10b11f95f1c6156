"""Real-time facial emotion recognition: the product half of the project.

Everything under ``app`` runs on numpy, OpenCV, MediaPipe, ONNX Runtime and Qt only;
it never imports torch. ``training`` imports ``app.preprocess`` so that a face becomes
a tensor in exactly one place.
"""

import logging
import os

# MediaPipe's C++ core logs through glog/absl straight to stderr; keep those lines out
# of the user's terminal unless they ask for them.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"
