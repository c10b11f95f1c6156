"""Faces the face detector alone reports must earn their place before they are counted.

A face whose 478-point mesh is found is a face. One that only the full-range detector
reports (no mesh: a small or blurred face, or something face-like) is passed on only once
it is confident and persistent: a detector score of at least ``MIN_DETECTOR_SCORE`` in
``MIN_DETECTOR_FRAMES`` analysed frames in a row at about the same place, or a mesh seen
there before. In a still image (no frame before it) the score alone decides. Until then
it gets no face ID, no CSV row and no place in the summary: on ``pyfeat_no_face.mp4`` the
title lettering came through as two "faces" read as happy.

``benchmarks/false_faces.py`` chose the two thresholds on the shared clips: no face on the
clip without one, no face lost on the others (docs/results/false-faces.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.face.landmarks import Face
from app.face.tracking import iou

MIN_DETECTOR_SCORE = 0.75
MIN_DETECTOR_FRAMES = 5
_SAME_PLACE_IOU = 0.3


@dataclass
class _Candidate:
    box: tuple[float, float, float, float]
    confirmed: bool
    frames: int
    """Analysed frames in a row with a confident detection here."""


class FaceConfirmation:
    """Passes the faces of successive frames that are confirmed (owned by one thread)."""

    def __init__(self, min_score: float = MIN_DETECTOR_SCORE, min_frames: int = MIN_DETECTOR_FRAMES) -> None:
        if not 0.0 <= min_score <= 1.0 or min_frames < 1:
            raise ValueError(f"min_score must be in [0, 1] and min_frames at least 1, got "
                             f"{min_score}, {min_frames}")
        self.min_score, self.min_frames = min_score, min_frames
        self._candidates: list[_Candidate] = []

    def reset(self) -> None:
        """Forget what was seen (a new source, an unrelated image)."""
        self._candidates = []

    def admit(self, faces: list[Face], continuous: bool = True) -> list[Face]:
        """``faces`` without those not (yet) confirmed, in their order. ``continuous``
        False: a frame unrelated to the one before, judged on its own."""
        if not continuous:
            self.reset()
        previous, self._candidates = self._candidates, []
        admitted = []
        for face in faces:
            before = max(previous, key=lambda candidate: iou(candidate.box, face.box), default=None)
            if before is not None and iou(before.box, face.box) < _SAME_PLACE_IOU:
                before = None
            confident = face.score >= self.min_score
            frames = (before.frames if before else 0) + 1 if confident else 0
            confirmed = (face.mesh is not None or (before is not None and before.confirmed)
                         or frames >= (self.min_frames if continuous else 1))
            self._candidates.append(_Candidate(face.box, confirmed, frames))
            if confirmed:
                admitted.append(face)
        return admitted
