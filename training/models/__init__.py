"""The five architectures, registered by name (see ``registry``)."""

from training.models import mini_xception  # noqa: F401  (registers)
from training.models.base import EmotionModel
from training.models.registry import ARCHITECTURES, ArchitectureSpec, architecture, build_model

__all__ = ["ARCHITECTURES", "ArchitectureSpec", "EmotionModel", "architecture", "build_model"]
