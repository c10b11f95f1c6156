"""Face landmarks for every face in a frame, offline, from MediaPipe's bundled models.

MediaPipe's full-range face detector finds the faces (it sees faces far smaller than
the face mesh's own short-range detector does); the 478-point refined face mesh then
runs on a square region around each detection, upscaled when the face is small. When
the mesh finds nothing in a region, the detector's own keypoints (eyes, nose tip,
mouth centre) still give the anchors for alignment, so a small or blurred face is
coarsely aligned rather than lost.

In a continuous source (a camera, a video), ``follow`` tracks: each followed face keeps
a tracking-mode mesh of its own (``app.face.mesh_region``), which reads it from its mesh
in the frame before without detecting it again, and the full-range detector runs only
every ``detect_every`` frames (to find faces that came into view), when a tracked face is
lost, or while a face has detector anchors only. A tracked face therefore also survives
frames where the detector would have missed it (a face turned or looking down), and the
frames between detections cost the landmark model alone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np

from app.face.alignment import DETECTOR_ANCHOR_NAMES
from app.face.mediapipe_import import import_mediapipe
from app.face.mesh_region import Follower, Region, mesh_points
from app.face.tracking import iou
from app.system.quiet import CapturedOutput, native_output_captured

log = logging.getLogger(__name__)

# Face-mesh indices (refined topology: 468 + 10 iris points).
MESH_ANCHOR_INDICES: dict[str, tuple[int, ...]] = {
    "right_eye": (468,),  # iris centre
    "left_eye": (473,),
    "nose_tip": (1,),
    "mouth_right": (61,),
    "mouth_left": (291,),
}
MESH_POINTS = 478
_REGION_SCALE = 1.8  # region side / detection box side
_TRACK_REGION_SCALE = 1.4  # region side / mesh box side (a mesh box spans brow to chin)
_SAME_FACE_IOU = 0.3  # a detection overlapping a tracked face this much is that face
DETECT_EVERY = 3
"""Frames per full-range detection while every face is tracked: a face coming into view is
found within that many frames. ``benchmarks/pipeline.py --modes`` measures the choice
(docs/results/tracking-interval.md): speed against the faces found."""
DEFAULT_MAX_FACES = 10
"""Faces analysed per frame unless the user says otherwise: a classroom row, a group photo."""
QUIET_START_S = 2.0
"""How long ``QuietLandmarker`` keeps MediaPipe's output captured after its graphs start."""
_MEDIAPIPE_WRITES_TO = (2,)
"""MediaPipe (absl, TensorFlow Lite) writes to stderr only. Its graphs start on the landmark
thread while the user's code runs on another, so stdout, which the user prints to, is never
captured (it once lost lines a script printed from ``analyze_video``)."""


@dataclass(frozen=True)
class Face:
    """One face in a frame, in frame pixel coordinates (continuous: a pixel spans [i, i+1))."""

    box: tuple[float, float, float, float]
    """x, y, width, height of the face."""
    score: float
    anchors: dict[str, np.ndarray]
    """Anchor name -> (x, y); see ``app.face.alignment`` for the names."""
    mesh: np.ndarray | None = None
    """(478, 3) face-mesh points: x, y in pixels, z in pixels relative to the face centre."""

    @property
    def source(self) -> str:
        return "mesh" if self.mesh is not None else "detector"


