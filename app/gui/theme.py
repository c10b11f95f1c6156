"""Colours and the window theme.

A dark Fusion palette (video and coloured bars read best on a dark surround, and Fusion
looks the same on every platform), one colour per emotion, the same in the overlay,
the timeline and its legend, and one colour per face ID, so a face keeps its colour
while it keeps its ID (both from ``app.output.palette``, which headless plots use too).
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.output.palette import MUTED_TEXT_RGB, SURFACE_RGB, TEXT_RGB, emotion_colour_rgb, face_colour_rgb

SURFACE = QColor(SURFACE_RGB)
"""Behind the video and the plots."""
PANEL = QColor(16, 18, 22, 215)
"""The translucent card behind a face's bars."""
TEXT = QColor(TEXT_RGB)
MUTED_TEXT = QColor(MUTED_TEXT_RGB)
GRID = QColor(255, 255, 255, 28)
LEVEL_COLOURS = {"info": QColor("#4fc3f7"), "warning": QColor("#ffb74d"), "error": QColor("#ef5350")}
"""Banner accents."""


def emotion_colour(label: str, index: int) -> QColor:
    """The colour of ``label``, the ``index``-th label of its model."""
    return QColor(emotion_colour_rgb(label, index))


def face_colour(face_id: int) -> QColor:
    """The face ID's colour from ``app.output.palette``, as annotated videos draw it too."""
    return QColor(face_colour_rgb(face_id))


def apply_theme(app: QApplication) -> None:
    """Fusion with a dark palette, application-wide."""
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#202328",
        QPalette.ColorRole.WindowText: "#e6e9ec",
        QPalette.ColorRole.Base: "#181a1e",
        QPalette.ColorRole.AlternateBase: "#24272c",
        QPalette.ColorRole.ToolTipBase: "#2b2f35",
        QPalette.ColorRole.ToolTipText: "#e6e9ec",
        QPalette.ColorRole.PlaceholderText: "#7d868f",
        QPalette.ColorRole.Text: "#e6e9ec",
        QPalette.ColorRole.Button: "#2b2f35",
        QPalette.ColorRole.ButtonText: "#e6e9ec",
        QPalette.ColorRole.BrightText: "#ff5252",
        QPalette.ColorRole.Link: "#4fc3f7",
        QPalette.ColorRole.Highlight: "#2f7fc1",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Light: "#3a3f46",  # Fusion's bevels and tab lines
        QPalette.ColorRole.Midlight: "#31353b",
        QPalette.ColorRole.Mid: "#2a2d32",
        QPalette.ColorRole.Dark: "#141619",
        QPalette.ColorRole.Shadow: "#0b0c0e",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b737b"))
    app.setPalette(palette)
