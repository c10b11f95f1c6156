"""Where each face's box, panel, bars and texts go, and in which colours: one layout that
the annotated video (``app.output.annotate``, OpenCV) and the window (``app.gui.overlay``,
Qt) both paint, so a face looks the same in both.

Everything is in frame pixels, in proportion to one text height: the window keeps it
fixed on screen (crisp text whatever the video's scale) and maps the layout onto its
widget; the annotated video scales it with each face (``video_text_px``), so crowds stay
legible. A face's panel holds its title and one bar per emotion; it goes to the right of
the face, else left, below or above, at the first place inside the bounds that covers no
other panel or face, else where it covers least.

Colours (``app.output.palette``), one rule for every painter: the box, the ID, the panel's
accent stripe and a selected face's panel outline in the face ID's colour, so a face keeps
its colour while it keeps its ID; each bar in its emotion's colour, as in the timeline,
full for the emotion shown and seen through the panel (dimmed) for the others; the
emotion shown in ``TEXT_RGB``, the other rows in ``MUTED_TEXT_RGB``. Below the emotions,
a valence gauge (``app.face.valence``) fills from its middle: rightwards in happy's
colour above 0, leftwards in angry's below (dimmed, as it is never the emotion shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.face.valence import valence, valence_indices
from app.output import palette
from app.results import UNREADABLE, FaceResult, percent_text

CHAR_WIDTH = 0.62
"""A character's estimated width in text heights; painters elide what does not fit."""
LABEL_CHARS = 10
"""Labels longer than this are elided rather than widen every panel."""
DIMMED_BAR = 150 / 255
"""How much of its colour an emotion other than the one shown keeps over the panel."""


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2

    def contains(self, x: float, y: float) -> bool:
        return self.x <= x <= self.right and self.y <= y <= self.bottom

    def overlap_area(self, other: Rect) -> float:
        width = min(self.right, other.right) - max(self.x, other.x)
        height = min(self.bottom, other.bottom) - max(self.y, other.y)
        return max(width, 0.0) * max(height, 0.0)

    def moved_inside(self, bounds: Rect) -> Rect:
        """Moved (not resized) to lie inside ``bounds`` where it fits."""
        x = min(max(self.x, bounds.x), max(bounds.x, bounds.right - self.width))
        y = min(max(self.y, bounds.y), max(bounds.y, bounds.bottom - self.height))
        return Rect(x, y, self.width, self.height)

    def mapped(self, scale: float, dx: float, dy: float) -> Rect:
        """In other pixels: ``other = (dx, dy) + scale * these``."""
        return Rect(dx + self.x * scale, dy + self.y * scale, self.width * scale, self.height * scale)


@dataclass(frozen=True)
class Text:
    string: str
    rect: Rect
    """The box the text is fitted into (elided if wider), vertically centred."""
    colour: str
    size: float
    """Text height in pixels (a font's pixel size)."""
    bold: bool = False
    align_right: bool = False

    def mapped(self, scale: float, dx: float, dy: float) -> Text:
        return replace(self, rect=self.rect.mapped(scale, dx, dy), size=self.size * scale)


@dataclass(frozen=True)
class Bar:
    label: str
    probability: float
    """The smoothed probability shown, in [0, 1]; NaN for an unreadable face."""
    fraction: float
    """How much of ``track`` is filled: ``probability``, 0 for an unreadable face."""
    top: bool
    """The face's emotion shown, drawn highlighted."""
    track: Rect
    """The full-length bar (100%), in ``track_colour``."""
    fill: Rect
    colour: str
    track_colour: str
    name: Text
    value: Text
    """"87%", or "\u2014" (``app.results.UNREADABLE``) for an unreadable face."""

    @property
    def text(self) -> str:
        return self.value.string

    def mapped(self, scale: float, dx: float, dy: float) -> Bar:
        return replace(self, track=self.track.mapped(scale, dx, dy), fill=self.fill.mapped(scale, dx, dy),
                       name=self.name.mapped(scale, dx, dy), value=self.value.mapped(scale, dx, dy))


