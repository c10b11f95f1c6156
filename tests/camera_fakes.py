"""Stand-ins for ``cv2.VideoCapture`` cameras: there is no camera on the test machines."""

from __future__ import annotations

import time

import cv2
import numpy as np


class FakeCamera:
    """Delivers ``frames`` copies of ``image`` (every ``interval_s``), then fails every read,
    as a camera does when it is unplugged mid-run."""

    def __init__(self, image: np.ndarray, frames: int = 1_000_000, interval_s: float = 0.0) -> None:
        self.image = image
        self.frames = frames
        self.interval_s = interval_s
        self.delivered = 0
        self.released = False
        self._settings = {cv2.CAP_PROP_FRAME_WIDTH: image.shape[1],
                          cv2.CAP_PROP_FRAME_HEIGHT: image.shape[0], cv2.CAP_PROP_FPS: 30.0}

    def isOpened(self) -> bool:  # noqa: N802 - cv2's name
        return not self.released

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.released or self.delivered >= self.frames:
            return False, None
        if self.interval_s:
            time.sleep(self.interval_s)
        self.delivered += 1
        return True, self.image.copy()

    def get(self, prop: int) -> float:
        return float(self._settings.get(prop, 0.0))

    def set(self, prop: int, value: float) -> bool:
        self._settings[prop] = value
        return True

    def release(self) -> None:
        self.released = True


class CameraSequence:
    """An ``open_capture`` factory handing out prepared cameras in turn (one per (re)open)."""

    def __init__(self, *cameras: FakeCamera) -> None:
        self.cameras = list(cameras)
        self.opened: list[FakeCamera] = []

    def __call__(self, target) -> FakeCamera:
        camera = self.cameras.pop(0)
        self.opened.append(camera)
        return camera
