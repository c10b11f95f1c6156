"""Registered architectures by name: the names the CLI, model cards and app use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from training.models.base import EmotionModel

Builder = Callable[..., EmotionModel]


@dataclass(frozen=True)
class ArchitectureSpec:
    name: str
    builder: Builder
    """``builder(num_classes, in_channels, input_size) -> EmotionModel``."""
    input_size: int
    """Default square input side."""
    paper: str
    """Short citation of the paper the architecture follows."""
    paper_parameters: float | None = None
    """Parameter count the paper reports, in millions, where it gives one."""


ARCHITECTURES: dict[str, ArchitectureSpec] = {}


def register(name: str, *, input_size: int, paper: str, paper_parameters: float | None = None):
    """Decorator registering ``builder`` under ``name``."""

    def decorate(builder: Builder) -> Builder:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is registered twice")
        ARCHITECTURES[name] = ArchitectureSpec(name, builder, input_size, paper, paper_parameters)
        return builder

    return decorate


def architecture(name: str) -> ArchitectureSpec:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; valid: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def build_model(
    name: str, num_classes: int = 7, in_channels: int = 1, input_size: int | None = None
) -> EmotionModel:
    """Build a registered architecture at its default input size unless one is given."""
    spec = architecture(name)
    return spec.builder(
        num_classes=num_classes, in_channels=in_channels, input_size=input_size or spec.input_size
    )
