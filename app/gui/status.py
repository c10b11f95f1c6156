"""The status bar's permanent fields: frames per second, per-stage milliseconds, the ONNX
Runtime provider really running (and why), faces, dropped frames, and where in the
source the shown frame is. ``fields`` keeps each one's text for tests and automation.
"""

from __future__ import annotations

import re

from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar

from app.gui.plain import plain_label
from app.model.providers import CPU, NO_GPU, TENSORRT, ProviderReport
from app.results import STAGES, FrameResult, RecordingStatus, StageTimings


class StatusPanel:
    def __init__(self, bar: QStatusBar) -> None:
        self.labels: dict[str, QLabel] = {}
        tips = {
            "position": "The frame shown: its number, and its time in a video",
            "fps": "Frames analysed per second over the last second",
            "stages": "Milliseconds per stage for the frame shown; their sum is the frame's cost",
            "faces": "Faces analysed in the frame shown",
            "views": "The model card's test-time views the shown reads were made with (Analysis > "
                     "Views), and how many faces the model read in this frame (live, a face not "
                     "read keeps its last read, at least ten reads a second)",
            "dropped": "Frames the analysis could not keep up with (skipped, not queued)",
        }
        for name in ("position", "fps", "stages", "provider", "faces", "views", "dropped"):
            label = plain_label()  # a file's name can look like HTML
            label.setToolTip(tips.get(name, ""))
            label.setContentsMargins(6, 0, 6, 0)
            if name == "provider":  # long reasons are cut, never widen the window (tooltip: all)
                label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            bar.addPermanentWidget(label, 1 if name == "provider" else 0)
            self.labels[name] = label

    @property
    def fields(self) -> dict[str, str]:
        return {name: label.text() for name, label in self.labels.items()}

    def show_result(self, result: FrameResult, report: ProviderReport | None) -> None:
        frame = result.frame
        position = f"frame {frame.index}"
        if frame.source_ms is not None:
            position += f" \u00b7 {clock_text(frame.source_ms / 1000)}"
        elif frame.source_file:
            position += f" \u00b7 {frame.source_file}"
        self._set("position", position)
        self._set("fps", f"{result.fps:.1f} fps")
        self._set("stages", stage_text(result.timings))
        count = len(result.faces)
        self._set("faces", f"{count} face{'s' * (count != 1)}" if result.labels else "no model")
        self._set("views", views_text(result.faces))
        self._set("dropped", f"{result.dropped_frames} dropped")
        if report is not None:
            self.show_provider(report, result.provider)

    def show_provider(self, report: ProviderReport, running: str | None = None) -> None:
        text, why = provider_text(report, running or report.provider)
        self._set("provider", text)
        self.labels["provider"].setToolTip(f"{why}\n\nHelp > GPU check shows the full report.")

    def _set(self, name: str, text: str) -> None:
        self.labels[name].setText(text)


def views_text(faces) -> str:
    """``views all, 2 of 4 read``: the settings of the reads shown, and the faces read now."""
    if not faces:
        return ""
    settings = "/".join(dict.fromkeys(face.views for face in faces))
    fresh = sum(face.fresh for face in faces)
    return f"views {settings}" + ("" if fresh == len(faces) else f", {fresh} of {len(faces)} read")


def stage_text(timings: StageTimings) -> str:
    """``decode 1.2 · landmarks 20.1 · ... = 25.0 ms``; stages that took no time are left out."""
    parts = [f"{name} {getattr(timings, name):.1f}" for name in STAGES if getattr(timings, name) > 0]
    return " \u00b7 ".join(parts) + f" = {timings.total:.1f} ms"


def provider_text(report: ProviderReport, running: str) -> tuple[str, str]:
    """A short "where and why" for the status bar, and the longer reason for its tooltip."""
    name = running.removesuffix("ExecutionProvider")
    if running != CPU:
        kind = "GPU" if running in (TENSORRT, "CUDAExecutionProvider") else "accelerator"
        return f"{kind}: {name}", report.summary
    if report.requested == "cpu":
        return "CPU (requested)", report.summary
    if report.provider != CPU:
        return ("CPU: the model's session fell back from " + report.provider.removesuffix(
            "ExecutionProvider"), "The probe passed but this model's session was placed on the CPU.")
    failed = [attempt for attempt in report.attempts if not attempt.usable]
    if not failed:
        return "CPU: no GPU provider in this onnxruntime", report.summary
    if not report.gpu_found and all(attempt.reason == NO_GPU for attempt in failed):
        return "CPU: no NVIDIA GPU found", report.summary
    reason = failed[-1].reason
    detail = re.search(r"\(([^()]*)\)\s*$", reason)  # "fell back to the CPU (missing ...)"
    return f"CPU: GPU unusable ({detail.group(1) if detail else reason})", report.summary


def recording_text(status: RecordingStatus) -> str:
    """``REC 01:05 · 1,950 rows``."""
    minutes, seconds = divmod(int(status.elapsed_s), 60)
    return f"REC {minutes:02d}:{seconds:02d} \u00b7 {status.rows:,} rows"


def clock_text(seconds: float, tenths: bool = True) -> str:
    """``m:ss.s`` (or ``m:ss``) for a time in seconds."""
    minutes, seconds = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{seconds:04.1f}" if tenths else f"{int(minutes)}:{int(seconds):02d}"
