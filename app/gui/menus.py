"""The main window's menu bar and its shortcuts (see docs/gui.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow


def build_menus(window: MainWindow) -> None:
    """File, Recording, View (the docks) and Help, each action calling the window."""
    bar = window.menuBar()
    file = bar.addMenu("&File")
    _add(file, "Open &video\u2026", lambda: window.ask_source("video"), QKeySequence.StandardKey.Open)
    _add(file, "Open image &folder\u2026", lambda: window.ask_source("folder"))
    _add(file, "Open &stream URL\u2026", lambda: window.ask_source("stream"))
    _add(file, "S&top source", window.stop_source)
    file.addSeparator()
    _add(file, "Open ONNX &model\u2026", window.models.ask_file)
    _add(file, "&Refresh model list", lambda: window.models.refresh())
    file.addSeparator()
    _add(file, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    record = bar.addMenu("&Recording")
    _add(record, "Start / stop &recording", window.recording.toggle, "Ctrl+R")
    _add(record, "Add &marker", lambda: window.recording.add_marker(), "M")
    _add(record, "Add marker with &label\u2026", window.recording.ask_marker, "Shift+M")
    view = bar.addMenu("&View")
    for dock in window.docks.values():
        view.addAction(dock.toggleViewAction())
    _add(bar.addMenu("&Help"), "&GPU check\u2026", window.show_gpu_check)


def _add(menu: QMenu, text: str, slot: Callable[[], object],
         shortcut: str | QKeySequence.StandardKey | None = None) -> None:
    action = menu.addAction(text)
    action.triggered.connect(lambda _checked=False: slot())
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
