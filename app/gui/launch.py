"""How the window was launched: the command line's choices and the automation flags.

``--quit-after-frames N`` stops the run after N analysed frames; ``--screenshot PATH``
saves the window once the run ends (or, without ``--source``, once the window is
ready); either one makes the window close itself then. Exit codes as for
``--headless``: 0 done, 1 the run failed part-way (a lost camera, a failed recording,
a video that stops decoding before its last frame), 2 bad input (a source that does
not open, a model that does not load, an existing ``--csv`` without ``--overwrite``, a
``--provider`` that cannot run here; the window then says so and runs on the CPU), and
69 (sysexits' EX_UNAVAILABLE) when no one could see the window: no display, or Qt's
offscreen platform without an automation flag to end the run (``display_problem``).
Without a display, a run with an automation flag goes offscreen by itself.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QWidget

from app.face.landmarks import DEFAULT_MAX_FACES
from app.face.steady import DEFAULT_SWITCH_HOLD_S, DEFAULT_SWITCH_MARGIN, DEFAULT_TIME_CONSTANT_S
from app.results import Event, EventKind
from app.system.exit_codes import ExitCode

if TYPE_CHECKING:
    from app.gui.session import Session, Startup

log = logging.getLogger(__name__)

HEADLESS_COMMAND = "emotion-app --headless --source FILE --csv out.csv"
INVISIBLE_PLATFORMS = ("offscreen", "minimal")
"""Qt platforms that draw nowhere anyone can see (``QT_QPA_PLATFORM``)."""
FAILURES = (EventKind.SOURCE_LOST, EventKind.RECORDING_FAILED, EventKind.ERROR)
"""Events that fail a run part-way (``ExitCode.FAILED``); a scripted run stops at them."""


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
    """The hysteresis of the emotion shown (``app.face.steady``)."""
    gamma: bool | None = None
    """None: remembered; False: ``--no-gamma``."""
    views: str | None = None
    """None: remembered; else ``--views`` other than its default ``auto``."""
    csv: str | None = None
    """Start recording here as soon as the pipeline is ready."""
    overwrite: bool = False
    """``--overwrite``: ``csv`` may replace an existing file."""
    quit_after_frames: int = 0
    screenshot: str | None = None
    model_dirs: tuple[Path, ...] | None = None
    """Folders the model menu lists (None: ``app.model.library.model_dirs()``)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LaunchOptions:
        # argparse cannot tell "--smoothing 0.1" from no flag; a value other than the
        # default (the parser's, app.cli) was typed, and the default leaves the remembered
        # value in place.
        return cls(
            source=args.source, model=args.model, provider=args.provider,
            max_faces=args.max_faces,
            smoothing=None if args.smoothing == DEFAULT_TIME_CONSTANT_S else args.smoothing,
            switch_margin=args.switch_margin, switch_hold_s=args.switch_hold,
            gamma=False if args.no_gamma else None,
            views=None if args.views == "auto" else args.views, csv=args.csv, overwrite=args.overwrite,
            quit_after_frames=max(args.quit_after_frames, 0), screenshot=args.screenshot,
        )

    @property
    def automated(self) -> bool:
        return bool(self.quit_after_frames or self.screenshot)


