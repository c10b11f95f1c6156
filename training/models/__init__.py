"""The five architectures, registered by name (see ``registry``)."""

from training.models import (
    dcrnet,  # noqa: F401  (registers)
    mini_xception,  # noqa: F401  (registers)
    mobilenetv3_dilated_simam,  # noqa: F401  (registers)
    vgg16_gcca_pdra,  # noqa: F401  (registers)
    yolov8_dyconv_gam,  # noqa: F401  (registers)
)
from training.models.base import EmotionModel
from training.models.registry import ARCHITECTURES, ArchitectureSpec, architecture, build_model

__all__ = ["ARCHITECTURES", "ArchitectureSpec", "EmotionModel", "architecture", "build_model"]
