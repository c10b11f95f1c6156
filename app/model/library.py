"""Finding emotion models: the folders searched, each model's card, and ``--model NAME``.

Folders, in order: those named by ``EMOTION_MODELS_DIR`` (``os.pathsep``-separated),
the repository's ``models_onnx/``, and ``models_onnx/`` inside a PyInstaller bundle
when the app runs frozen. Every ``*.onnx`` there is read through its model card; a
file whose card is missing or wrong is listed as refused, with the card's reason. The
default model, where none is named, is the most accurate one (``default_model``).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from app.model.card import ModelCard, ModelCardError, read_card

log = logging.getLogger(__name__)

MODELS_ENV = "EMOTION_MODELS_DIR"
REPO_MODELS_DIR = Path(__file__).resolve().parents[2] / "models_onnx"
ACCURACY_KEYS = ("test_accuracy", "accuracy", "val_accuracy")
"""Card metrics that rank models for the default, most trustworthy first."""
SHOWN_SPLITS = (("val", "val_accuracy"), ("test", "test_accuracy"))
"""The figures every listing shows side by side: the selection split, then the held-out one."""
LISTING_WIDTH = 100
HOW_TO_GET_ONE = (
    "Train and export one with `emotion-train train` and `emotion-train export` (see "
    "`emotion-train --help`), then put the .onnx file in models_onnx/ or in a folder named "
    f"by {MODELS_ENV}, or pass --model PATH/TO/MODEL.onnx."
)


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    card: ModelCard

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def accuracy(self) -> tuple[str, float] | None:
        """(metric name, value in [0, 1]) of the card's most trustworthy accuracy."""
        for key in ACCURACY_KEYS:
            if key in self.card.metrics:
                return key, float(self.card.metrics[key])
        return None

    def split_accuracy(self, key: str) -> str:
        """One card figure as a percentage, or "-" where the card has none."""
        value = self.card.metrics.get(key)
        return f"{float(value):.1%}" if isinstance(value, (int, float)) else "-"

    @property
    def accuracy_text(self) -> str:
        """Validation (the split checkpoints were selected on) and test, labelled: a
        validation figure alone flatters a model, so the test figure is never hidden."""
        metrics = self.card.metrics
        if not any(key in metrics for _, key in SHOWN_SPLITS):
            return f"{metrics['accuracy']:.1%} accuracy" if "accuracy" in metrics else "accuracy not measured"
        return ", ".join(f"{split} {self.split_accuracy(key)}" if key in metrics
                          else f"{split} not measured" for split, key in SHOWN_SPLITS)

    @property
    def input_text(self) -> str:
        height, width = self.card.preprocess.input_size
        return f"{width}x{height} {self.card.preprocess.color_space}"

    @property
    def label(self) -> str:
        """One line for a model menu: name, val and test accuracy, input (the card's dataset
        text can be a sentence; menus show it in a tooltip)."""
        return f"{self.name} \u00b7 {self.accuracy_text} \u00b7 {self.input_text}"


@dataclass(frozen=True)
class RefusedModel:
    path: Path
    reason: str


def model_dirs() -> list[Path]:
    """The folders searched for models, in order, without duplicates."""
    dirs = [Path(part).expanduser() for part in os.environ.get(MODELS_ENV, "").split(os.pathsep)
            if part.strip()]
    dirs.append(REPO_MODELS_DIR)
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        dirs.append(Path(bundle) / "models_onnx")
    unique: dict[Path, Path] = {}
    for folder in dirs:
        unique.setdefault(folder.resolve(), folder)
    return list(unique.values())


def scan_models(dirs: list[Path] | None = None) -> tuple[list[ModelEntry], list[RefusedModel]]:
    """Every model file in ``dirs`` (default: ``model_dirs()``): usable ones and refused ones."""
    entries, refused = [], []
    for folder in model_dirs() if dirs is None else dirs:
        for path in sorted(folder.glob("*.onnx")) if folder.is_dir() else ():
            try:
                entries.append(ModelEntry(path, read_card(path)))
            except ModelCardError as error:
                log.warning("refusing %s: %s", path, error)
                refused.append(RefusedModel(path, str(error)))
    return entries, refused


