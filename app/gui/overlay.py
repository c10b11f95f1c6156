"""The window's face overlay: ``app.output.face_layout``'s layout, mapped from frame pixels
onto the widget and painted with QPainter, where and in the colours the annotated video
draws it too.

The view keeps the mapped layouts in ``VideoView.overlay``, so tests (and anything else)
can read what is on screen without parsing pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen

from app.output.face_layout import FaceLayout, Rect, Text


@dataclass(frozen=True)
class Placement:
    """How a frame is drawn in the view: ``view = offset + scale * frame``."""

    scale: float
    offset_x: float
    offset_y: float

    def to_view(self, face: FaceLayout) -> FaceLayout:
        return face.mapped(self.scale, self.offset_x, self.offset_y)

    def frame_rect(self, view_width: float, view_height: float) -> Rect:
        """The whole view in frame pixels: where panels may go, the surround included."""
        return Rect(-self.offset_x / self.scale, -self.offset_y / self.scale, view_width / self.scale,
                    view_height / self.scale)


def qrect(rect: Rect) -> QRectF:
    return QRectF(rect.x, rect.y, rect.width, rect.height)


class FacePainter:
    """Paints face layouts, already in the painter's pixels, in fonts made from ``base``."""

    def __init__(self, base: QFont) -> None:
        self._base = base
        self._fonts: dict[tuple[int, bool], QFont] = {}

    def paint(self, painter: QPainter, face: FaceLayout) -> None:
        colour = QColor(face.colour)
        painter.setPen(QPen(colour, face.line_width))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(qrect(face.box), 3, 3)
        panel_colour = QColor(face.panel_colour)
        panel_colour.setAlphaF(face.panel_opacity)
        painter.setPen(QPen(colour, face.outline_width) if face.outline_width > 0 else Qt.PenStyle.NoPen)
        painter.setBrush(panel_colour)
        painter.drawRoundedRect(qrect(face.panel), 6, 6)
        painter.fillRect(qrect(face.accent), colour)
        self._text(painter, face.identity)
        self._text(painter, face.caption)
        for bar in face.painted_bars:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(bar.track_colour))
            painter.drawRoundedRect(qrect(bar.track), 2, 2)
            if bar.fill.width >= 1:
                painter.setBrush(QColor(bar.colour))
                painter.drawRoundedRect(qrect(bar.fill), 2, 2)
            self._text(painter, bar.name)
            self._text(painter, bar.value)

    def _text(self, painter: QPainter, text: Text) -> None:
        if not text.string:
            return
        painter.setFont(self._font(text.size, text.bold))
        painter.setPen(QColor(text.colour))
        string = painter.fontMetrics().elidedText(text.string, Qt.TextElideMode.ElideRight,
                                                  int(text.rect.width))
        alignment = Qt.AlignmentFlag.AlignRight if text.align_right else Qt.AlignmentFlag.AlignLeft
        painter.drawText(qrect(text.rect), Qt.AlignmentFlag.AlignVCenter | alignment, string)

    def _font(self, size: float, bold: bool) -> QFont:
        key = max(1, round(size)), bold
        if key not in self._fonts:
            font = QFont(self._base)
            font.setPixelSize(key[0])
            font.setBold(bold)
            self._fonts[key] = font
        return self._fonts[key]
