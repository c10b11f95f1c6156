"""One colour per face ID, the same in the window and in annotated videos, so a face
keeps its colour while it keeps its ID. Light tones, legible on video and on the
window's dark surround."""

from __future__ import annotations

FACE_COLOURS = ("#4fc3f7", "#81c784", "#ffb74d", "#f06292", "#ba68c8", "#4db6ac")
"""RGB, one per face ID in turn."""


def face_colour_rgb(face_id: int) -> str:
    """A face ID's colour, ``#rrggbb``."""
    return FACE_COLOURS[(face_id - 1) % len(FACE_COLOURS)]


def face_colour_bgr(face_id: int) -> tuple[int, int, int]:
    """The same colour as OpenCV's (blue, green, red)."""
    rgb = face_colour_rgb(face_id)
    return int(rgb[5:7], 16), int(rgb[3:5], 16), int(rgb[1:3], 16)
