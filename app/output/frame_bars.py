"""``--plot`` of a single frame (one image): each face's probabilities as bars.

A timeline of one frame would be a column of dots; a photo's read is a bar chart, as the
window's face panel shows it: one row per emotion in the window's colours, the emotion
shown in bold, its percentage at the end. One panel per face (the first ``MOST_PANELS`` by
ID), side by side in rows.
"""

from __future__ import annotations

import numpy as np

from app.output.palette import bgr, emotion_colour_rgb, face_colour_bgr
from app.output.run_summary import FaceTally, RunTally
from app.output.timeline_image import MOST_PANELS, MUTED, SURFACE, TEXT, WIDTH, _text

PANEL_WIDTH, ROW, TOP, HEADER = 380, 26, 40, 44
TRACK = bgr("#2a2f3a")


def draw_frame_bars(tally: RunTally, title: str, width: int = WIDTH) -> np.ndarray:
    """The plot of a one-frame run as a BGR image: a bar chart per face."""
    faces = [face for face in tally.seen_longest(MOST_PANELS) if face.values]
    per_row = max(width // PANEL_WIDTH, 1)
    panel_height = HEADER + ROW * max(len(tally.labels), 1) + 12
    rows = max((len(faces) + per_row - 1) // per_row, 1)
    canvas = np.full((TOP + rows * panel_height + 10, width, 3), SURFACE, np.uint8)
    _text(canvas, title, (16, 26), TEXT, 0.6)
    if not faces:
        _text(canvas, "No face seen in this image.", (16, TOP + 30), MUTED, 0.6)
        return canvas
    for number, face in enumerate(faces):
        left = 16 + (number % per_row) * PANEL_WIDTH
        _draw_bars(canvas, face, tally.labels, left, TOP + (number // per_row) * panel_height)
    return canvas


def _draw_bars(canvas: np.ndarray, face: FaceTally, labels, left: int, top: int) -> None:
    values = face.values[0]
    shown = face.shown.most_common(1)[0][0] if face.shown else ""
    where = f" ({face.position})" if face.position != "centre" else ""
    _text(canvas, f"#{face.face_id}{where}", (left, top + 24), face_colour_bgr(face.face_id), 0.6, 2)
    bar_left, bar_width = left + 100, PANEL_WIDTH - 170
    for row, (label, value) in enumerate(zip(labels, values)):
        y = top + HEADER + row * ROW
        bold = 2 if label == shown else 1
        _text(canvas, label, (left, y + 5), TEXT if bold == 2 else MUTED, 0.5, bold)
        canvas[y - 7:y + 7, bar_left:bar_left + bar_width] = TRACK
        filled = int(round(bar_width * float(np.clip(value, 0.0, 1.0))))
        colour = bgr(emotion_colour_rgb(label, row))
        canvas[y - 7:y + 7, bar_left:bar_left + filled] = colour
        _text(canvas, f"{100 * float(value):.0f}%", (bar_left + bar_width + 8, y + 5),
              TEXT if bold == 2 else MUTED, 0.5, bold)
