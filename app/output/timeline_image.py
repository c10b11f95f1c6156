"""``--plot``: each face's emotion probabilities over a headless run, drawn with OpenCV.

One panel per face (the ``MOST_PANELS`` seen longest), one line per emotion in the
window's colours (``app.output.palette``) on its dark surround, 0-100% up, the run's time
across (``RunTally.axis_title``), a legend with each emotion's share of the face's
frames (the dominant one drawn thicker). As in the window's timeline, the values are
the smoothed ones, a face missing for more than ``GAP_S`` leaves a gap, and long runs
are thinned to a few points per pixel. Drawn with OpenCV so that headless runs need
neither Qt nor matplotlib.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np

from app.output.palette import MUTED_TEXT_RGB, SURFACE_RGB, TEXT_RGB, bgr, emotion_colour_rgb, face_colour_bgr
from app.output.run_summary import FaceTally, RunTally
from app.system.output_files import write_bytes_staged

PLOT_FORMATS = (".png", ".jpg", ".jpeg")
MOST_PANELS = 8
GAP_S = 1.0
WIDTH, HEADER, PANEL, FOOTER, LEFT, LEGEND = 1200, 40, 210, 34, 56, 190
TIME_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
COUNT_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
FONT = cv2.FONT_HERSHEY_SIMPLEX
SURFACE, TEXT, MUTED = bgr(SURFACE_RGB), bgr(TEXT_RGB), bgr(MUTED_TEXT_RGB)
GRID = tuple(int(round(channel + (255 - channel) * 28 / 255)) for channel in SURFACE)
"""The window's grid: white at 28/255 over the surface."""


