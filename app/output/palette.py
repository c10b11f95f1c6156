"""The app's colours as plain ``#rrggbb`` strings, so the window (``app.gui.theme``),
annotated videos and headless plots (``app.output.timeline_image``) share them without Qt.

One colour per emotion, the same in the overlay, the timeline, its legend and
``--plot``; one colour per face ID, so a face keeps its colour while it keeps its ID.
Light tones, legible on video and on the window's dark surround.
"""

from __future__ import annotations

FACE_COLOURS = ("#4fc3f7", "#81c784", "#ffb74d", "#f06292", "#ba68c8", "#4db6ac")
"""RGB, one per face ID in turn."""
EMOTION_COLOURS = {
    "angry": "#ef5350",
    "disgust": "#66bb6a",
    "fear": "#ab7ae0",
    "happy": "#ffca28",
    "sad": "#42a5f5",
    "surprise": "#ff8a3d",
    "neutral": "#b0bec5",
    "contempt": "#8d6e63",
}
"""FER2013's labels (and FER+'s contempt); other labels take ``SPARE_COLOURS`` in turn."""
SPARE_COLOURS = ("#26c6da", "#ec407a", "#d4e157", "#7e57c2", "#8bc34a", "#ff7043")
SURFACE_RGB = "#15171b"
"""Behind the video and the plots."""
TEXT_RGB = "#eceff1"
MUTED_TEXT_RGB = "#9aa4ae"
PANEL_RGB = "#101216"
"""The card behind a face's bars, drawn at ``PANEL_OPACITY`` over the video."""
PANEL_OPACITY = 215 / 255


def face_colour_rgb(face_id: int) -> str:
    """A face ID's colour, ``#rrggbb``."""
    return FACE_COLOURS[(face_id - 1) % len(FACE_COLOURS)]


def face_colour_bgr(face_id: int) -> tuple[int, int, int]:
    """The same colour as OpenCV's (blue, green, red)."""
    return bgr(face_colour_rgb(face_id))


def emotion_colour_rgb(label: str, index: int) -> str:
    """The colour of ``label``, the ``index``-th label of its model, ``#rrggbb``."""
    return EMOTION_COLOURS.get(label.lower(), SPARE_COLOURS[index % len(SPARE_COLOURS)])


def mix(rgb: str, other: str, weight: float) -> str:
    """``weight`` of ``rgb`` and the rest of ``other``, ``#rrggbb``: a colour seen through
    another, as one opaque colour every painter draws alike."""
    channels = (round(int(rgb[start:start + 2], 16) * weight + int(other[start:start + 2], 16) * (1 - weight))
                for start in (1, 3, 5))
    return "#" + "".join(f"{channel:02x}" for channel in channels)


TRACK_RGB = mix("#ffffff", PANEL_RGB, 22 / 255)
"""The empty part of a bar: a faint light tone on the panel."""


def bgr(rgb: str) -> tuple[int, int, int]:
    """``#rrggbb`` as OpenCV's (blue, green, red)."""
    return int(rgb[5:7], 16), int(rgb[3:5], 16), int(rgb[1:3], 16)
