"""Messages above the video: what went wrong (or what is missing) and what to do about it.

Each message has a key (``source``, ``model``, ``recording``, ...), so a new message on
the same subject replaces the old one and a fix clears it; several subjects can show at
once. A message may carry one action button ("Open video...", "Reconnect"). Nothing
here is modal: the window keeps working while a message shows. ``messages`` holds the
text on show by key, for tests and for the automation's log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QToolButton, QVBoxLayout, QWidget

from app.gui.plain import plain_label
from app.gui.theme import LEVEL_COLOURS

log = logging.getLogger(__name__)

Action = tuple[str, Callable[[], None]]
"""A button's text and what it does."""
KEY_PROPERTY = "banner_key"
"""The key of the message a dismiss button belongs to."""


class BannerArea(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.messages: dict[str, str] = {}
        self.levels: dict[str, str] = {}
        self._rows: dict[str, QFrame] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(1)
        self.setVisible(False)

    def show_message(self, key: str, text: str, level: str = "info",
                     action: Action | None = None) -> None:
        """Show ``text`` under ``key`` (replacing that key's message); level: info,
        warning or error."""
        if level not in LEVEL_COLOURS:
            raise ValueError(f"unknown banner level {level!r}; valid: {sorted(LEVEL_COLOURS)}")
        self.clear(key)
        (log.warning if level == "error" else log.info)("%s", text)
        row = QFrame()
        row.setObjectName("banner")
        colour = LEVEL_COLOURS[level]
        row.setStyleSheet(
            f"QFrame#banner {{ background: rgba({colour.red()}, {colour.green()}, {colour.blue()}, 38);"
            f" border-left: 4px solid {colour.name()}; }}")
        layout = QHBoxLayout(row)
        layout.setContentsMargins(10, 6, 6, 6)
        label = plain_label(text)  # messages quote file names and model cards
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(label, 1)
        if action is not None:
            caption, callback = action
            button = QPushButton(caption)
            button.clicked.connect(lambda: callback())  # not clicked(bool)'s argument
            layout.addWidget(button)
        close = QToolButton()
        close.setText("\u2715")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.setProperty(KEY_PROPERTY, key)
        close.clicked.connect(self._dismiss)
        layout.addWidget(close)
        self._layout.addWidget(row)
        self._rows[key] = row
        self.messages[key], self.levels[key] = text, level
        self.setVisible(True)

    def clear(self, key: str) -> None:
        row = self._rows.pop(key, None)
        self.messages.pop(key, None)
        self.levels.pop(key, None)
        if row is not None:
            row.hide()
            row.deleteLater()
        self.setVisible(bool(self._rows))

    def _dismiss(self) -> None:
        """A method, not a lambda holding this banner: a row deleted later must never hold
        the banner's last reference (it would be destroyed from inside its own child)."""
        self.clear(self.sender().property(KEY_PROPERTY))
