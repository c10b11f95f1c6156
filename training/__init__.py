"""Training half of the project: PyTorch models, data, training, evaluation, export.

Imports ``app.preprocess`` so that a dataset image becomes a tensor through exactly
the code the app runs on live faces.
"""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