class FaceLandmarker:
    """Finds up to ``max_faces`` faces per frame and their landmarks.

    Not thread-safe: MediaPipe graphs belong to the thread that uses them, so each
    worker makes its own. Use as a context manager or call ``close()``.
    """

    def __init__(
        self,
        max_faces: int = DEFAULT_MAX_FACES,
        min_detection_confidence: float = 0.5,
        min_mesh_confidence: float = 0.5,
        detect_every: int = DETECT_EVERY,
    ) -> None:
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        if detect_every < 1:
            raise ValueError(f"detect_every must be at least 1, got {detect_every}")
        mp = import_mediapipe()  # imported here: it is slow and logs on import

        self.max_faces = max_faces
        self.detect_every = detect_every
        self._followed: list[tuple[Face, Follower | None]] = []
        """The faces of the last frame ``follow`` saw, each with its follower (None: detector only)."""
        self._idle: list[Follower] = []
        """Followers of faces lost, kept for the next faces (a graph is slow to build)."""
        self._since_detection = 0
        self._tracking_mesh = lambda: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=min_mesh_confidence, min_tracking_confidence=min_mesh_confidence)
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=min_detection_confidence
        )
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=min_mesh_confidence,
        )

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()
        for follower in self._idle + [follower for _, follower in self._followed if follower]:
            follower.graph.close()
        self._idle, self._followed = [], []

    def detect(self, frame_bgr: np.ndarray) -> list[Face]:
        """All faces in a BGR (or gray) uint8 frame, largest first; the frame on its own."""
        rgb = _to_rgb(frame_bgr)
        return self._largest(self._detected(rgb, []))

    def follow(self, frame_bgr: np.ndarray) -> list[Face]:
        """All faces in the next frame of a continuous source, largest first, tracked from
        the frame before (see the module docstring); ``forget`` before an unrelated frame."""
        rgb = _to_rgb(frame_bgr)
        faces, followers = [], {}
        for previous, follower in self._followed:
            mesh = None
            if follower is not None:
                region = follower.aim(previous.box, _TRACK_REGION_SCALE)
                mesh = mesh_points(rgb, region, self._runner(follower.graph))
            if mesh is None:
                self._idle += [follower] if follower else []
                continue
            faces.append(_mesh_face(mesh, previous.score))
            followers[id(faces[-1])] = follower
        self._since_detection += 1
        lost = len(faces) < len(self._followed)  # detector-only faces count as lost: re-detect
        if lost or not faces or self._since_detection >= self.detect_every:
            faces = self._detected(rgb, faces)
            self._since_detection = 0
        faces = self._largest(faces)
        kept = {id(face) for face in faces}
        self._idle += [follower for key, follower in followers.items() if key not in kept]
        self._followed = [(face, followers.get(id(face)) or self._follower(face)) for face in faces]
        return faces

    def forget(self) -> None:
        """Drop the tracked faces: the next ``follow`` starts from a detection."""
        self._idle += [follower for _, follower in self._followed if follower]
        self._followed, self._since_detection = [], 0

    def _follower(self, face: Face) -> Follower | None:
        """A tracking graph for a face newly found with a mesh; None for a detector-only face."""
        if face.mesh is None:
            return None
        follower = self._idle.pop() if self._idle else Follower(self._new_tracking_mesh())
        follower.region = None
        return follower

    def _new_tracking_mesh(self):
        return self._tracking_mesh()

    def _runner(self, graph):
        """How a graph reads a region (``QuietLandmarker`` keeps a graph's first run quiet)."""
        return graph.process

    def _detected(self, rgb: np.ndarray, tracked: list[Face]) -> list[Face]:
        """``tracked`` and every detection that is not one of them, landmarked."""
        height, width = rgb.shape[:2]
        faces = list(tracked)
        for detection in self._detector.process(rgb).detections or []:
            box = _detection_box(detection, width, height)
            if not any(iou(box, face.box) >= _SAME_FACE_IOU for face in tracked):
                faces.append(self._landmark(rgb, detection, box))
        return faces

    def _largest(self, faces: list[Face]) -> list[Face]:
        faces.sort(key=lambda face: face.box[2] * face.box[3], reverse=True)
        return faces[: self.max_faces]

    def _landmark(self, rgb: np.ndarray, detection, box: tuple[float, float, float, float]) -> Face:
        height, width = rgb.shape[:2]
        score = float(detection.score[0]) if detection.score else 0.0
        mesh = self._mesh_in_region(rgb, box)
        if mesh is not None:
            return _mesh_face(mesh, score)
        keypoints = detection.location_data.relative_keypoints
        anchors = {
            name: np.array([keypoints[index].x * width, keypoints[index].y * height])
            for index, name in enumerate(DETECTOR_ANCHOR_NAMES)
        }
        return Face(box, score, anchors, None)

    def _mesh_in_region(self, rgb: np.ndarray, box: tuple[float, float, float, float],
                        scale: float = _REGION_SCALE):
        """The static-mode mesh on a square region ``scale`` times ``box``; points mapped
        back to the frame."""
        return mesh_points(rgb, Region.around(box, scale), self._mesh.process)