def by_accuracy(entries: list[ModelEntry]) -> list[ModelEntry]:
    """Most accurate first by the card: test accuracy, else validation (``ACCURACY_KEYS``);
    a tie goes to the first by name, so the order does not depend on the folder's."""
    return sorted(entries, key=lambda entry: (-(entry.accuracy[1] if entry.accuracy else -1.0),
                                              entry.name, str(entry.path)))


def default_model(entries: list[ModelEntry]) -> ModelEntry | None:
    """The most accurate model (``by_accuracy``), None without one."""
    return next(iter(by_accuracy(entries)), None)


def most_accurate_installed(dirs: list[Path] | None = None) -> ModelEntry:
    """``default_model`` of the models folders; raises ModelCardError saying how to get one.

    What runs when no ``--model`` is named: the headless command and the Python API."""
    best = default_model(scan_models(dirs)[0])
    if best is None:
        raise ModelCardError(f"no emotion model installed. {HOW_TO_GET_ONE}")
    log.info("no model named; using %s, the most accurate installed (%s)", best.path, best.accuracy_text)
    return best


def resolve_model(name_or_path: str | Path, dirs: list[Path] | None = None) -> Path:
    """The file for ``--model``: a path, a file stem, or an architecture name.

    Several files of one architecture: the one with the best accuracy on its card.
    Raises ModelCardError naming the installed models, or a refused file's reason.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".onnx" or os.sep in text or "/" in text or path.is_file():
        if not path.is_file():
            raise ModelCardError(f"{path}: no such model file")
        return path
    entries, refused = scan_models(dirs)
    for match in ([e for e in entries if e.name == text],
                  [e for e in entries if e.card.architecture == text]):
        if match:
            best = default_model(match)
            if len(match) > 1:
                log.info("%d models of %r; using %s, the most accurate", len(match), text, best.path)
            return best.path
    for item in refused:
        if item.path.stem == text:
            raise ModelCardError(item.reason)
    installed = ", ".join(sorted({e.name for e in entries})) or "none"
    raise ModelCardError(f"no model named {text!r} (installed: {installed})."
                         + ("" if entries else " " + HOW_TO_GET_ONE))


def _model_rows(entries: list[ModelEntry], default: ModelEntry) -> list[str]:
    """An aligned table that fits ``LISTING_WIDTH`` columns: files by name, under a line
    naming their folder where models come from more than one, and an architecture only
    where the name is not it."""
    rows: list[tuple[str, ...] | str] = []
    folders = list(dict.fromkeys(entry.path.parent for entry in entries))
    for folder in folders:
        if len(folders) > 1:
            rows.append(f"  in {folder}:")
        for entry in (entry for entry in entries if entry.path.parent == folder):
            name = entry.name if entry.card.architecture == entry.name else (
                f"{entry.name} ({entry.card.architecture})")
            rows.append((("* " if entry is default else "  ") + name,
                         *(entry.split_accuracy(key) for _, key in SHOWN_SPLITS), entry.input_text,
                         entry.path.name))
    header = ("  NAME", *(split.upper() for split, _ in SHOWN_SPLITS), "INPUT", "FILE")
    table = [header, *(row for row in rows if isinstance(row, tuple))]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return [row if isinstance(row, str) else
            "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [header, *rows]]


def describe_models(dirs: list[Path] | None = None) -> str:
    """The ``emotion-app --list-models`` text."""
    dirs = model_dirs() if dirs is None else dirs
    entries, refused = scan_models(dirs)
    searched = ", ".join(str(folder) for folder in dirs)
    if not entries:
        lines = [f"No models found (searched: {searched}).", HOW_TO_GET_ONE]
    else:
        lines = [f"Models (searched: {searched}):"]
        default = default_model(entries)
        lines += _model_rows(entries, default)
        lines.append(f"* the default without --model: {default.name}, the most accurate "
                     "(by TEST, else VAL)")
        lines.append("VAL: the split checkpoints were selected on. TEST: held out, measured once.")
    if refused:
        lines.append("Refused (not usable emotion models):")
        lines.extend(f"  {item.path}: {item.reason}" for item in refused)
    return "\n".join(lines)