@dataclass(frozen=True)
class FaceLayout:
    face_id: int
    colour: str
    """The face ID's: box, ``identity``, ``accent`` and the selected outline."""
    box: Rect
    line_width: float
    """The box's outline."""
    panel: Rect
    panel_colour: str
    panel_opacity: float
    outline_width: float
    """The panel's outline: 0 (none) unless the face is selected."""
    accent: Rect
    """A stripe along the panel's left edge."""
    identity: Text
    """"#4"."""
    caption: Text
    """The emotion shown ("surprise 70% \u00b7 4/5 agree"), or "unreadable"."""
    bars: tuple[Bar, ...]
    selected: bool
    """The face the window's timeline plots."""
    valence: Bar | None = None
    """The valence gauge: ``probability`` holds the valence (-1 to 1), ``fill`` starts at
    the track's middle; None for labels valence cannot be made from."""

    @property
    def painted_bars(self) -> tuple[Bar, ...]:
        """Every bar a painter draws: the emotions', then the valence gauge."""
        return self.bars + ((self.valence,) if self.valence is not None else ())

    @property
    def title(self) -> str:
        caption = self.caption.string
        return f"{self.identity.string}  {caption}" if caption else self.identity.string

    def mapped(self, scale: float, dx: float, dy: float) -> FaceLayout:
        """The same layout in other pixels (the window's), ``other = (dx, dy) + scale * frame``."""
        return replace(
            self, box=self.box.mapped(scale, dx, dy), line_width=self.line_width * scale,
            panel=self.panel.mapped(scale, dx, dy), outline_width=self.outline_width * scale,
            accent=self.accent.mapped(scale, dx, dy), identity=self.identity.mapped(scale, dx, dy),
            caption=self.caption.mapped(scale, dx, dy),
            bars=tuple(bar.mapped(scale, dx, dy) for bar in self.bars),
            valence=self.valence and self.valence.mapped(scale, dx, dy))


@dataclass(frozen=True)
class PanelMetrics:
    """A panel's sizes in pixels, all in proportion to its text height ``text_px``."""

    text_px: float
    label_width: float
    """The longest label (at most ``LABEL_CHARS`` characters) and the space before its bar."""
    padding: float
    """Inside the panel, and between a face's box and its panel."""
    title_height: float
    row_height: float
    bar_width: float
    value_width: float
    """Room for "100%"."""

    @classmethod
    def for_labels(cls, text_px: float, labels: Sequence[str]) -> PanelMetrics:
        if not text_px > 0:
            raise ValueError(f"the text height must be a positive number of pixels, not {text_px}")
        characters = min(max((len(label) for label in labels), default=4), LABEL_CHARS)
        return cls(text_px, label_width=(characters * CHAR_WIDTH + 0.8) * text_px, padding=0.65 * text_px,
                   title_height=1.8 * text_px, row_height=1.55 * text_px, bar_width=8.0 * text_px,
                   value_width=3.3 * text_px)

    def size(self, rows: int) -> tuple[float, float]:
        return (self.padding * 2 + self.label_width + self.bar_width + self.value_width,
                self.padding * 2 + self.title_height + rows * self.row_height)


def video_text_px(box_height: float, frame_height: float) -> float:
    """The annotated video's text height for a face: its panel about as tall as the face,
    readable on small faces, never huge on big frames."""
    return min(max(box_height / 13, 9.0), max(12.0, frame_height / 40))