def checked_plot_path(text: str | Path) -> Path:
    """The ``--plot`` path, checked before a run so that a typo costs no analysis;
    ValueError says what is wrong. Whether an existing file may be replaced is the
    caller's (``--overwrite``, ``app.system.output_paths``)."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise ValueError(f"cannot write the plot to {path}: it is a folder; name a file in it, "
                         f"e.g. {path / 'timeline.png'}")
    if path.suffix.lower() not in PLOT_FORMATS:
        raise ValueError(f"cannot write the plot to {path}: the name must end in one of "
                         f"{', '.join(PLOT_FORMATS)}")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write the plot to {path}: the folder {path.parent} does not exist")
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise ValueError(f"cannot write the plot to {path}: permission denied")
    return path


def write_image(path: Path, image: np.ndarray) -> int:
    """Encode by the name's extension and write; returns the bytes written. A regular file
    is staged beside and renamed into place (``app.system.output_files``), so a failure
    (OSError) leaves any earlier file whole and no partial one behind."""
    encoded, data = cv2.imencode(path.suffix.lower(), image)
    if not encoded:
        raise OSError(f"OpenCV could not encode a {path.suffix} image")
    if path.exists() and not path.is_file():  # a device or pipe: written as it is
        path.write_bytes(data.tobytes())
        return data.size
    write_bytes_staged(path, data.tobytes())
    return data.size


def draw_timelines(tally: RunTally, title: str, width: int = WIDTH) -> np.ndarray:
    """The plot as a BGR image: a panel per face, or a note when no face was seen."""
    faces = [face for face in tally.seen_longest(MOST_PANELS) if face.times]
    height = HEADER + PANEL * max(len(faces), 1) + FOOTER
    canvas = np.full((height, width, 3), SURFACE, np.uint8)
    shown = f" ({len(faces)} seen longest of {len(tally.faces)})" if len(tally.faces) > len(faces) else ""
    _text(canvas, f"{title}{shown}", (LEFT, 26), TEXT, 0.6)
    if not faces:
        _text(canvas, f"No face seen in {tally.frames} frame{'s' * (tally.frames != 1)}.",
              (LEFT, HEADER + PANEL // 2), MUTED, 0.6)
        return canvas
    times = np.concatenate([np.asarray(face.times) for face in faces])
    start, end = float(times.min()), float(times.max())
    pad = 0.5 if tally.axis == "folder" else 0.0  # images are points: none on an edge
    x_range = (start - pad, end + pad if end > start else start + max(pad, 1.0))
    for number, face in enumerate(faces):
        _draw_panel(canvas, face, tally, HEADER + number * PANEL, x_range)
    caption = tally.axis_title
    size = cv2.getTextSize(caption, FONT, 0.5, 1)[0]
    right = width - LEGEND - 16
    _text(canvas, caption, ((LEFT + right - size[0]) // 2, height - 12), MUTED, 0.5)
    return canvas


def _draw_panel(canvas: np.ndarray, face: FaceTally, tally: RunTally, top: int,
                x_range: tuple[float, float]) -> None:
    """One face: title in its ID's colour, grid, axes, a line per emotion and the legend."""
    shares = dict(face.shares())
    dominant = max(shares, key=shares.get)
    _text(canvas, f"face {face.face_id}: {face.frames} frame{'s' * (face.frames != 1)}, mostly {dominant} "
          f"({shares[dominant]:.0%})", (LEFT, top + 18), face_colour_bgr(face.face_id), 0.55)
    left, right = LEFT, canvas.shape[1] - LEGEND - 16
    plot_top, bottom = top + 30, top + PANEL - 30
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = int(round(bottom - fraction * (bottom - plot_top)))
        cv2.line(canvas, (left, y), (right, y), GRID, 1)
        label = f"{fraction:.0%}"
        _text(canvas, label, (left - 8 - cv2.getTextSize(label, FONT, 0.4, 1)[0][0], y + 4), MUTED, 0.4)
    start, end = x_range

    def x_of(value):
        return left + (np.asarray(value) - start) / (end - start) * (right - left)

    for tick in _ticks(start, end, tally.axis):
        x = int(round(float(x_of(tick))))
        cv2.line(canvas, (x, plot_top), (x, bottom), GRID, 1)
        label = _tick_text(tick, tally.axis)
        width = cv2.getTextSize(label, FONT, 0.4, 1)[0][0]
        _text(canvas, label, (x - width // 2, bottom + 16), MUTED, 0.4)
    times, values = np.asarray(face.times), np.stack(face.values)
    stride = max(1, len(times) // ((right - left) * 2))
    times, values = times[::stride], values[::stride]
    steps = np.diff(times)
    gap = max(GAP_S, 3 * float(np.median(steps))) if len(steps) else GAP_S
    breaks = np.flatnonzero(steps > gap) + 1
    xs = x_of(times)
    order = sorted(range(len(tally.labels)), key=lambda index: shares.get(tally.labels[index], 0.0))
    for index in order:  # the dominant emotion last, on top
        label = tally.labels[index]
        colour = bgr(emotion_colour_rgb(label, index))
        ys = bottom - np.clip(values[:, index], 0.0, 1.0) * (bottom - plot_top)
        points = np.round(np.stack([xs, ys], axis=1) * 16).astype(np.int32)  # 4 fractional bits
        for segment in np.split(points, breaks):
            if len(segment) == 1:  # a face seen once (an image) is a dot
                cv2.circle(canvas, tuple(segment[0]), 3 * 16, colour, -1, cv2.LINE_AA, 4)
            elif len(segment):
                cv2.polylines(canvas, [segment], False, colour, 3 if label == dominant else 2,
                              cv2.LINE_AA, 4)
    _draw_legend(canvas, tally.labels, shares, dominant, (right + 16, plot_top, bottom))


def _draw_legend(canvas: np.ndarray, labels, shares: dict[str, float], dominant: str,
                 area: tuple[int, int, int]) -> None:
    """A swatch, the label and its share of the face's frames per emotion."""
    left, top, bottom = area
    row = min(18, (bottom - top) // max(len(labels), 1))
    for index, label in enumerate(labels):
        y = top + index * row + row // 2
        cv2.rectangle(canvas, (left, y - 2), (left + 14, y + 2), bgr(emotion_colour_rgb(label, index)), -1)
        colour, weight = (TEXT, 1) if label == dominant else (MUTED, 1)
        _text(canvas, label[:12], (left + 22, y + 5), colour, 0.45, weight)
        share = f"{shares.get(label, 0.0):.0%}"
        width = cv2.getTextSize(share, FONT, 0.45, weight)[0][0]
        _text(canvas, share, (canvas.shape[1] - 12 - width, y + 5), colour, 0.45, weight)


def _ticks(start: float, end: float, axis: str) -> list[float]:
    """Whole steps of a readable size, at most about seven across."""
    steps = COUNT_STEPS if axis == "folder" else TIME_STEPS
    step = next((s for s in steps if (end - start) / s <= 7), steps[-1])
    first = math.ceil(start / step - 1e-9) * step
    return [first + number * step for number in range(int((end - first) / step + 1e-9) + 1)]


def _tick_text(value: float, axis: str) -> str:
    if axis == "folder":
        return f"{value:.0f}"
    if value < 60:
        return f"{value:g} s"
    hours, rest = divmod(int(round(value)), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], colour, scale: float,
          thickness: int = 1) -> None:
    cv2.putText(canvas, text, origin, FONT, scale, colour, thickness, cv2.LINE_AA)
