"""The main window's menu bar and its shortcuts (see docs/gui.md).

The window's own entries are made here; the model and recording entries come from the
controllers that carry them out (``ModelActions.fill_menu``, ``RecordingActions.fill_menu``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow


def build_menus(window: MainWindow) -> None:
    """File, Recording, Face (calibration), View (the docks) and Help."""
    bar = window.menuBar()
    file = bar.addMenu("&File")
    add_action(file, "Open &video\u2026", lambda: window.ask_source("video"), QKeySequence.StandardKey.Open)
    add_action(file, "Open image &folder\u2026", lambda: window.ask_source("folder"))
    add_action(file, "Open &stream URL\u2026", lambda: window.ask_source("stream"))
    add_action(file, "S&top source", window.stop_source)
    file.addSeparator()
    window.models.fill_menu(file)
    file.addSeparator()
    add_action(file, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    window.recording.fill_menu(bar.addMenu("&Recording"))
    add_action(bar.addMenu("F&ace"), "&Calibrate selected face (hold it neutral)", window.calibrate_face, "C")
    view = bar.addMenu("&View")
    for dock in window.docks.values():
        view.addAction(dock.toggleViewAction())
    add_action(bar.addMenu("&Help"), "&GPU check\u2026", window.show_gpu_check)


def add_action(menu: QMenu, text: str, slot: Callable[[], object],
               shortcut: str | QKeySequence.StandardKey | None = None) -> None:
    """An entry calling ``slot()`` (never with ``triggered``'s checked argument)."""
    action = menu.addAction(text)
    action.triggered.connect(lambda _checked=False: slot())
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
