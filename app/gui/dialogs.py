"""The window's dialogs: the GPU check, a stream URL, a marker label, and file choosers.

Each chooser returns the user's answer or None when cancelled, so the window's own
methods (which the tests call directly) never open a dialog themselves.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.model.providers import ProviderReport
from app.sources.base import IMAGE_EXTENSIONS
from app.sources.capture import STREAM_PATTERN

VIDEO_FILTER = "Videos (*.mp4 *.mov *.avi *.mkv *.m4v *.webm *.wmv *.mpg *.mpeg);;All files (*)"


class GpuCheckDialog(QDialog):
    """The provider probe's report: which ONNX Runtime provider runs, and why."""

    def __init__(self, report: ProviderReport, model_provider: str | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("GPU check")
        self.resize(760, 420)
        where = "the GPU" if report.on_gpu else "the CPU"
        headline = QLabel(f"<b>Running on {where}</b> ({report.provider})")
        detail = QLabel(html.escape(report.summary) + (
            f"<br>The current model's session runs on {model_provider}." if model_provider else ""))
        for label in (headline, detail):
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
        self.report_text = QPlainTextEdit(report.text())
        self.report_text.setReadOnly(True)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.report_text.setFont(font)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy report")
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(report.text()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (headline, detail, self.report_text, buttons):
            layout.addWidget(widget)


def ask_source(parent: QWidget, kind: str, last_source: str) -> str | None:
    """A ``video`` file, an image ``folder`` or a ``stream`` URL; None when cancelled.
    The file dialogs start where ``last_source`` was."""
    is_path = bool(last_source) and "://" not in last_source and not last_source.isdigit()
    folder = "" if not is_path else str(
        Path(last_source) if Path(last_source).is_dir() else Path(last_source).parent)
    if kind == "video":
        path, _ = QFileDialog.getOpenFileName(parent, "Open video", folder, VIDEO_FILTER)
    elif kind == "folder":
        extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
        path = QFileDialog.getExistingDirectory(parent, f"Open image folder ({extensions})", folder)
    elif kind == "stream":
        path = ask_stream_url(parent, last_source if "://" in last_source else "")
    else:
        raise ValueError(f"unknown kind of source {kind!r}; valid: video, folder, stream")
    return path or None


def ask_stream_url(parent: QWidget, previous: str = "") -> str | None:
    """A stream URL (rtsp://, http://, ...); asks again, saying why, until valid or cancelled."""
    text = previous
    while True:
        text, accepted = QInputDialog.getText(
            parent, "Open stream URL", "Stream URL (rtsp://, rtmp://, http://, https://):",
            QLineEdit.EchoMode.Normal, text or "rtsp://")
        text = text.strip()
        if not accepted:
            return None
        if STREAM_PATTERN.match(text) and len(text.split("://", 1)[1]) > 0:
            return text
        QMessageBox.warning(parent, "Open stream URL",
                            f"{text!r} is not a stream URL: it must start with a scheme such as "
                            "rtsp:// or http:// followed by the address.")


def ask_marker_label(parent: QWidget, default: str) -> str | None:
    text, accepted = QInputDialog.getText(parent, "Add marker", "Marker label:",
                                          QLineEdit.EchoMode.Normal, default)
    return (text.strip() or default) if accepted else None


def choose_onnx_file(parent: QWidget, folder: str) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open ONNX model", folder,
                                          "ONNX models (*.onnx);;All files (*)")
    return path or None


def choose_csv_path(parent: QWidget, suggestion: Path) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, "Record emotion timeline to", str(suggestion),
                                          "CSV files (*.csv)")
    if not path:
        return None
    return path if path.lower().endswith(".csv") else path + ".csv"
