"""The live video with, for every face, its box, its ID and a panel of emotion bars.

Painted with QPainter at screen resolution, the panels' text a fixed size on screen (crisp
whatever the video's size); the frame is scaled to fit, keeping its aspect ratio. The
faces are laid out as in annotated videos (``app.output.face_layout``) and what is drawn
is kept in ``overlay``, in view pixels. A click on a face or its panel selects it for the
timeline.
Without a frame the view shows a message saying what to do next.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QMouseEvent, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui.overlay import FacePainter, Placement
from app.gui.theme import MUTED_TEXT, PANEL, SURFACE, TEXT
from app.output.face_layout import FaceLayout, layout_faces, overlap
from app.results import FrameResult

TEXT_SIZES = (12.0, 10.0)
"""The panels' text height on screen, in pixels: regular, and compact for crowded frames."""
RECORDING_RED = QColor("#ef5350")


def _font(base: QFont, pixels: int, bold: bool = False) -> QFont:
    font = QFont(base)
    font.setPixelSize(pixels)
    font.setBold(bold)
    return font


class VideoView(QWidget):
    face_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(480, 300)
        self.overlay: tuple[FaceLayout, ...] = ()
        """What is drawn for each face of ``result``, in view pixels."""
        self.result: FrameResult | None = None
        self.selected_face_id: int | None = None
        self.placeholder = ("No source", "Choose a camera, a video, an image folder or a stream.")
        self.recording_text: str | None = None
        """Shown over the video's corner while recording ("REC 00:12, 345 rows")."""
        self.compact = False
        """The panels use the compact style (faces too crowded for the regular one)."""
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # the memory ``_image`` points into
        self._face_painter = FacePainter(self.font())

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
        x, y = event.position().x(), event.position().y()
        for face in self.overlay:
            if face.box.contains(x, y) or face.panel.contains(x, y):
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
                self._face_painter.paint(painter, face)
            if self.recording_text:
                self._paint_recording(painter)
        painter.end()

    # Internals.

    def _placement(self) -> Placement:
        image = self._image
        scale = min(self.width() / image.width(), self.height() / image.height())
        return Placement(scale, (self.width() - image.width() * scale) / 2,
                         (self.height() - image.height() * scale) / 2)

    def _layout_overlay(self) -> None:
        """The regular panels, or compact ones when those cover faces or each other less."""
        placement = self._placement() if self._image is not None else None
        if self.result is None or placement is None or placement.scale <= 0:
            self.overlay = ()
            return
        frame_size = self._image.width(), self._image.height()
        bounds = placement.frame_rect(self.width(), self.height())
        best = None
        for text_px in TEXT_SIZES:
            layouts = layout_faces(self.result.faces, frame_size, text_px=text_px / placement.scale,
                                   bounds=bounds, selected_id=self.selected_face_id)
            covered = overlap(layouts)
            if best is None or covered < best[0]:
                best = (covered, layouts, text_px)
            if covered == 0:
                break
        _, layouts, text_px = best
        self.compact = text_px != TEXT_SIZES[0]
        self.overlay = tuple(placement.to_view(face) for face in layouts)

    def _paint_recording(self, painter: QPainter) -> None:
        font = _font(self.font(), 12, bold=True)
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
        painter.setFont(_font(self.font(), 18, bold=True))
        painter.setPen(TEXT)
        painter.drawText(QRectF(area.left(), area.center().y() - 40, area.width(), 30),
                         Qt.AlignmentFlag.AlignCenter, title)
        painter.setFont(_font(self.font(), 12))
        painter.setPen(MUTED_TEXT)
        painter.drawText(QRectF(area.left(), area.center().y() - 4, area.width(), 80),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                         | Qt.TextFlag.TextWordWrap, detail)