def layout_faces(faces: Sequence[FaceResult], frame_size: tuple[int, int], *, text_px: float | None = None,
                 bounds: Rect | None = None, selected_id: int | None = None) -> tuple[FaceLayout, ...]:
    """The layout of every face of a frame ``frame_size`` (width, height) pixels large.

    ``text_px``: one text height for every panel, in frame pixels; None: each face's
    ``video_text_px``. ``bounds``: where panels may go (default: the frame).
    """
    width, height = frame_size
    if bounds is None:
        bounds = Rect(0.0, 0.0, float(width), float(height))
    metrics = [PanelMetrics.for_labels(video_text_px(face.box[3], height) if text_px is None else text_px,
                                       face.labels) for face in faces]
    boxes = [Rect(*(float(value) for value in face.box)) for face in faces]
    panels = place_panels(boxes, [metric.size(_rows(face)) for metric, face in zip(metrics, faces)],
                          bounds, [metric.padding for metric in metrics])
    return tuple(_face_layout(face, box, panel, metric, face.face_id == selected_id)
                 for face, box, panel, metric in zip(faces, boxes, panels, metrics))


def overlap(layouts: Sequence[FaceLayout]) -> float:
    """How much the panels cover each other and the faces, in square pixels (0: clear)."""
    panels, boxes = [face.panel for face in layouts], [face.box for face in layouts]
    return sum(_cost(panel, panels[:index], boxes) for index, panel in enumerate(panels))


def place_panels(boxes: Sequence[Rect], sizes: Sequence[tuple[float, float]], bounds: Rect,
                 gaps: Sequence[float]) -> list[Rect]:
    """A panel per box: beside it, inside ``bounds``, over no other panel or face if it
    can, else where it covers least (the first clear place in ``_candidates`` order)."""
    placed: list[Rect] = []
    for box, size, gap in zip(boxes, sizes, gaps):
        best, best_cost = Rect(box.x, box.y, *size), float("inf")
        for candidate in _candidates(box, size, gap):
            panel = candidate.moved_inside(bounds)
            cost = _cost(panel, placed, boxes)
            if cost < best_cost:
                best, best_cost = panel, cost
            if cost == 0:
                break
        placed.append(best)
    return placed


def _cost(panel: Rect, panels: Sequence[Rect], boxes: Sequence[Rect]) -> float:
    """Covering a face is worst; covering another panel hides its numbers too."""
    return (sum(panel.overlap_area(box) for box in boxes) * 2
            + sum(panel.overlap_area(other) for other in panels))


def _candidates(box: Rect, size: tuple[float, float], gap: float) -> list[Rect]:
    """Right, left, below, above the box, each at three alignments, nearest first."""
    width, height = size
    right, left = box.right + gap, box.x - gap - width
    below, above = box.bottom + gap, box.y - gap - height
    centre_x, centre_y = box.center
    tops = (box.y, centre_y - height / 2, box.bottom - height)
    lefts = (centre_x - width / 2, box.x, box.right - width)
    return [
        *(Rect(x, top, width, height) for top in tops for x in (right, left)),
        *(Rect(x, y, width, height) for x in lefts for y in (below, above)),
    ]


def _face_layout(face: FaceResult, box: Rect, panel: Rect, metrics: PanelMetrics,
                 selected: bool) -> FaceLayout:
    colour, em = palette.face_colour_rgb(face.face_id), metrics.text_px
    inner_left, inner_right = panel.x + metrics.padding, panel.right - metrics.padding
    title_top, title_px = panel.y + metrics.padding / 2, 1.08 * em
    identity = f"#{face.face_id}"
    identity_width = (len(identity) + 1) * CHAR_WIDTH * title_px  # a character's room to spare
    caption_left = inner_left + identity_width
    return FaceLayout(
        face_id=face.face_id, colour=colour, box=box, line_width=em / (4 if selected else 6),
        panel=panel, panel_colour=palette.PANEL_RGB, panel_opacity=palette.PANEL_OPACITY,
        outline_width=em / 8 if selected else 0.0,
        accent=Rect(panel.x, panel.y + metrics.padding * 0.75, 0.25 * em,
                    panel.height - metrics.padding * 1.5),
        identity=Text(identity, Rect(inner_left, title_top, identity_width, metrics.title_height), colour,
                      title_px, bold=True),
        caption=Text(_caption(face), Rect(caption_left, title_top, inner_right - caption_left,
                                          metrics.title_height), palette.TEXT_RGB, title_px, bold=True),
        bars=_bars(face, panel, metrics), selected=selected, valence=_valence_bar(face, panel, metrics))


