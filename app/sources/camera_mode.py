"""The capture mode asked of a camera: ``--camera-size 1280x720``, ``--camera-fps 30``.

OpenCV passes the request to the driver (``CAP_PROP_FRAME_WIDTH/HEIGHT/FPS``), which
picks the nearest mode it has or ignores it, so ``CameraSource`` reads back what the
camera delivers and logs the difference; ``--list-cameras`` shows the sizes each accepts.
The command line sets the process's default mode (``set_default_mode``), so every camera
opened afterwards, in the window or headless, asks for it; code may pass a mode instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SIDE = 16384
MAX_FPS = 1000.0
SIZE_EXAMPLE = "1280x720"
FPS_EXAMPLE = "30"


@dataclass(frozen=True)
class CameraMode:
    """What to ask of a camera; None: whatever its driver starts with."""

    size: tuple[int, int] | None = None
    """(width, height) in pixels."""
    fps: float | None = None

    def __post_init__(self) -> None:
        if self.size is not None and not all(1 <= side <= MAX_SIDE for side in self.size):
            raise ValueError(f"camera size must be from 1x1 to {MAX_SIDE}x{MAX_SIDE}, got {self.size}")
        if self.fps is not None and not 0 < self.fps <= MAX_FPS:
            raise ValueError(f"camera frame rate must be above 0 and at most {MAX_FPS:g}, got {self.fps}")

    @property
    def requested(self) -> bool:
        return self.size is not None or self.fps is not None

    def __str__(self) -> str:
        return describe_mode(self.size, self.fps)


def describe_mode(size: tuple[int, int] | None, fps: float | None) -> str:
    """"1280x720 at 30 fps", "1280x720", "30 fps" or "the driver's mode", for messages."""
    parts = [f"{size[0]}x{size[1]}" if size else "", f"{fps:g} fps" if fps else ""]
    return " at ".join(part for part in parts if part) or "the driver's mode"


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720); raises ValueError with an example."""
    match = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\d+)\s*", str(text), re.IGNORECASE)
    if match is None or not all(1 <= int(side) <= MAX_SIDE for side in match.groups()):
        raise ValueError(f"camera size must be WIDTHxHEIGHT in pixels, each from 1 to {MAX_SIDE}, "
                         f"e.g. {SIZE_EXAMPLE}; got {text!r}")
    return int(match[1]), int(match[2])


def parse_fps(text: str) -> float:
    """``"30"`` -> 30.0; raises ValueError with an example."""
    try:
        fps = float(text)
    except ValueError:
        fps = float("nan")
    if not 0 < fps <= MAX_FPS:  # NaN fails it too
        raise ValueError(f"camera frame rate must be a number of frames per second above 0 and "
                         f"at most {MAX_FPS:g}, e.g. {FPS_EXAMPLE}; got {text!r}")
    return fps


_default_mode = CameraMode()


def default_mode() -> CameraMode:
    """The mode cameras ask for when their opener names none (the command line's)."""
    return _default_mode


def set_default_mode(mode: CameraMode) -> None:
    """Set the mode every camera opened from now on asks for (one attribute write)."""
    global _default_mode
    if not isinstance(mode, CameraMode):
        raise TypeError(f"mode must be a CameraMode, got {type(mode).__name__}")
    _default_mode = mode
