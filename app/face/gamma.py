"""Adaptive gamma correction (DCRNet, section 2.1.1).

Each image gets its own gamma from its mean luminance, chosen so that the mean moves
towards mid-grey: ``gamma = log(0.5) / log(mean)``, clamped to [0.6, 1.4] as the paper
specifies so that no image is over-brightened or crushed. Dark images get gamma < 1
(brighter), bright images gamma > 1 (darker, more contrast in the highlights). The
curve ``255 * (I / 255) ** gamma`` is applied through a 256-entry lookup table.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

GAMMA_MIN = 0.6
GAMMA_MAX = 1.4
_TARGET_MEAN = 0.5


def mean_luminance(image: np.ndarray) -> float:
    """Mean luminance in [0, 1] of a uint8 gray (H, W), (H, W, 1) or RGB (H, W, 3) image.

    Crops are in the model's colour space (``app.face.preprocess``), hence RGB, not BGR.
    """
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return float(np.mean(image)) / 255.0


def gamma_for_luminance(mean: float) -> float:
    """The gamma that maps ``mean`` (in [0, 1]) to mid-grey, clamped to the paper's range."""
    mean = min(max(mean, 1e-3), 1.0 - 1e-3)
    gamma = math.log(_TARGET_MEAN) / math.log(mean)
    return min(max(gamma, GAMMA_MIN), GAMMA_MAX)


@functools.lru_cache(maxsize=128)
def _lookup_table(gamma_centi: int) -> np.ndarray:
    gamma = gamma_centi / 100.0
    levels = np.arange(256, dtype=np.float64) / 255.0
    return np.clip(np.round(255.0 * levels**gamma), 0, 255).astype(np.uint8)


def apply_gamma(image: np.ndarray, gamma: float) -> np.ndarray:
    """Apply ``255 * (I / 255) ** gamma`` to a uint8 image (gamma rounded to 0.01)."""
    if image.dtype != np.uint8:
        raise ValueError(f"adaptive gamma expects a uint8 image, got {image.dtype}")
    return cv2.LUT(image, _lookup_table(int(round(gamma * 100)))).reshape(image.shape)


def adaptive_gamma(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Correct ``image`` with its own gamma; returns the corrected image and the gamma."""
    gamma = gamma_for_luminance(mean_luminance(image))
    return apply_gamma(image, gamma), gamma