def _rows(face: FaceResult) -> int:
    """The panel's rows: one per emotion, and the valence gauge where there is one."""
    return len(face.labels) + (valence_indices(face.labels) is not None)


def _caption(face: FaceResult) -> str:
    """The emotion shown and, for an ensemble, how many members give it ("4/5 agree"), or
    for a calibrated face "calibrated" ("calibrating" while its baseline is recorded);
    "unreadable" when the model gave no numbers for the face."""
    if not face.labels:
        return ""
    if not face.readable:
        return "unreadable"
    top = face.shown_top_index
    note = ("calibrating" if face.calibrating else "calibrated" if face.baseline is not None
            else face.agreement_text)
    caption = f"{face.labels[top]} {percent_text(float(face.shown_values[top]))}"
    return f"{caption} \u00b7 {note}" if note else caption


def _bars(face: FaceResult, panel: Rect, metrics: PanelMetrics) -> tuple[Bar, ...]:
    top_index = face.shown_top_index if face.readable else -1
    bars = []
    for index, (label, value) in enumerate(zip(face.labels, face.shown_values)):
        probability = float(np.clip(value, 0.0, 1.0))  # NaN stays NaN
        fraction = probability if np.isfinite(probability) else 0.0
        top = index == top_index
        colour = palette.emotion_colour_rgb(label, index)
        bars.append(_bar(label, probability, fraction, top, index, panel, metrics, percent_text(probability),
                         colour if top else palette.mix(colour, palette.PANEL_RGB, DIMMED_BAR)))
    return tuple(bars)


def _valence_bar(face: FaceResult, panel: Rect, metrics: PanelMetrics) -> Bar | None:
    """The gauge below the emotions: the valence of the read shown, filled from the middle."""
    indices = valence_indices(face.labels)
    if indices is None:
        return None
    value = float(np.clip(valence(face.shown_values, face.labels), -1.0, 1.0))  # NaN stays NaN
    fraction = abs(value) if np.isfinite(value) else 0.0
    text = f"{value:+.2f}" if np.isfinite(value) else UNREADABLE
    side = indices[0] if value >= 0 else indices[1][0]
    colour = palette.mix(palette.emotion_colour_rgb(face.labels[side], side), palette.PANEL_RGB, DIMMED_BAR)
    bar = _bar("valence", value, fraction, False, len(face.labels), panel, metrics, text, colour)
    half = bar.track.width / 2 * fraction
    left = bar.track.center[0] - (half if value < 0 else 0.0)
    return replace(bar, fill=Rect(left, bar.track.y, half, bar.track.height))


def _bar(label: str, value: float, fraction: float, top: bool, row_index: int, panel: Rect,
         metrics: PanelMetrics, text: str, colour: str) -> Bar:
    """One row of the panel: name, track filled from the left by ``fraction``, value text."""
    em, row = metrics.text_px, metrics.row_height
    inner_left = panel.x + metrics.padding
    row_top = panel.y + metrics.padding + metrics.title_height + row_index * row
    bar_height = 0.6 * row
    track = Rect(inner_left + metrics.label_width, row_top + (row - bar_height) / 2, metrics.bar_width,
                 bar_height)
    text_colour = palette.TEXT_RGB if top else palette.MUTED_TEXT_RGB
    return Bar(label, value, fraction, top, track,
               fill=Rect(track.x, track.y, track.width * fraction, track.height), colour=colour,
               track_colour=palette.TRACK_RGB,
               name=Text(label, Rect(inner_left, row_top, metrics.label_width - 0.5 * em, row), text_colour,
                         em, bold=top),
               value=Text(text, Rect(track.right, row_top, panel.right - metrics.padding - track.right, row),
                          text_colour, em, bold=top, align_right=True))
