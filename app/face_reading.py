"""Everything a frame's faces go through after their landmarks: the aligned crop and its
quality measures, the card's landmark emphasis, adaptive gamma and normalisation, one
batched model call for every face, and the tracker's IDs and steady reads."""

from __future__ import annotations

import dataclasses
import time

from app.face.landmarks import Face
from app.face.preprocess import PreprocessSpec, crop_face, crops_to_batch, emphasise_crop, frame_outline
from app.face.quality import measure_face
from app.face.tracking import FaceTracker
from app.model.inference import EmotionClassifier
from app.results import FaceResult, Frame, StageTimings


def read_faces(frame: Frame, faces: list[Face], model: EmotionClassifier, spec: PreprocessSpec,
               tracker: FaceTracker, timings: StageTimings) -> tuple[tuple[FaceResult, ...], StageTimings]:
    """The frame's faces as results, and ``timings`` with the align, infer and track stages."""
    image = frame.image
    start = time.perf_counter()
    crops = [crop_face(image, face.anchors, spec) for face in faces]
    model_crops = crops
    if spec.landmark_emphasis:  # quality is measured on the crop as seen, not as emphasised
        model_crops = [emphasise_crop(crop, frame_outline(face.anchors, face.mesh, spec), spec)
                       for face, crop in zip(faces, crops)]
    batch, gammas = crops_to_batch(model_crops, spec)
    frame_size = (image.shape[1], image.shape[0])
    qualities = [measure_face(face.anchors, face.mesh, crop, gamma, frame_size)
                 for face, crop, gamma in zip(faces, crops, gammas)]
    aligned = time.perf_counter()
    prediction = model.predict(batch)
    inferred = time.perf_counter()
    tracked = tracker.update([face.box for face in faces], prediction.probabilities, _track_time(frame))
    members = prediction.members if prediction.members is not None else [None] * len(faces)
    results = tuple(
        FaceResult(read.face_id, face.box, {name: (float(point[0]), float(point[1]))
                                            for name, point in face.anchors.items()},
                   face.source, model.labels, probabilities, read.smoothed, quality, read.shown,
                   model.member_names, member_probabilities, read.baseline, read.calibrated,
                   read.calibrated_smoothed, read.calibrated_shown, read.calibrating)
        for face, probabilities, read, quality, member_probabilities
        in zip(faces, prediction.probabilities, tracked, qualities, members)
    )
    timings = dataclasses.replace(timings, align=_ms(start, aligned), infer=_ms(aligned, inferred),
                                  track=_ms(inferred, time.perf_counter()))
    return results, timings


def _track_time(frame: Frame) -> float:
    """Video time for files (so batch runs track in the video's time), else capture time."""
    return frame.source_ms / 1000.0 if frame.source_ms is not None else frame.monotonic_s


def _ms(start: float, end: float) -> float:
    return (end - start) * 1000.0
