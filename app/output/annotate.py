"""Drawing a result onto its frame with OpenCV (``app.output.face_layout``'s layout: the
window paints the same one), and the annotated video that ``--output-video`` writes.

Used wherever an annotated image is wanted without Qt.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from app.output.face_layout import FaceLayout, Rect, Text, layout_faces
from app.output.palette import bgr
from app.output.timeline_csv import RecordingError
from app.results import UNREADABLE, FrameResult
from app.system.file_names import is_utf8, printable

FONT = cv2.FONT_HERSHEY_SIMPLEX
CAP_HEIGHT = 22
"""Hershey's capital height in pixels at font scale 1."""
ASCII = {UNREADABLE: "--", " \u00b7 ": ", "}
"""OpenCV's fonts have no dash nor middle dot."""


def draw_result(result: FrameResult) -> np.ndarray:
    """A copy of the frame with every face annotated."""
    canvas = result.frame.image.copy()
    for face in layout_faces(result.faces, (canvas.shape[1], canvas.shape[0])):
        draw_face(canvas, face)
    return canvas


def draw_face(canvas: np.ndarray, face: FaceLayout) -> None:
    """Box, panel, title and bars of one face, where and in the colours the layout says."""
    colour = bgr(face.colour)
    cv2.rectangle(canvas, _point(face.box.x, face.box.y), _point(face.box.right, face.box.bottom), colour,
                  max(1, round(face.line_width)), cv2.LINE_AA)
    _shade(canvas, face.panel, bgr(face.panel_colour), face.panel_opacity)
    if face.outline_width > 0:
        cv2.rectangle(canvas, _point(face.panel.x, face.panel.y), _point(face.panel.right, face.panel.bottom),
                      colour, max(1, round(face.outline_width)), cv2.LINE_AA)
    _fill(canvas, face.accent, colour)
    _text(canvas, face.identity)
    _text(canvas, face.caption)
    for bar in face.painted_bars:
        _fill(canvas, bar.track, bgr(bar.track_colour))
        if bar.fill.width >= 1:
            _fill(canvas, bar.fill, bgr(bar.colour))
        _text(canvas, bar.name)
        _text(canvas, bar.value)


def _point(x: float, y: float) -> tuple[int, int]:
    return round(x), round(y)


def _fill(canvas: np.ndarray, rect: Rect, colour: tuple[int, int, int]) -> None:
    cv2.rectangle(canvas, _point(rect.x, rect.y), _point(rect.right - 1, rect.bottom - 1), colour, -1)


def _shade(canvas: np.ndarray, rect: Rect, colour: tuple[int, int, int], opacity: float) -> None:
    """``rect`` filled with ``colour`` seen at ``opacity`` over the image."""
    height, width = canvas.shape[:2]
    left, top = max(0, round(rect.x)), max(0, round(rect.y))
    right, bottom = min(width, round(rect.right)), min(height, round(rect.bottom))
    region = canvas[top:bottom, left:right]
    region[:] = np.round(region * (1 - opacity) + np.array(colour) * opacity).astype(np.uint8)


def _text(canvas: np.ndarray, text: Text) -> None:
    """``text`` vertically centred in its box, shrunk then cut to fit the box's width."""
    string = text.string
    for original, replacement in ASCII.items():
        string = string.replace(original, replacement)
    string = string.encode("ascii", "replace").decode("ascii")
    scale, thickness = text.size / 30, max(1, round(text.size / (10 if text.bold else 16)))
    width = cv2.getTextSize(string, FONT, scale, thickness)[0][0]
    if width > text.rect.width:
        scale = max(scale * 0.8, scale * text.rect.width / max(width, 1))
    while string and (width := cv2.getTextSize(string, FONT, scale, thickness)[0][0]) > text.rect.width:
        string = string[:-1]
    if not string:
        return
    left = text.rect.right - width if text.align_right else text.rect.x
    baseline = text.rect.center[1] + CAP_HEIGHT * scale / 2
    cv2.putText(canvas, string, _point(left, baseline), FONT, scale, bgr(text.colour), thickness, cv2.LINE_AA)


class AnnotatedVideo:
    """The annotated frames as a video at the source's frame rate, in the source's time.

    Frames the analysis could not keep up with (``--realtime``, cameras, streams) are
    gaps in the frame numbers; the last annotated frame is repeated in each, so the video
    lasts as long as what it shows instead of playing too fast. The file opens at the
    first frame (its size is known only then). Raises RecordingError for a path that
    cannot be written.
    """

    CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}

    def __init__(self, path: str | Path, fps: float | None) -> None:
        self.path = Path(path).expanduser()
        if not self.path.parent.is_dir():
            raise RecordingError(f"cannot write the video to {self.path}: the folder "
                                 f"{self.path.parent} does not exist")
        if self.path.suffix.lower() not in self.CODECS:
            raise RecordingError(f"cannot write the video to {self.path}: use one of "
                                 f"{', '.join(self.CODECS)}")
        self.fps = fps or 15.0
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._size = (0, 0)
        self._last: tuple[int, np.ndarray] | None = None
        """The frame number and image written last."""

    def write(self, result: FrameResult) -> None:
        image = draw_result(result)
        if self._writer is None:
            self._open(image)
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)  # image folders mix sizes
        index = result.frame.index
        if self._last is not None:
            last_index, last_image = self._last
            for _ in range(index - last_index - 1):  # the frames skipped in between
                self._append(last_image)
        self._append(image)
        self._last = index, image

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()

    def _open(self, image: np.ndarray) -> None:
        self._size = (image.shape[1], image.shape[0])
        codec = self.CODECS[self.path.suffix.lower()]
        if not is_utf8(self.path):  # OpenCV's binding crashes on such a name
            raise RecordingError(f"cannot write the video to {printable(self.path)}: its name is "
                                 "not UTF-8; choose another")
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*codec), self.fps,
                                       self._size)
        if not self._writer.isOpened():
            raise RecordingError(f"cannot write the video to {printable(self.path)}")

    def _append(self, image: np.ndarray) -> None:
        self._writer.write(image)
        self.frames_written += 1