class QuietLandmarker(FaceLandmarker):
    """A ``FaceLandmarker`` whose start-up lines go to the log, not the terminal.

    MediaPipe's C++ prints straight to the file descriptors while its graphs start: when
    they are built, at the first frame, and when the face mesh first runs, which is only
    once a face is seen (its graph threads may print a moment later). So output is
    captured while the landmarker is built, during the first ``quiet_s`` seconds of
    detection, and for ``quiet_s`` seconds from the first mesh run; never otherwise,
    because the capture is process-wide. Only descriptor 2 is captured, and Python's
    ``sys.stderr`` keeps its terminal meanwhile, so another thread's own lines still show.
    """

    def __init__(self, max_faces: int = DEFAULT_MAX_FACES, quiet_s: float = QUIET_START_S,
                 **options: float) -> None:
        with native_output_captured(_MEDIAPIPE_WRITES_TO) as captured:
            super().__init__(max_faces, **options)
        _log_native(captured)
        self._quiet_s = quiet_s
        self._quiet_until: float | None = None
        """Capture until then; set at the first frame and again at the mesh's first run."""
        self._mesh_started = False
        self._capturing = False
        self._started_graphs: set[int] = set()

    def detect(self, frame_bgr: np.ndarray) -> list[Face]:
        return self._quietly(super().detect, frame_bgr)

    def follow(self, frame_bgr: np.ndarray) -> list[Face]:
        return self._quietly(super().follow, frame_bgr)

    def _quietly(self, function, frame_bgr: np.ndarray) -> list[Face]:
        now = time.monotonic()
        if self._quiet_until is None:
            self._quiet_until = now + self._quiet_s
        if now >= self._quiet_until:
            return function(frame_bgr)
        return self._captured(function, frame_bgr)

    def _mesh_in_region(self, rgb: np.ndarray, box: tuple[float, float, float, float],
                        scale: float = _REGION_SCALE):
        if self._mesh_started:
            return super()._mesh_in_region(rgb, box, scale)
        self._mesh_started = True
        self._quiet_until = time.monotonic() + self._quiet_s
        return self._captured(super()._mesh_in_region, rgb, box, scale)

    def _new_tracking_mesh(self):
        return self._captured(super()._new_tracking_mesh)

    def _runner(self, graph):
        """A tracking graph's first run prints as the static mesh's does: kept quiet alike."""
        if id(graph) in self._started_graphs:
            return graph.process
        self._started_graphs.add(id(graph))
        self._quiet_until = time.monotonic() + self._quiet_s
        return lambda image: self._captured(graph.process, image)

    def _captured(self, function, *args):
        if self._capturing:  # already inside a capture (the mesh runs within detect)
            return function(*args)
        self._capturing = True
        try:
            with native_output_captured(_MEDIAPIPE_WRITES_TO) as captured:
                value = function(*args)
        finally:
            self._capturing = False
        _log_native(captured)
        return value


def _log_native(captured: CapturedOutput) -> None:
    if captured.text.strip():
        log.debug("MediaPipe said:\n%s", captured.text.rstrip())


def _mesh_face(mesh: np.ndarray, score: float) -> Face:
    anchors = {name: mesh[list(indices), :2].mean(axis=0) for name, indices in MESH_ANCHOR_INDICES.items()}
    return Face(_box_of(mesh), score, anchors, mesh)


def _detection_box(detection, width: int, height: int) -> tuple[float, float, float, float]:
    relative = detection.location_data.relative_bounding_box
    return (relative.xmin * width, relative.ymin * height, relative.width * width,
            relative.height * height)


def _box_of(points: np.ndarray) -> tuple[float, float, float, float]:
    left, top = points[:, 0].min(), points[:, 1].min()
    return (float(left), float(top), float(points[:, 0].max() - left), float(points[:, 1].max() - top))


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frame.dtype}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    raise ValueError(f"frames must be gray (H, W) or BGR (H, W, 3), got shape {frame.shape}")

