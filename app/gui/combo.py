"""Drop-down boxes for the Controls dock: a placeholder while nothing is chosen, greyed
items that explain themselves, and a popup wide enough for long model labels."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

from app.gui.plain import plain_tip


def placeholder_combo(placeholder: str) -> QComboBox:
    box = QComboBox()
    box.setPlaceholderText(placeholder)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(20)
    return box


def add_disabled(box: QComboBox, text: str, tooltip: str) -> None:
    """An item that cannot be chosen; its tooltip says why."""
    box.addItem(text)
    item = box.model().item(box.count() - 1)
    item.setEnabled(False)
    item.setToolTip(plain_tip(tooltip))


def fit_popup(box: QComboBox) -> None:
    """Let the list open wider than the box, so long model labels are not cut."""
    metrics = box.fontMetrics()
    widest = max((metrics.horizontalAdvance(box.itemText(i)) for i in range(box.count())), default=0)
    box.view().setMinimumWidth(widest + 48)
