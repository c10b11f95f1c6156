"""The live video with, for every face, its box, its ID and a panel of emotion bars.

Painted with QPainter at screen resolution (crisp text whatever the video's size); the
frame is scaled to fit, keeping its aspect ratio. What is drawn is kept in ``overlay``
(see ``app.gui.overlay``). A click on a face or its panel selects it for the timeline.
Without a frame the view shows a message saying what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui.overlay import FaceOverlay, PanelMetrics, Placement, build_overlay, overlap
from app.gui.theme import MUTED_TEXT, PANEL, SURFACE, TEXT, emotion_colour, face_colour
from app.results import FrameResult

LABEL_WIDTH_LIMIT = 120.0


@dataclass(frozen=True)
class _Style:
    """Panel text sizes in pixels and bar length; compact when faces crowd the frame."""

    text_px: int
    title_px: int
    bar_width: float

    def fonts(self, base: QFont) -> tuple[QFont, QFont, QFont]:
        """Regular, bold and title fonts."""
        text = QFont(base)
        text.setPixelSize(self.text_px)
        bold = QFont(text)
        bold.setBold(True)
        title = QFont(bold)
        title.setPixelSize(self.title_px)
        return text, bold, title


STYLES = (_Style(12, 13, 96.0), _Style(10, 11, 60.0))
RECORDING_RED = QColor("#ef5350")


class VideoView(QWidget):
    face_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(480, 300)
        self.overlay: tuple[FaceOverlay, ...] = ()
        """What is drawn for each face of ``result``."""
        self.result: FrameResult | None = None
        self.selected_face_id: int | None = None
        self.placeholder = ("No source", "Choose a camera, a video, an image folder or a stream.")
        self.recording_text: str | None = None
        """Shown over the video's corner while recording ("REC 00:12, 345 rows")."""
        self.compact = False
        """The panels use the compact style (faces too crowded for the regular one)."""
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # the memory ``_image`` points into
        self._text_font, self._bold_font, self._title_font = STYLES[0].fonts(self.font())

    def show_result(self, result: FrameResult) -> None:
        pixels = np.ascontiguousarray(result.frame.image)
        height, width = pixels.shape[:2]
        self._pixels = pixels
        self._image = QImage(pixels.data, width, height, pixels.strides[0],
                             QImage.Format.Format_BGR888)
        self.result = result
        self._layout_overlay()
        self.update()

    def clear(self) -> None:
        self.result, self._image, self._pixels, self.overlay = None, None, None, ()
        self.update()

    def set_placeholder(self, title: str, detail: str = "") -> None:
        """The message shown while there is no frame."""
        self.placeholder = (title, detail)
        self.update()

    def set_recording_text(self, text: str | None) -> None:
        if text != self.recording_text:
            self.recording_text = text
            self.update()

    def set_selected_face(self, face_id: int | None) -> None:
        if face_id != self.selected_face_id:
            self.selected_face_id = face_id
            self._layout_overlay()
            self.update()

    def image_rect(self) -> QRectF:
        """Where the frame is drawn: scaled to fit, centred."""
        if self._image is None:
            return QRectF()
        scale = self._placement().scale
        width, height = self._image.width() * scale, self._image.height() * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    # Qt.

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._layout_overlay()
        super().resizeEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        for face in self.overlay:
            if face.box.contains(event.position()) or face.panel.contains(event.position()):
                self.face_clicked.emit(face.face_id)
                return
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing
                               | QPainter.RenderHint.SmoothPixmapTransform
                               | QPainter.RenderHint.TextAntialiasing)
        painter.fillRect(self.rect(), SURFACE)
        if self._image is None:
            self._paint_placeholder(painter)
        else:
            painter.drawImage(self.image_rect(), self._image)
            for face in self.overlay:
                self._paint_face(painter, face)
            if self.recording_text:
                self._paint_recording(painter)
        painter.end()

    # Internals.

    def _placement(self) -> Placement:
        image = self._image
        scale = min(self.width() / image.width(), self.height() / image.height())
        return Placement(scale, QPointF((self.width() - image.width() * scale) / 2,
                                        (self.height() - image.height() * scale) / 2))

    def _layout_overlay(self) -> None:
        """The regular panels, or compact ones when those cover faces or each other less."""
        if self.result is None or self._image is None:
            self.overlay = ()
            return
        best = None
        for style in STYLES:
            fonts = style.fonts(self.font())
            overlay = build_overlay(self.result.faces, self._placement(), QRectF(self.rect()),
                                    _metrics(self.result.labels, style, *fonts), self.selected_face_id)
            covered = overlap(overlay)
            if best is None or covered < best[0]:
                best = (covered, overlay, style, fonts)
            if covered == 0:
                break
        _, self.overlay, style, fonts = best
        self.compact = style is not STYLES[0]
        self._text_font, self._bold_font, self._title_font = fonts

    def _paint_face(self, painter: QPainter, face: FaceOverlay) -> None:
        colour = face_colour(face.face_id)
        painter.setPen(QPen(colour, 3.0 if face.selected else 2.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(face.box, 3, 3)
        panel = face.panel
        painter.setPen(QPen(colour, 1.5) if face.selected else Qt.PenStyle.NoPen)
        painter.setBrush(PANEL)
        painter.drawRoundedRect(panel, 6, 6)
        painter.fillRect(QRectF(panel.left(), panel.top() + 6, 3, panel.height() - 12), colour)
        self._paint_title(painter, face, colour)
        if not face.bars:
            return
        label_left = panel.left() + 10
        value_right = panel.right() - 8
        row = face.bars[1].track.top() - face.bars[0].track.top() if len(face.bars) > 1 else 20.0
        for index, bar in enumerate(face.bars):
            centre = bar.track.center().y()
            text_rect = QRectF(label_left, centre - row / 2, bar.track.left() - label_left - 6, row)
            painter.setFont(self._bold_font if bar.top else self._text_font)
            painter.setPen(TEXT if bar.top else MUTED_TEXT)
            label = painter.fontMetrics().elidedText(bar.label, Qt.TextElideMode.ElideRight,
                                                     int(text_rect.width()))
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             label)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(255, 255, 255, 22))
            painter.drawRoundedRect(bar.track, 2, 2)
            fill = emotion_colour(bar.label, index)
            if not bar.top:
                fill.setAlpha(150)
            painter.setBrush(fill)
            if bar.fill.width() >= 1:
                painter.drawRoundedRect(bar.fill, 2, 2)
            painter.setPen(TEXT if bar.top else MUTED_TEXT)
            value_rect = QRectF(bar.track.right(), centre - row / 2, value_right - bar.track.right(), row)
            painter.drawText(value_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             bar.text)

    def _paint_title(self, painter: QPainter, face: FaceOverlay, colour: QColor) -> None:
        painter.setFont(self._title_font)
        identity, _, emotion = face.title.partition("  ")
        left, top = face.panel.left() + 10, face.panel.top() + 6
        height = QFontMetricsF(self._title_font).height() + 4
        painter.setPen(colour)
        painter.drawText(QRectF(left, top, face.panel.width(), height),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, identity)
        painter.setPen(TEXT)
        shift = painter.fontMetrics().horizontalAdvance(identity + "  ")
        painter.drawText(QRectF(left + shift, top, face.panel.width() - shift - 18, height),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, emotion)

    def _paint_recording(self, painter: QPainter) -> None:
        font = QFont(self._bold_font)
        font.setPixelSize(12)
        painter.setFont(font)
        width = QFontMetricsF(font).horizontalAdvance(self.recording_text) + 34
        corner = self.image_rect().topLeft() + QPointF(10, 10)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(PANEL)
        painter.drawRoundedRect(QRectF(corner, QSizeF(width, 24)), 12, 12)
        painter.setBrush(RECORDING_RED)
        painter.drawEllipse(QRectF(corner + QPointF(9, 7), QSizeF(10, 10)))
        painter.setPen(TEXT)
        painter.drawText(QRectF(corner + QPointF(25, 0), QSizeF(width - 25, 24)),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         self.recording_text)

    def _paint_placeholder(self, painter: QPainter) -> None:
        title, detail = self.placeholder
        area = QRectF(self.rect()).adjusted(40, 0, -40, 0)
        title_font = QFont(self._title_font)
        title_font.setPixelSize(18)
        painter.setFont(title_font)
        painter.setPen(TEXT)
        painter.drawText(QRectF(area.left(), area.center().y() - 40, area.width(), 30),
                         Qt.AlignmentFlag.AlignCenter, title)
        painter.setFont(self._text_font)
        painter.setPen(MUTED_TEXT)
        painter.drawText(QRectF(area.left(), area.center().y() - 4, area.width(), 80),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                         | Qt.TextFlag.TextWordWrap, detail)


def _metrics(labels: tuple[str, ...], style: _Style, text: QFont, bold: QFont,
             title: QFont) -> PanelMetrics:
    text_metrics, bold_metrics = QFontMetricsF(text), QFontMetricsF(bold)
    widest = max((bold_metrics.horizontalAdvance(label) for label in labels), default=40.0)
    return PanelMetrics(row_height=text_metrics.height() + style.text_px * 0.4,
                        title_height=QFontMetricsF(title).height() + 6,
                        label_width=min(widest, LABEL_WIDTH_LIMIT) + 10, bar_width=style.bar_width,
                        value_width=bold_metrics.horizontalAdvance("100%") + 8)
