"""The desktop app: a PySide6 window over the real-time pipeline (``app.pipeline``).

``run(args)`` is what ``emotion-app`` calls without ``--headless``. The window opens at
once; the pipeline is built, the cameras are listed and models load off the GUI
thread, and frames are analysed on a worker thread, so the window never freezes.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

log = logging.getLogger("qt")


def run(args: argparse.Namespace) -> int:
    """Open the window and run until it closes; the exit code (see ``app.gui.launch``).
    Where nobody could see the window, say what to run instead and return at once."""
    from PySide6.QtCore import QTimer, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from app.gui.launch import LaunchOptions, display_problem, has_no_display
    from app.gui.main_window import MainWindow
    from app.gui.settings import APPLICATION, ORGANISATION, AppSettings
    from app.gui.theme import apply_theme
    from app.system.exit_codes import ExitCode

    options = LaunchOptions.from_args(args)
    if not QApplication.instance():  # before Qt aborts on a display it cannot find
        problem = display_problem(options)
        if problem:
            log.info("not opening the window: %s", problem.splitlines()[0])
            print(problem, file=sys.stderr)
            return ExitCode.NO_DISPLAY
        if has_no_display():  # a scripted run: it ends by itself, nobody needs to see it
            print("emotion-app: no display; running the window offscreen.", file=sys.stderr)
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    previous_handler = qInstallMessageHandler(_log_qt_message)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Emotion Live")
    apply_theme(app)
    window = MainWindow(options, AppSettings.default())
    window.show()
    window.start()
    # Ctrl+C in the terminal closes the window cleanly (the CSV is closed first); the
    # timer lets Python's signal handler run while Qt's event loop has control.
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    try:
        app.exec()
    finally:
        signal.signal(signal.SIGINT, previous)
        ticker.stop()
        qInstallMessageHandler(previous_handler)
    if window.automation.screenshot_saved:
        print(f"Screenshot saved to {window.automation.screenshot_saved}")
    return window.exit_code


def _log_qt_message(kind, context, message: str) -> None:
    """Qt's own messages go to the log (the offscreen platform's notes at DEBUG only)."""
    from PySide6.QtCore import QtMsgType

    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING}
    level = levels.get(kind, logging.ERROR)
    if "does not support propagateSizeHints" in message:  # offscreen runs say it once
        level = logging.DEBUG
    log.log(level, "%s", message)
