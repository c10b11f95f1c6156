"""Training-time augmentation of uint8 face crops, as each architecture's paper describes it.

Augmentation runs on the crop that ``app.face.preprocess`` made (``prepare_crop`` or
``crop_face``) and before ``to_tensor``, so gamma and normalisation see an augmented
image exactly as they see a live one. Geometric transforms (random crop, rotation,
shear, zoom, shift) are composed into one affine matrix and applied by a single
``cv2.warpAffine`` with edge replication (Keras ``ImageDataGenerator``'s ``nearest``
fill, which Mini-Xception's Table 3 was run with); the horizontal flip is an exact
mirror; colour jitter scales brightness and contrast. Every random draw comes from
the generator the caller passes, so a sample's augmentation depends only on that
generator's seed (``training.data.torch_dataset`` seeds it by run seed, epoch and
sample index), which is what makes resumed and distributed runs reproducible.
Evaluation never augments: the evaluation dataset has no ``Augmenter``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import cv2
import numpy as np

_MIN_ASPECT, _MAX_ASPECT = 3.0 / 4.0, 4.0 / 3.0


@dataclass(frozen=True)
class AugmentConfig:
    """Which transforms run and how far; all off by default."""

    horizontal_flip: bool = False
    """Mirror left-right with probability 1/2."""
    rotation_degrees: float = 0.0
    """Rotate by an angle drawn from [-r, r]."""
    rotation_step: float = 0.0
    """0: any angle in the range; > 0: only multiples of it (the VGG paper's 5-degree steps)."""
    shift: float = 0.0
    """Translate each axis by up to this fraction of the side."""
    zoom: float = 0.0
    """Scale by a factor drawn from [1 - zoom, 1 + zoom] (uniform in both axes)."""
    shear_degrees: float = 0.0
    """Horizontal shear by an angle drawn from [-s, s]."""
    crop_area: tuple[float, float] = (1.0, 1.0)
    """Random crop: keep this fraction of the area (aspect 3/4 to 4/3), resized back."""
    brightness: float = 0.0
    """Multiply intensities by a factor drawn from [1 - b, 1 + b]."""
    contrast: float = 0.0
    """Scale deviations from the mean intensity by a factor drawn from [1 - c, 1 + c]."""
    erasing: float = 0.0
    """Random erasing (Zhong et al. 2020): with this probability, fill a box of 2-25 % of
    the area (aspect 0.3 to 3.3) with noise, so no single face region can be relied on."""

    def __post_init__(self) -> None:
        low, high = self.crop_area
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"crop_area must satisfy 0 < low <= high <= 1, got {self.crop_area}")
        for name in ("rotation_degrees", "rotation_step", "shift", "zoom", "shear_degrees",
                     "brightness", "contrast", "erasing"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.zoom >= 1 or self.brightness >= 1 or self.contrast >= 1 or self.erasing > 1:
            raise ValueError("zoom, brightness and contrast must be below 1, erasing at most 1")

    @property
    def geometric(self) -> bool:
        return bool(self.rotation_degrees or self.shift or self.zoom or self.shear_degrees
                    or self.crop_area != (1.0, 1.0))

    @property
    def enabled(self) -> bool:
        return self.geometric or self.horizontal_flip or bool(self.brightness or self.contrast
                                                              or self.erasing)

    def describe(self) -> str:
        """The active transforms, e.g. ``flip, rotation 10, shift 0.1``; ``none`` when off."""
        default = AugmentConfig()
        active = [f"{name}={value}" for name, value in asdict(self).items()
                  if value != getattr(default, name)]
        return ", ".join(active) or "none"

    def with_overrides(self, text: str) -> AugmentConfig:
        """Apply ``key=value,key=value`` overrides (the ``--augment`` option); ``none`` turns all off."""
        if text.strip().lower() in ("none", "off"):
            return AugmentConfig()
        kinds = {f.name: f.type for f in fields(self)}
        changes: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, _, value = item.partition("=")
            key = key.strip()
            if key not in kinds or not value:
                raise ValueError(f"bad augmentation setting {item!r}; use key=value with keys "
                                 f"{sorted(kinds)} (crop_area as low:high), or 'none'")
            changes[key] = _parse_value(kinds[key], value.strip(), key)
        return replace(self, **changes)


def _parse_value(kind: str, value: str, key: str):
    try:
        if kind == "bool":
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if kind.startswith("tuple"):
            low, high = value.split(":")
            return (float(low), float(high))
        return float(value)
    except ValueError:
        raise ValueError(f"augmentation setting {key}: cannot read {value!r} as {kind}") from None


class Augmenter:
    """Applies an ``AugmentConfig`` to uint8 (H, W, C) crops; returns a new crop."""

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config

    def __call__(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        config = self.config
        height, width = crop.shape[:2]
        if config.horizontal_flip and rng.random() < 0.5:
            crop = crop[:, ::-1]
        if config.geometric:
            matrix = self.sample_matrix(rng, height, width)
            warped = cv2.warpAffine(np.ascontiguousarray(crop), matrix, (width, height),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            crop = warped.reshape(crop.shape)
        if config.brightness or config.contrast:
            crop = self._jitter(crop, rng)
        crop = np.ascontiguousarray(crop)
        if config.erasing and rng.random() < config.erasing:
            crop = _erase(crop, rng)
        return crop

    def sample_matrix(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        """One random 2x3 affine matrix mapping input pixel centres to output pixel centres."""
        config = self.config
        angle = rng.uniform(-config.rotation_degrees, config.rotation_degrees)
        if config.rotation_step:
            angle = config.rotation_step * round(angle / config.rotation_step)
        scale = rng.uniform(1.0 - config.zoom, 1.0 + config.zoom)
        shear = math.tan(math.radians(rng.uniform(-config.shear_degrees, config.shear_degrees)))
        shift = rng.uniform(-config.shift, config.shift, size=2) * (width, height)
        cosine, sine = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        # Image y points down, so this rotates counter-clockwise on screen for angle > 0.
        linear = scale * np.array([[cosine, sine], [-sine, cosine]]) @ np.array([[1.0, shear],
                                                                                [0.0, 1.0]])
        centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
        geometric = _affine(linear, centre + shift - linear @ centre)
        return (_crop_matrix(rng, config.crop_area, height, width) @ geometric)[:2]

    def _jitter(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        config = self.config
        pixels = crop.astype(np.float32)
        if config.brightness:
            pixels *= rng.uniform(1.0 - config.brightness, 1.0 + config.brightness)
        if config.contrast:
            mean = float(pixels.mean())
            pixels = (pixels - mean) * rng.uniform(1.0 - config.contrast, 1.0 + config.contrast) + mean
        return np.clip(pixels + 0.5, 0, 255).astype(np.uint8)


def _erase(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``crop`` with one random box (2-25 % of the area) filled with uniform noise."""
    height, width = crop.shape[:2]
    area = rng.uniform(0.02, 0.25) * height * width
    aspect = math.exp(rng.uniform(math.log(0.3), math.log(1 / 0.3)))
    box_height = min(height, max(1, round(math.sqrt(area * aspect))))
    box_width = min(width, max(1, round(math.sqrt(area / aspect))))
    top, left = rng.integers(0, height - box_height + 1), rng.integers(0, width - box_width + 1)
    erased = crop.copy()
    erased[top: top + box_height, left: left + box_width] = rng.integers(
        0, 256, (box_height, box_width, *crop.shape[2:]), dtype=np.uint8)
    return erased


def _affine(linear: np.ndarray, translation: np.ndarray) -> np.ndarray:
    matrix = np.eye(3)
    matrix[:2, :2], matrix[:2, 2] = linear, translation
    return matrix


def _crop_matrix(rng: np.random.Generator, area: tuple[float, float], height: int, width: int):
    """3x3 matrix taking a random box (``area`` of the image, aspect 3/4..4/3) onto the whole image."""
    if area == (1.0, 1.0):
        return np.eye(3)
    fraction = rng.uniform(*area)
    aspect = math.exp(rng.uniform(math.log(_MIN_ASPECT), math.log(_MAX_ASPECT)))
    box_width = min(width, width * math.sqrt(fraction * aspect))
    box_height = min(height, height * math.sqrt(fraction / aspect))
    left, top = rng.uniform(0, width - box_width), rng.uniform(0, height - box_height)
    scale = np.diag([width / box_width, height / box_height])
    # In continuous coordinates x' = (x - left) * sx; pixel centres sit at i + 0.5.
    offset = (np.array([0.5, 0.5]) - np.array([left, top])) @ scale - 0.5
    return _affine(scale, offset)
