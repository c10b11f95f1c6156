"""Everything a frame's faces go through after their landmarks: the face IDs, then for the
faces read in this frame the aligned crop and its quality measures, the card's landmark
emphasis, adaptive gamma and normalisation, and one batched model call over every view
of every face; the tracker's steady reads.

A face not read in a frame (live, ``app.read_schedule``) keeps its last read: its
probabilities, quality and views, with how old they are."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.face.landmarks import Face
from app.face.preprocess import PreprocessSpec, crop_face, crops_to_batch, emphasise_crop, frame_outline
from app.face.quality import FaceQuality, measure_face
from app.face.tracking import FaceTracker
from app.model.inference import EmotionClassifier
from app.results import FaceResult, Frame, StageTimings


@dataclass(frozen=True)
class FaceRead:
    """One model read of one face, kept on its track for the frames that do not read it."""

    probabilities: np.ndarray
    members: np.ndarray | None
    quality: FaceQuality
    views: str
    time_s: float


Chooser = Callable[[Sequence[float | None]], list[int]]
"""Given each face's read age in seconds (None: never read), the indices of the faces to
read now (live: ``app.read_schedule.ReadSchedule.choose``)."""


def read_faces(frame: Frame, faces: list[Face], model: EmotionClassifier, spec: PreprocessSpec,
               tracker: FaceTracker, timings: StageTimings, views: str = "none",
               choose: Chooser | None = None) -> tuple[tuple[FaceResult, ...], StageTimings]:
    """The frame's faces as results, read over the card's ``views`` setting
    (``app.model.views.SETTINGS``): every face, or those ``choose`` picks (the others
    keep their last read); ``timings`` with the align, infer and track stages."""
    now = _track_time(frame)
    start = time.perf_counter()
    tracks = tracker.assign([face.box for face in faces], now)
    ages = [None if track.last_read is None else now - track.last_read.time_s for track in tracks]
    chosen = range(len(faces)) if choose is None else choose(ages)
    chosen = sorted({*chosen, *(index for index, track in enumerate(tracks) if track.last_read is None)})
    read = [faces[index] for index in chosen]
    crops = [crop_face(frame.image, face.anchors, spec) for face in read]
    model_crops = crops
    if spec.landmark_emphasis:  # quality is measured on the crop as seen, not as emphasised
        model_crops = [emphasise_crop(crop, frame_outline(face.anchors, face.mesh, spec), spec)
                       for face, crop in zip(read, crops)]
    batch, gammas = crops_to_batch(model_crops, spec)
    frame_size = (frame.image.shape[1], frame.image.shape[0])
    qualities = [measure_face(face.anchors, face.mesh, crop, gamma, frame_size)
                 for face, crop, gamma in zip(read, crops, gammas)]
    aligned = time.perf_counter()
    prediction = model.predict(batch, views)
    inferred = time.perf_counter()
    members = prediction.members if prediction.members is not None else [None] * len(read)
    fresh = {}
    for index, probabilities, member_probabilities, quality in zip(chosen, prediction.probabilities,
                                                                  members, qualities):
        tracks[index].last_read = FaceRead(probabilities, member_probabilities, quality, views, now)
        fresh[index] = tracker.read(tracks[index], probabilities, now)
    results = []
    for index, (face, track) in enumerate(zip(faces, tracks)):
        last: FaceRead = track.last_read
        steady = fresh.get(index) or tracker.held(track, len(model.labels))
        results.append(FaceResult(
            steady.face_id, face.box, {name: (float(point[0]), float(point[1]))
                                       for name, point in face.anchors.items()},
            face.source, model.labels, last.probabilities, steady.smoothed, last.quality, steady.shown,
            model.member_names, last.members, baseline=steady.baseline, calibrated=steady.calibrated,
            calibrated_smoothed=steady.calibrated_smoothed, calibrated_shown=steady.calibrated_shown,
            calibrating=steady.calibrating, views=last.views, fresh=index in fresh,
            read_age_ms=(now - last.time_s) * 1000.0))
    timings = dataclasses.replace(timings, align=_ms(start, aligned), infer=_ms(aligned, inferred),
                                  track=_ms(inferred, time.perf_counter()))
    return tuple(results), timings


def _track_time(frame: Frame) -> float:
    """Video time for files (so batch runs track in the video's time), else capture time."""
    return frame.source_ms / 1000.0 if frame.source_ms is not None else frame.monotonic_s


def _ms(start: float, end: float) -> float:
    return (end - start) * 1000.0
