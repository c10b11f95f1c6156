"""A plot of one face's emotion probabilities over time, drawn with QPainter.

One line per emotion in its overlay colour, 0-100% on the vertical axis, a legend with
the newest values (the top emotion in bold), markers as dashed vertical lines. Valence
(``app.face.valence``) is a dotted white line on the same axis read as -1 at the bottom,
0 in the middle and +1 at the top. A face
missing for more than ``GAP_S`` leaves a gap rather than a line across it. Long
recordings are thinned to a few points per pixel before drawing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.face.valence import valence
from app.gui.status import clock_text
from app.gui.theme import GRID, MUTED_TEXT, SURFACE, TEXT, emotion_colour
from app.gui.timeline_data import Series

GAP_S = 1.0
LEGEND_WIDTH = 128.0
NICE_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


class TimelinePlot(QWidget):
    def __init__(self, empty_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(130)
        self.empty_text = empty_text
        self.labels: tuple[str, ...] = ()
        self.series: Series | None = None
        self.x_range = (0.0, 1.0)
        self.markers: tuple[tuple[float, str], ...] = ()
        self.relative = True
        """Label times relative to the right edge ("-10 s"), else as m:ss from zero."""
        self._font = QFont(self.font())
        self._font.setPixelSize(11)

    def set_data(self, labels: Sequence[str], series: Series | None, x_range: tuple[float, float],
                 markers: Sequence[tuple[float, str]] = (), relative: bool = True) -> None:
        self.labels, self.series = tuple(labels), series
        start, end = x_range
        self.x_range = (start, end if end > start else start + 1.0)
        self.markers, self.relative = tuple(markers), relative
        self.update()

    def set_empty_text(self, text: str) -> None:
        self.empty_text = text
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        painter.setFont(self._font)
        painter.fillRect(self.rect(), SURFACE)
        legend = LEGEND_WIDTH if self.labels else 0.0
        plot = QRectF(self.rect()).adjusted(46, 12, -(legend + 28), -24)
        if plot.width() < 40 or plot.height() < 30:
            painter.end()
            return
        self._paint_axes(painter, plot)
        if self.series is None or len(self.series) == 0:
            painter.setPen(MUTED_TEXT)
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.empty_text)
        else:
            painter.save()
            painter.setClipRect(plot.adjusted(-2, -2, 2, 2))
            self._paint_lines(painter, plot, self.series)
            painter.restore()
        self._paint_markers(painter, plot)
        if self.labels:
            self._paint_legend(painter, QRectF(plot.right() + 16, plot.top(), legend, plot.height()))
        painter.end()

    # Internals.

    def _x(self, plot: QRectF, time: float) -> float:
        start, end = self.x_range
        return plot.left() + (time - start) / (end - start) * plot.width()

    def _paint_axes(self, painter: QPainter, plot: QRectF) -> None:
        for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = plot.bottom() - fraction * plot.height()
            painter.setPen(QPen(GRID, 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(MUTED_TEXT)
            painter.drawText(QRectF(0, y - 8, plot.left() - 6, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"{fraction:.0%}")
        start, end = self.x_range
        step = next((s for s in NICE_STEPS if (end - start) / s <= 7), NICE_STEPS[-1])
        anchor = end if self.relative else 0.0  # ticks fall on whole steps from here
        tick = anchor - math.floor((anchor - start) / step) * step
        while tick <= end + 1e-9:
            x = self._x(plot, tick)
            painter.setPen(QPen(GRID, 1))
            painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            painter.setPen(MUTED_TEXT)
            painter.drawText(QRectF(x - 40, plot.bottom() + 4, 80, 16), Qt.AlignmentFlag.AlignCenter,
                             self._time_text(tick))
            tick += step

    def _time_text(self, time: float) -> str:
        if self.relative:
            offset = round(time - self.x_range[1])
            return f"{offset} s" if offset else "now"
        return clock_text(time, tenths=time < 60)

    def _paint_lines(self, painter: QPainter, plot: QRectF, series: Series) -> None:
        times, values = series.times, series.values
        stride = max(1, len(times) // int(plot.width() * 2))
        times, values = times[::stride], values[::stride]
        top = int(np.nanargmax(values[-1])) if np.isfinite(values[-1]).any() else -1
        steps = np.diff(times)
        gap = max(GAP_S, 3 * float(np.median(steps))) if len(steps) else GAP_S  # thinning widens steps
        breaks = np.flatnonzero(steps > gap) + 1
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for index, label in enumerate(self.labels):
            painter.setPen(QPen(emotion_colour(label, index), 2.4 if index == top else 1.4))
            painter.drawPath(self._path(plot, times, values[:, index], breaks))
        if self.labels:
            heights = (np.asarray(valence(values, self.labels)) + 1.0) / 2.0
            painter.setPen(QPen(TEXT, 1.6, Qt.PenStyle.DotLine))
            painter.drawPath(self._path(plot, times, heights, breaks))

    def _path(self, plot: QRectF, times: np.ndarray, heights: np.ndarray, breaks: np.ndarray) -> QPainterPath:
        """One line of ``heights`` (0 to 1 of the plot) over ``times``, broken at ``breaks``."""
        path = QPainterPath()
        for segment_times, segment_values in zip(np.split(times, breaks), np.split(heights, breaks)):
            points = [QPointF(self._x(plot, t), plot.bottom() - v * plot.height())
                      for t, v in zip(segment_times, segment_values) if math.isfinite(v)]
            if len(points) == 1:  # a lone sample (an image, a face seen once) is a dot
                path.addEllipse(points[0], 1.5, 1.5)
            elif points:
                path.moveTo(points[0])
                for point in points[1:]:
                    path.lineTo(point)
        return path

    def _paint_markers(self, painter: QPainter, plot: QRectF) -> None:
        start, end = self.x_range
        for time, label in self.markers:
            if not start <= time <= end:
                continue
            x = self._x(plot, time)
            painter.setPen(QPen(TEXT, 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            painter.setPen(TEXT)
            painter.drawText(QRectF(x + 3, plot.top(), 140, 14),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)

    def _paint_legend(self, painter: QPainter, area: QRectF) -> None:
        latest = self.series.values[-1] if self.series is not None and len(self.series) else None
        finite = latest is not None and np.isfinite(latest).any()
        top = int(np.nanargmax(latest)) if finite else -1
        row = min(18.0, area.height() / max(len(self.labels) + 1, 1))
        bold = QFont(self._font)
        bold.setBold(True)
        for index, label in enumerate(self.labels):
            y = area.top() + index * row
            painter.fillRect(QRectF(area.left(), y + row / 2 - 2, 12, 4), emotion_colour(label, index))
            painter.setFont(bold if index == top else self._font)
            painter.setPen(TEXT if index == top else MUTED_TEXT)
            text_rect = QRectF(area.left() + 18, y, area.width() - 18, row)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
            if finite and math.isfinite(latest[index]):
                painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 f"{latest[index]:.0%}")
        painter.setFont(self._font)
        y = area.top() + len(self.labels) * row
        painter.setPen(QPen(TEXT, 1.6, Qt.PenStyle.DotLine))
        painter.drawLine(QPointF(area.left(), y + row / 2), QPointF(area.left() + 12, y + row / 2))
        painter.setPen(MUTED_TEXT)
        text_rect = QRectF(area.left() + 18, y, area.width() - 18, row)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "valence")
        value = valence(latest, self.labels) if finite else math.nan
        if math.isfinite(value):
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"{value:+.2f}")
