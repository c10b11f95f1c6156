"""Drawing a result onto its frame: box, ID and emotion bars for every face (OpenCV),
and the annotated video that ``--output-video`` writes.

Used wherever an annotated image is wanted without Qt. Each face gets its ID's colour
(``app.palette``, as in the window), so a face keeps its colour while it keeps its ID.
The bar panel sits to the right of the box, or to its left when the frame ends first;
the top (smoothed) emotion is drawn filled, the others as lighter bars.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from app.palette import face_colour_bgr
from app.recorder import RecordingError
from app.results import FaceResult, FrameResult, percent_text

FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_result(result: FrameResult) -> np.ndarray:
    """A copy of the frame with every face annotated."""
    canvas = result.frame.image.copy()
    largest_row = max(14, round(canvas.shape[0] / 28))
    for face in result.faces:  # a panel about as tall as its face, so crowds stay legible
        draw_face(canvas, face, int(np.clip(face.box[3] / 7, 10, largest_row)))
    return canvas


def draw_face(canvas: np.ndarray, face: FaceResult, row: int) -> None:
    """Box, ID, top emotion and bars of one face; ``row`` sets the text size in pixels."""
    colour = face_colour_bgr(face.face_id)
    x, y, width, height = (int(round(value)) for value in face.box)
    font = row / 30.0
    thickness = max(1, row // 12)
    cv2.rectangle(canvas, (x, y), (x + width, y + height), colour, thickness + 1)
    title = f"#{face.face_id}"
    if face.labels:
        title += (f" {face.top_label} {percent_text(face.top_probability)}" if face.readable
                  else " unreadable")
    if face.agreement_text:
        title += f", {face.agreement_text}"
    cv2.putText(canvas, title, (x, max(row, y - 5)), FONT, font * 1.1, colour, thickness,
                cv2.LINE_AA)
    if face.labels:
        _draw_bars(canvas, face, (x, y, width), colour, row)


def _draw_bars(canvas: np.ndarray, face: FaceResult, box: tuple[int, int, int],
               colour: tuple[int, int, int], row: int) -> None:
    x, y, width = box
    font = row / 30.0
    text_width, bar_width, number_width = int(row * 4.2), int(row * 5), int(row * 2.6)
    panel_width = text_width + bar_width + number_width
    panel_height = row * len(face.labels) + 4
    left = x + width + 6
    if left + panel_width > canvas.shape[1]:
        left = max(0, x - panel_width - 6)
    top = max(0, min(y, canvas.shape[0] - panel_height))
    shade = canvas.copy()
    cv2.rectangle(shade, (left, top), (left + panel_width, top + panel_height), (25, 25, 25), -1)
    cv2.addWeighted(shade, 0.6, canvas, 0.4, 0, dst=canvas)
    top_index = face.top_index if face.readable else -1
    for index, (label, probability) in enumerate(zip(face.labels, face.smoothed)):
        baseline = top + row * (index + 1)
        highlight = index == top_index
        text_colour = (255, 255, 255) if highlight else (190, 190, 190)
        cv2.putText(canvas, label[:9], (left + 3, baseline - 3), FONT, font, text_colour, 1,
                    cv2.LINE_AA)
        bar_left = left + text_width
        length = int(round(float(probability) * bar_width)) if np.isfinite(probability) else 0
        bar_colour = colour if highlight else tuple(int(c * 0.55) for c in colour)
        cv2.rectangle(canvas, (bar_left, baseline - row + 4), (bar_left + length, baseline - 1),
                      bar_colour, -1)
        value = percent_text(probability, "--")  # OpenCV's fonts have no dash
        cv2.putText(canvas, value, (bar_left + bar_width + 3, baseline - 3), FONT, font,
                    text_colour, 1, cv2.LINE_AA)


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
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*codec), self.fps,
                                       self._size)
        if not self._writer.isOpened():
            raise RecordingError(f"cannot write the video to {self.path}")

    def _append(self, image: np.ndarray) -> None:
        self._writer.write(image)
        self.frames_written += 1
