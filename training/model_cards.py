"""The shipped-models README, generated from the cards in the ONNX files (``emotion-train cards``).

Every figure comes from a model's own card (``app.model.card.read_card``), so the
README cannot disagree with the files it describes: an accuracy and a macro-F1 column
for every split the cards hold figures of (``val`` from ``emotion-train export``, others
from ``emotion-train evaluate --write-card``). Confusion-matrix images named
``<model stem>*confusion*.png`` in ``--figures`` are linked; so is each card's learning curve,
drawn there as ``<model stem>_curve.png`` from the card's own ``training["curve"]``.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.model.card import ModelCard, read_card
from training.learning_curve import curve_text, plot_curve
from training.seed_spread import spread_text

HEADER = ("Model", "Architecture", "Input", "Gamma", "Parameters", "File", "Epochs", "Training time",
          "Dataset")
SPLITS_FIRST = ("val", "test")


def epochs_text(training: dict) -> str:
    """Best epoch and epochs run. A card exported before the count came from ``last.pt``
    gave the best epoch as the run's length; where a note says the run was stopped, the
    note gives the length instead of a contradicting count."""
    best, epochs = training.get("best_epoch", "-"), training.get("epochs", "-")
    stopped = any(str(note).startswith("the run was stopped") for note in training.get("notes", []))
    if stopped and best == epochs:
        return f"best epoch {best} (the run went on after it and was stopped: see the notes)"
    return f"best epoch {best} of {epochs} run"


def _percent(value) -> str:
    return f"{100 * value:.2f} %" if isinstance(value, (int, float)) else "-"


def _duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def measured_splits(cards: list[ModelCard]) -> list[str]:
    """Every split some card has figures of, val and test first.

    A split's figures are written as a pair, ``<split>_accuracy`` and ``<split>_macro_f1``;
    a lone ``*_accuracy`` (``fp32_val_accuracy``: the accuracy before fp16 rounding) is no split.
    """
    splits = {key.removesuffix("_accuracy") for card in cards for key in card.metrics
              if key.endswith("_accuracy") and f"{key.removesuffix('_accuracy')}_macro_f1" in card.metrics}
    first = [split for split in SPLITS_FIRST if split in splits]
    return first + sorted(splits - set(first))


def split_header(splits: list[str]) -> tuple[str, ...]:
    return tuple(f"{split[:1].upper()}{split[1:]} {figure}" for split in splits
                 for figure in ("accuracy", "macro-F1"))


def table_row(path: Path, card: ModelCard, splits: list[str], link_prefix: str = "") -> tuple[str, ...]:
    metrics, training = card.metrics, card.training
    parameters = training.get("parameters")
    figures = []
    for split in splits:
        f1 = metrics.get(f"{split}_macro_f1")
        figures += [_percent(metrics.get(f"{split}_accuracy")),
                    f"{f1:.4f}" if isinstance(f1, (int, float)) else "-"]
    return (
        f"[{path.name}]({link_prefix}{path.name})", card.architecture, *figures,
        card.preprocess.input_text,
        "on" if card.preprocess.gamma else "off",
        f"{parameters / 1e6:.2f} M" if isinstance(parameters, int) else "-",
        f"{path.stat().st_size / 1e6:.1f} MB", str(training.get("epochs", "-")),
        _duration(training.get("seconds")), card.dataset.split(" (")[0],
    )


def model_section(path: Path, card: ModelCard, readme_dir: Path, figures: Path | None) -> list[str]:
    training, spec = card.training, card.preprocess
    lines = [f"## {path.name}", "",
             f"- Labels (output order): {', '.join(card.labels)}",
             f"- Dataset: {card.dataset}",
             f"- Preprocessing: alignment template `{spec.alignment_template}`, mean "
             f"{list(spec.mean)}, std {list(spec.std)}, adaptive gamma {'on' if spec.gamma else 'off'}, "
             f"landmark emphasis {f'{spec.landmark_emphasis:g}' if spec.landmark_emphasis else 'off'}"]
    if "command" in training:
        lines.append(f"- Trained with: `{training['command']}`")
    lines += [f"- Resumed with: `{command}`" for command in training.get("resumed", [])]
    if "export_command" in training:
        lines.append(f"- Exported with: `{training['export_command']}`")
    if "ensemble_command" in training:
        lines.append(f"- Built with: `{training['ensemble_command']}`")
    lines += [f"- Member `{member.get('file')}` ({member.get('architecture')}): weight "
              f"{member.get('weight', 0):.3f} in the average, weights SHA-256 "
              f"`{member.get('weights_sha256')}`"
              for member in training.get("members", []) if card.member_names]
    if "test_time" in training:
        lines.append(f"- Test time: {training['test_time']}")
    if card.views.val_accuracy:
        settings = ", ".join(f"`--views {setting}` {accuracy:.2%} ({card.views.reads(setting)} "
                             f"read{'s' * (card.views.reads(setting) > 1)})"
                             for setting, accuracy in card.views.val_accuracy.items())
        lines.append(f"- Views on {card.views.chosen_on or 'val'}: {settings}")
    if "device" in training:
        lines.append(f"- Trained on: {training['device']}, {epochs_text(training)}")
    lines += [f"- {key.removesuffix('_evaluated_on').capitalize()} figures measured on: {value}"
              for key, value in sorted(training.items()) if key.endswith("_evaluated_on")]
    seed_runs = training.get("seed_runs")
    if isinstance(seed_runs, dict) and seed_runs.get("val_accuracy"):
        accuracies = [100 * value for value in seed_runs["val_accuracy"]]
        lines.append(f"- Over seeds: {spread_text(accuracies)} % val ({len(accuracies)} runs, seeds "
                     f"{', '.join(str(seed) for seed in seed_runs.get('seeds', []))}; "
                     f"{seed_runs.get('measured', '')}): `{seed_runs.get('command', '')}`")
    if "fp16_accuracy_change" in card.metrics:
        lines.append(f"- Weights stored as float16: accuracy change "
                     f"{100 * card.metrics['fp16_accuracy_change']:+.2f} points")
    if "weights_sha256" in training:
        lines.append(f"- Weights SHA-256: `{training['weights_sha256']}`")
    for figure in sorted(figures.glob(f"{path.stem}*confusion*.png")) if figures else []:
        link = Path(os.path.relpath(figure, readme_dir)).as_posix()
        lines.append(f"- Confusion matrix: [{figure.name}]({link})")
        lines += ["", f"  ![{path.stem} confusion matrix]({link})"]
    if training.get("curve"):
        start = training.get("initialised_from") or {}
        continued = (f" (of the continuation, from {100 * start['val_accuracy']:.2f} % val)"
                     if isinstance(start.get("val_accuracy"), (int, float)) else "")
        lines.append(f"- Learning curve{continued}: {curve_text(training['curve'])}")
        figure = figures / f"{path.stem}_curve.png" if figures else None
        if figure is not None and figure.is_file():
            link = Path(os.path.relpath(figure, readme_dir)).as_posix()
            lines += ["", f"  ![{path.stem} learning curve]({link})"]
    lines += [f"- Note: {note}" for note in training.get("notes", [])]
    return lines + [""]


def summary_table(cards: list[tuple[Path, ModelCard]], link_prefix: str = "") -> list[str]:
    """The one-row-per-model markdown table; file links are prefixed with ``link_prefix``."""
    splits = measured_splits([card for _, card in cards])
    header = (*HEADER[:2], *split_header(splits), *HEADER[2:])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(table_row(path, card, splits, link_prefix)) + " |" for path, card in cards]
    return lines


def draw_curves(models_dir: Path, figures: Path) -> list[Path]:
    """``<model stem>_curve.png`` in ``figures`` for every card in ``models_dir`` with a curve."""
    drawn = []
    for path in sorted(models_dir.glob("*.onnx")):
        curve = read_card(path).training.get("curve")
        if curve:
            drawn.append(plot_curve(curve, figures / f"{path.stem}_curve.png",
                                    f"{path.name}: learning curve of its training run"))
    return drawn


def render(models_dir: Path, figures: Path | None = None) -> str:
    """The README text for every ``*.onnx`` in ``models_dir``; raises ModelCardError on a bad file."""
    paths = sorted(models_dir.glob("*.onnx"))
    cards = [(path, read_card(path)) for path in paths]
    command = f"emotion-train cards {models_dir.as_posix()}" + (
        f" --figures {figures.as_posix()}" if figures else "") + " --write"
    lines = ["# Shipped models", "",
             f"Generated by `{command}` from the model card inside "
             "each ONNX file; edit the cards (re-export), not this file. Accuracy and macro-F1 are "
             "measured on the exported file through the app's own preprocessing and inference "
             "code (`emotion-train evaluate`).", ""]
    if not cards:
        return "\n".join(lines + ["No models yet.", ""])
    lines += summary_table(cards)
    lines.append("")
    for path, card in cards:
        lines += model_section(path, card, models_dir, figures)
    return "\n".join(lines)