def has_no_display(environ: Mapping[str, str] = os.environ, system: str = sys.platform) -> bool:
    """Linux with neither an X11 nor a Wayland display, and no Qt platform chosen: Qt
    would abort ("no Qt platform plugin could be initialized"). macOS and Windows
    always have their own platform."""
    return (system.startswith("linux") and not environ.get("QT_QPA_PLATFORM")
            and not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"))


def display_problem(options: LaunchOptions, environ: Mapping[str, str] = os.environ,
                    system: str = sys.platform) -> str | None:
    """Why nobody could see or close the window, as a message for the terminal that says
    what to run instead; None when the window can run (``has_no_display`` with an
    automation flag included: the caller runs it offscreen)."""
    if options.automated:
        return None
    platform = environ.get("QT_QPA_PLATFORM") or ""
    if has_no_display(environ, system):
        reason = "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    elif platform.split(":")[0] in INVISIBLE_PLATFORMS:
        reason = (f"QT_QPA_PLATFORM={platform} draws the window where nobody can see or close "
                  "it, and nothing would end the run")
    else:
        return None
    return (f"emotion-app: {reason}.\n"
            f"To analyse a video or camera without a window, run:\n    {HEADLESS_COMMAND}\n"
            "To run the window unseen, give it an end: --quit-after-frames N and/or "
            "--screenshot PATH.")


SCREENSHOT_MODEL_KEY = "emotion-live model"
"""A PNG text entry of a screenshot: the model file shown and its SHA-256, so a test can
tell a screenshot in the docs made with a model since replaced (``tests/test_readme.py``)."""


def save_screenshot(widget: QWidget, path: str | Path, model: str | Path | None = None) -> str | None:
    """Save ``widget`` as it looks now, naming ``model`` inside a PNG; the reason when it
    cannot be saved, else None."""
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot save the screenshot to {path}: {error.strerror}"
    image = widget.grab().toImage()
    if model is not None and Path(model).is_file():
        digest = hashlib.sha256(Path(model).read_bytes()).hexdigest()
        image.setText(SCREENSHOT_MODEL_KEY, f"{Path(model).name} {digest}")
    if not image.save(str(path)):
        return f"cannot save the screenshot to {path} (use .png or .jpg, in a writable folder)"
    log.info("screenshot saved to %s", path)
    return None


class Automation:
    """The run's exit code, and the end of a scripted run: saves the screenshot, then
    closes the window.

    It watches the session's signals: what failed (the exit code is the worst failure
    seen, else 0), the frames analysed (``--quit-after-frames`` ends the run), and when
    the run is over. Made after the window connected its own slots, so it sees what they
    made of each signal (the ``--csv`` recording the window starts once ready).
    """

    def __init__(self, window: QWidget, options: LaunchOptions, session: Session) -> None:
        self.window = window
        self.options = options
        self.session = session
        self.exit_code = ExitCode.OK
        self.finished = False
        self.screenshot_saved: Path | None = None
        """Where ``--screenshot`` went, once saved."""
        self._ready = self._cameras_known = False
        session.stop_after_frames = options.quit_after_frames
        for signal, slot in ((session.ready, self._on_ready),
                             (session.startup_failed, self._on_startup_failed),
                             (session.cameras_found, self._on_cameras),
                             (session.event, self._on_event),
                             (session.run_failed, lambda _message: self._fail(ExitCode.BAD_INPUT)),
                             (session.run_finished, self._on_run_finished)):
            signal.connect(slot)

    @property
    def active(self) -> bool:
        return self.options.automated

    def _fail(self, code: ExitCode) -> None:
        self.exit_code = max(self.exit_code, code)

    def _finish(self) -> None:
        """Take the screenshot once what was just shown is laid out, then close."""
        if self.active and not self.finished:
            self.finished = True
            QTimer.singleShot(0, self._screenshot_and_close)

    def _screenshot_and_close(self) -> None:
        QCoreApplication.sendPostedEvents()  # pending layouts (a message just shown)
        if self.options.screenshot:
            shown = getattr(getattr(self.window, "models", None), "path", None)  # the model menu's
            error = save_screenshot(self.window, self.options.screenshot, shown)
            if error:
                log.error("%s", error)
                self._fail(ExitCode.FAILED)
            else:
                self.screenshot_saved = Path(self.options.screenshot).expanduser().resolve()
        self.window.close()

    # Session signals.

    def _on_ready(self, startup: Startup) -> None:
        """Bad input: a --provider that cannot run, a model that does not load, a --csv
        refused. A scripted run stops at the last two, as --headless does."""
        csv_refused = bool(self.options.csv) and self.session.recording is None
        if startup.report.unmet or startup.model_error or csv_refused:
            self._fail(ExitCode.BAD_INPUT)
        if startup.model_error or csv_refused:
            self._finish()
        self._ready = True
        self._finish_when_idle()

    def _on_startup_failed(self, _message: str) -> None:
        self._fail(ExitCode.BAD_INPUT)
        self._finish()

    def _on_cameras(self, _cameras: list) -> None:
        self._cameras_known = True
        self._finish_when_idle()

    def _finish_when_idle(self) -> None:
        """A scripted run without a source ends once the window says what to do next."""
        if self._ready and self._cameras_known and not self.options.source:
            self._finish()

    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.SOURCE_ENDED and event.details.get("ended_early"):
            self._fail(ExitCode.FAILED)  # decoding stopped before the last frame
        if event.kind in FAILURES:
            self._fail(ExitCode.FAILED)
            if self.active:
                self.session.stop_source()

    def _on_run_finished(self, _frames: int) -> None:
        if self.options.source:
            self._finish()
