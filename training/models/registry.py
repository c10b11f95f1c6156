"""Registered architectures by name: the names the CLI, model cards and app use."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from training.models.base import EmotionModel

Builder = Callable[..., EmotionModel]


@dataclass(frozen=True)
class ArchitectureSpec:
    name: str
    builder: Builder
    """``builder(num_classes, in_channels, input_size, ablate) -> EmotionModel``."""
    input_size: int
    """Default square input side."""
    paper: str
    """Short citation of the paper the architecture follows."""
    paper_parameters: float | None = None
    """Parameter count the paper reports, in millions, where it gives one."""
    paper_fer2013: float | None = None
    """FER2013 accuracy (%) the paper reports under its own protocol, where it gives one."""
    ablations: Mapping[str, str] = field(default_factory=dict)
    """The names ``--ablate`` accepts: each switches off (or swaps for the paper's baseline)
    one module the paper ablates; the value says what and which table row it reproduces."""
    recipe_ablations: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    """Ablations that change the recipe rather than the model (a loss term, preprocessing):
    name -> ``Recipe`` fields to set. The builder accepts and ignores these names."""


ARCHITECTURES: dict[str, ArchitectureSpec] = {}


def register(name: str, *, input_size: int, paper: str, paper_parameters: float | None = None,
             paper_fer2013: float | None = None, ablations: Mapping[str, str] | None = None,
             recipe_ablations: Mapping[str, Mapping[str, object]] | None = None):
    """Decorator registering ``builder`` under ``name``."""
    recipe_ablations = dict(recipe_ablations or {})
    unknown = sorted(set(recipe_ablations) - set(ablations or {}))
    if unknown:
        raise ValueError(f"{name}: recipe ablations {unknown} are not among its ablations")

    def decorate(builder: Builder) -> Builder:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is registered twice")
        ARCHITECTURES[name] = ArchitectureSpec(name, builder, input_size, paper, paper_parameters,
                                              paper_fer2013, dict(ablations or {}), recipe_ablations)
        return builder

    return decorate


def architecture(name: str) -> ArchitectureSpec:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; valid: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def checked_ablations(name: str, ablate: Iterable[str], valid: Mapping[str, str]) -> frozenset[str]:
    """``ablate`` as a frozenset, or a ValueError naming the choices ``name`` accepts."""
    if isinstance(ablate, str):  # a bare string would iterate as letters
        ablate = [ablate]
    ablate = frozenset(ablate)
    unknown = sorted(ablate - set(valid))
    if unknown:
        choices = ", ".join(sorted(valid)) or "none (its paper ablates nothing)"
        raise ValueError(f"{name} has no ablation {', '.join(unknown)}; valid: {choices}")
    return ablate


def build_model(
    name: str, num_classes: int = 7, in_channels: int = 1, input_size: int | None = None,
    ablate: Iterable[str] = frozenset(),
) -> EmotionModel:
    """Build a registered architecture at its default input size unless one is given;
    ``ablate`` names modules to switch off (``ArchitectureSpec.ablations``)."""
    spec = architecture(name)
    return spec.builder(
        num_classes=num_classes, in_channels=in_channels, input_size=input_size or spec.input_size,
        ablate=checked_ablations(name, ablate, spec.ablations),
    )
