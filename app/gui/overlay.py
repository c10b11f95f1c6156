"""What the video view draws for each face, as plain values: its box, ID, and a panel of
bars, one per emotion, placed beside the face.

The view paints exactly these values and keeps the last set in ``VideoView.overlay``,
so tests (and anything else) can read what is on screen without parsing pixels.
Panels have a fixed on-screen size, whatever the video's scale, so the text stays crisp
and readable; each goes to the right of its face, else left, below or above, choosing
the first place inside the view that covers no other panel or face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSizeF

from app.results import FaceResult, percent_text


@dataclass(frozen=True)
class PanelMetrics:
    """Sizes of a panel in screen pixels, from the view's font."""

    row_height: float
    title_height: float
    label_width: float
    bar_width: float
    value_width: float
    padding: float = 8.0
    gap: float = 8.0
    """Between a face's box and its panel."""

    def size(self, rows: int) -> QSizeF:
        return QSizeF(self.padding * 2 + self.label_width + self.bar_width + self.value_width,
                      self.padding * 2 + self.title_height + rows * self.row_height)


@dataclass(frozen=True)
class Bar:
    label: str
    probability: float
    """The smoothed probability shown, in [0, 1]; NaN for an unreadable face."""
    top: bool
    """The face's top emotion, drawn highlighted."""
    track: QRectF
    """The full-length bar (100%)."""
    fill: QRectF
    """The part filled for ``probability`` (none for an unreadable face)."""

    @property
    def text(self) -> str:
        """The number beside the bar: "87%", or "\u2014" for an unreadable face."""
        return percent_text(self.probability)


@dataclass(frozen=True)
class FaceOverlay:
    face_id: int
    box: QRectF
    """The face box in view coordinates."""
    panel: QRectF
    title: str
    bars: tuple[Bar, ...]
    selected: bool
    """The face the timeline plots."""


@dataclass(frozen=True)
class Placement:
    """How a frame is drawn in the view: ``view = offset + scale * frame``."""

    scale: float
    offset: QPointF

    def rect(self, box: Sequence[float]) -> QRectF:
        x, y, width, height = box
        return QRectF(self.offset.x() + x * self.scale, self.offset.y() + y * self.scale,
                      width * self.scale, height * self.scale)


def build_overlay(faces: Sequence[FaceResult], placement: Placement, bounds: QRectF,
                  metrics: PanelMetrics, selected_id: int | None) -> tuple[FaceOverlay, ...]:
    """Overlays for ``faces``, panels placed inside ``bounds`` (the view's rectangle)."""
    boxes = [placement.rect(face.box) for face in faces]
    panels = place_panels(boxes, [metrics.size(len(face.labels)) for face in faces], bounds,
                          metrics.gap)
    return tuple(
        FaceOverlay(face.face_id, box, panel, _title(face), _bars(face, panel, metrics),
                    face.face_id == selected_id)
        for face, box, panel in zip(faces, boxes, panels)
    )


def overlap(overlay: Sequence[FaceOverlay]) -> float:
    """How much the panels cover each other and the faces, in square pixels (0: clear)."""
    panels, boxes = [face.panel for face in overlay], [face.box for face in overlay]
    return sum(_cost(panel, panels[:index], boxes) for index, panel in enumerate(panels))


def place_panels(boxes: Sequence[QRectF], sizes: Sequence[QSizeF], bounds: QRectF,
                 gap: float) -> list[QRectF]:
    """A panel per box: beside it, inside ``bounds``, over no other panel or face if it
    can, else where it covers least (the first clear place in ``_candidates`` order)."""
    placed: list[QRectF] = []
    for box, size in zip(boxes, sizes):
        best, best_cost = QRectF(), float("inf")
        for candidate in _candidates(box, size, gap):
            panel = _inside(candidate, bounds)
            cost = _cost(panel, placed, boxes)
            if cost < best_cost:
                best, best_cost = panel, cost
            if cost == 0:
                break
        placed.append(best)
    return placed


def _cost(panel: QRectF, panels: Sequence[QRectF], boxes: Sequence[QRectF]) -> float:
    """Covering a face is worst; covering another panel hides its numbers too."""
    return (sum(_area(panel.intersected(box)) for box in boxes) * 2
            + sum(_area(panel.intersected(other)) for other in panels))


def _candidates(box: QRectF, size: QSizeF, gap: float) -> list[QRectF]:
    """Right, left, below, above the box, each at three alignments, nearest first."""
    width, height = size.width(), size.height()
    right, left = box.right() + gap, box.left() - gap - width
    below, above = box.bottom() + gap, box.top() - gap - height
    tops = (box.top(), box.center().y() - height / 2, box.bottom() - height)
    lefts = (box.center().x() - width / 2, box.left(), box.right() - width)
    return [
        *(QRectF(x, top, width, height) for top in tops for x in (right, left)),
        *(QRectF(x, y, width, height) for x in lefts for y in (below, above)),
    ]


def _inside(rect: QRectF, bounds: QRectF) -> QRectF:
    """``rect`` moved (not resized) to lie inside ``bounds`` where it fits."""
    x = min(max(rect.left(), bounds.left()), max(bounds.left(), bounds.right() - rect.width()))
    y = min(max(rect.top(), bounds.top()), max(bounds.top(), bounds.bottom() - rect.height()))
    return QRectF(x, y, rect.width(), rect.height())


def _area(rect: QRectF) -> float:
    return max(rect.width(), 0.0) * max(rect.height(), 0.0)


def _title(face: FaceResult) -> str:
    """ID, the emotion shown and, for an ensemble, how many members give it ("4/5 agree");
    "unreadable" when the model gave no numbers for the face."""
    if not face.readable:
        return f"#{face.face_id}  unreadable"
    agreement = f" \u00b7 {face.agreement_text}" if face.agreement_text else ""
    return f"#{face.face_id}  {face.top_label} {percent_text(face.top_probability)}{agreement}"


def _bars(face: FaceResult, panel: QRectF, metrics: PanelMetrics) -> tuple[Bar, ...]:
    top_index = face.top_index if face.readable else -1
    left = panel.left() + metrics.padding + metrics.label_width
    first_row = panel.top() + metrics.padding + metrics.title_height
    bar_height = max(4.0, metrics.row_height * 0.6)
    bars = []
    for index, (label, value) in enumerate(zip(face.labels, face.smoothed)):
        probability = float(np.clip(value, 0.0, 1.0))  # NaN stays NaN
        top = first_row + index * metrics.row_height + (metrics.row_height - bar_height) / 2
        track = QRectF(left, top, metrics.bar_width, bar_height)
        filled = probability if np.isfinite(probability) else 0.0
        fill = QRectF(left, top, metrics.bar_width * filled, bar_height)
        bars.append(Bar(label, probability, index == top_index, track, fill))
    return tuple(bars)
