"""How the window was launched: the command line's choices and the automation flags.

``--quit-after-frames N`` stops the run after N analysed frames; ``--screenshot PATH``
saves the window once the run ends (or, without ``--source``, once the window is
ready); either one makes the window close itself then. Exit codes as for
``--headless``: 0 done, 1 the run failed part-way (a lost camera, a failed recording,
a video that stops decoding before its last frame), 2 bad input (a source that does
not open, a model that does not load, an existing ``--csv`` without ``--overwrite``, a
``--provider`` that cannot run here; the window then says so and runs on the CPU).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QWidget

from app.cli import build_parser
from app.landmarks import DEFAULT_MAX_FACES
from app.steady import DEFAULT_SWITCH_HOLD_S, DEFAULT_SWITCH_MARGIN

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class LaunchOptions:
    source: str | None = None
    model: str | None = None
    provider: str = "auto"
    max_faces: int = DEFAULT_MAX_FACES
    smoothing: float | None = None
    """Smoothing time constant in seconds; None: the value remembered from the last run."""
    switch_margin: float = DEFAULT_SWITCH_MARGIN
    switch_hold_s: float = DEFAULT_SWITCH_HOLD_S
    """The hysteresis of the emotion shown (``app.steady``)."""
    gamma: bool | None = None
    """None: remembered; False: ``--no-gamma``."""
    csv: str | None = None
    """Start recording here as soon as the pipeline is ready."""
    overwrite: bool = False
    """``--overwrite``: ``csv`` may replace an existing file."""
    quit_after_frames: int = 0
    screenshot: str | None = None
    model_dirs: tuple[Path, ...] | None = None
    """Folders the model menu lists (None: ``app.model_library.model_dirs()``)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LaunchOptions:
        # argparse cannot tell "--smoothing 0.1" from no flag; a value other than the
        # default was typed, and the default leaves the remembered value in place.
        default_smoothing = build_parser().get_default("smoothing")
        return cls(
            source=args.source, model=args.model, provider=args.provider,
            max_faces=args.max_faces,
            smoothing=None if args.smoothing == default_smoothing else args.smoothing,
            switch_margin=args.switch_margin, switch_hold_s=args.switch_hold,
            gamma=False if args.no_gamma else None, csv=args.csv, overwrite=args.overwrite,
            quit_after_frames=max(args.quit_after_frames, 0), screenshot=args.screenshot,
        )

    @property
    def automated(self) -> bool:
        return bool(self.quit_after_frames or self.screenshot)


def save_screenshot(widget: QWidget, path: str | Path) -> str | None:
    """Save ``widget`` as it looks now; the reason when it cannot be saved, else None."""
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot save the screenshot to {path}: {error.strerror}"
    if not widget.grab().save(str(path)):
        return f"cannot save the screenshot to {path} (use .png or .jpg, in a writable folder)"
    log.info("screenshot saved to %s", path)
    return None


class Automation:
    """Ends a scripted run by itself: saves the screenshot, then closes the window.

    The window reports failures as they happen (``fail``) and calls ``finish`` when the
    run is over; the window's exit code is the worst failure reported, else 0.
    """

    def __init__(self, window: QWidget, options: LaunchOptions) -> None:
        self.window = window
        self.options = options
        self.exit_code = EXIT_OK
        self.finished = False

    @property
    def active(self) -> bool:
        return self.options.automated

    def fail(self, code: int) -> None:
        self.exit_code = max(self.exit_code, code)

    def finish(self) -> None:
        """Take the screenshot once what was just shown is laid out, then close."""
        if self.active and not self.finished:
            self.finished = True
            QTimer.singleShot(0, self._screenshot_and_close)

    def _screenshot_and_close(self) -> None:
        QCoreApplication.sendPostedEvents()  # pending layouts (a message just shown)
        if self.options.screenshot:
            error = save_screenshot(self.window, self.options.screenshot)
            if error:
                log.error("%s", error)
                self.fail(EXIT_FAILED)
        self.window.close()
