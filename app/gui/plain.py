"""Text the window shows as written, never as HTML.

Qt renders a label's or tooltip's text as HTML whenever it looks like HTML, and much of
what the window shows comes from files (a model card's architecture and dataset, a
file name, an error quoting either): a card naming its architecture ``<h1>...`` must
not restyle the window. Every label and tooltip that can hold such text is made here.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel


def plain_label(text: str = "") -> QLabel:
    """A QLabel that shows ``text`` (and whatever ``setText`` gives it later) literally."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def plain_note(text: str) -> QLabel:
    """A ``plain_label`` for a note under a control: wrapped, in the placeholder colour."""
    label = plain_label(text)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def plain_tip(text: str) -> str:
    """``text`` as a tooltip that shows it literally, line breaks kept (Qt decides per
    tooltip whether it is HTML; escaped HTML always is, and shows the text as it is)."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>" if text else ""
