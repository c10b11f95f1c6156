"""``emotion-train cards`` builds the models README from the cards inside the ONNX files;
``evaluate --write-card`` adds a split's figures to a card."""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from app.model.card import ModelCardError, read_card
from tests.onnx_fixtures import fer_card, linear_model, write_model
from training.cli import main
from training.data.labels import FER2013_LABELS
from training.export import weights_sha256


def test_table_and_sections_from_the_cards(tmp_path, capsys):
    models, figures = tmp_path / "models_onnx", tmp_path / "docs"
    models.mkdir()
    figures.mkdir()
    training = {"command": "emotion-train train --arch linear_probe --data fer2013", "epochs": 12,
                "seconds": 5400.0, "parameters": 16135, "weights_sha256": "ab" * 32,
                "resumed": ["emotion-train train --resume --out runs/linear_probe"],
                "notes": ["trained from scratch"]}
    write_model(models / "linear_probe.onnx", linear_model(),
                fer_card(metrics={"val_accuracy": 0.6612, "val_macro_f1": 0.6432}, training=training))
    write_model(models / "bare.onnx", linear_model(seed=1), fer_card(architecture="bare", metrics={}))
    (figures / "linear_probe_val_confusion.png").write_bytes(b"\x89PNG")
    assert main(["cards", str(models), "--figures", str(figures)]) == 0
    text = capsys.readouterr().out
    assert "| [linear_probe.onnx](linear_probe.onnx) | linear_probe | 66.12 % | 0.6432 | 1x48x48 gray" in text
    assert "| 12 | 1.5 h | FER2013 |" in text
    assert "| [bare.onnx](bare.onnx) | bare | - | - |" in text
    assert "`emotion-train train --arch linear_probe --data fer2013`" in text
    assert "Resumed with: `emotion-train train --resume --out runs/linear_probe`" in text
    assert "(../docs/linear_probe_val_confusion.png)" in text and "ab" * 32 in text
    assert main(["cards", str(models), "--write"]) == 0
    assert (models / "README.md").read_text().startswith("# Shipped models")


def test_a_foreign_file_is_named(tmp_path, caplog):
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    assert main(["cards", str(tmp_path)]) == 2
    assert "broken.onnx" in caplog.text
    assert main(["cards", str(tmp_path / "missing")]) == 2


def _test_split(root: Path, per_class: int = 3) -> Path:
    """A tiny image tree with only a ``test`` split (random 48x48 grey crops)."""
    rng = np.random.default_rng(0)
    for label in FER2013_LABELS:
        folder = root / "test" / label
        folder.mkdir(parents=True)
        for index in range(per_class):
            cv2.imwrite(str(folder / f"{index}.png"), rng.integers(0, 256, (48, 48), np.uint8))
    return root


@pytest.fixture
def scored_model(tmp_path) -> Path:
    card = fer_card(metrics={"val_accuracy": 0.61, "val_macro_f1": 0.55, "fp32_val_accuracy": 0.62},
                    training={"command": "emotion-train train", "weights_sha256": "set below"})
    (tmp_path / "models_onnx").mkdir()
    path = write_model(tmp_path / "models_onnx" / "linear_probe.onnx", linear_model(), card)
    card = replace(card, training=dict(card.training, weights_sha256=weights_sha256(path)))
    proto = onnx.load(str(path))
    card.embed(proto)
    proto.metadata_props.add(key="producer_note", value="kept")  # not the card's: must survive
    onnx.save_model(proto, str(path))
    return path


def test_evaluate_write_card_records_the_split_and_keeps_the_weights(scored_model, tmp_path, capsys):
    data = _test_split(tmp_path / "data")
    sha = weights_sha256(scored_model)
    assert main(["evaluate", str(scored_model), "--data", str(data), "--split", "test", "--write-card",
                 "--out-dir", str(tmp_path / "reports")]) == 0
    report = json.loads((tmp_path / "reports" / "linear_probe_test.json").read_text())
    card = read_card(scored_model)
    assert card.metrics["test_accuracy"] == pytest.approx(report["accuracy"])
    assert card.metrics["test_macro_f1"] == pytest.approx(report["macro_f1"])
    assert card.metrics["val_accuracy"] == 0.61 and card.metrics["fp32_val_accuracy"] == 0.62
    assert card.training["test_evaluated_on"] == "21 images of FER2013 test"
    assert weights_sha256(scored_model) == sha == card.training["weights_sha256"]
    assert {p.key: p.value for p in onnx.load(str(scored_model)).metadata_props}["producer_note"] == "kept"
    assert sorted(path.name for path in scored_model.parent.iterdir()) == ["linear_probe.onnx"]

    capsys.readouterr()
    assert main(["cards", str(scored_model.parent)]) == 0
    header, _, row = capsys.readouterr().out.split("\n")[4:7]
    assert header.startswith("| Model | Architecture | Val accuracy | Val macro-F1 | Test accuracy | "
                             "Test macro-F1 | Input |")  # fp32_val_accuracy is no split
    test_accuracy = f"{100 * report['accuracy']:.2f} %"
    assert row.startswith(f"| [linear_probe.onnx](linear_probe.onnx) | linear_probe | 61.00 % | 0.5500 | "
                          f"{test_accuracy} | {report['macro_f1']:.4f} | 1x48x48 gray |")


def test_write_card_refuses_a_subset_and_a_failed_rewrite_leaves_the_file(
        scored_model, tmp_path, monkeypatch, caplog):
    data = _test_split(tmp_path / "data")
    original = scored_model.read_bytes()
    evaluate = ["evaluate", str(scored_model), "--data", str(data), "--split", "test", "--write-card",
                "--out-dir", str(tmp_path / "reports")]
    assert main([*evaluate, "--limit-per-class", "2"]) == 2
    assert "whole split" in caplog.text and scored_model.read_bytes() == original

    def refuse(path):
        raise ModelCardError(f"{path}: refused")

    monkeypatch.setattr("training.export.read_card", refuse)  # the check of the rewritten file fails
    assert main(evaluate) == 2 and "card not updated" in caplog.text
    assert scored_model.read_bytes() == original
    assert sorted(path.name for path in scored_model.parent.iterdir()) == ["linear_probe.onnx"]


def test_an_interrupted_run_says_where_it_stopped(tmp_path):
    from dataclasses import replace

    from tests.checkpoint_fixtures import make_checkpoint, settings_for
    from training import checkpoint as checkpoints
    from training.checkpoint import Progress, RunTotals
    from training.checkpoint_card import last_beside, run_ending_notes, run_totals

    settings = settings_for(str(tmp_path), epochs=150)
    last = make_checkpoint(settings, Progress(epoch=40, seconds=600.0), learning_rate=1e-6,
                           stopped="interrupted")
    best = make_checkpoint(settings, Progress(epoch=37, seconds=550.0), optimisation=None)
    checkpoints.save(last, tmp_path / checkpoints.LAST)
    checkpoints.save(best, tmp_path / checkpoints.BEST)
    loaded = checkpoints.load(tmp_path / checkpoints.BEST)
    notes = run_ending_notes(loaded, last_beside(loaded))
    assert notes == ["the run was stopped (interrupted) in epoch 41 of 150 after 10.0 min; "
                     "the learning rate was then 1.0e-06"]
    finished = replace(checkpoints.load(tmp_path / checkpoints.BEST),
                       run_totals=RunTotals(40, 600.0, [], "finished"))
    assert last_beside(finished) is None and run_ending_notes(finished, last_beside(loaded)) == []
    # The card counts the epochs the run went through, not those up to its best one.
    assert run_totals(loaded, last_beside(loaded)) == (40, 600.0)


def test_the_epochs_line_never_contradicts_a_stopped_run_s_note():
    from training.model_cards import epochs_text

    stopped = {"best_epoch": 86, "epochs": 86, "notes": ["the run was stopped (interrupted) in epoch 91"]}
    assert "86 of 86" not in epochs_text(stopped) and "stopped" in epochs_text(stopped)
    assert epochs_text({"best_epoch": 48, "epochs": 50, "notes": []}) == "best epoch 48 of 50 run"


def test_the_shipped_models_readme_is_what_the_cards_say_now(capsys, monkeypatch):
    """models_onnx/README.md is generated from the cards inside the files; a card rewritten
    (``evaluate --write-card``) or a file replaced without regenerating it fails here."""
    from tests.conftest import REPO_ROOT

    models = REPO_ROOT / "models_onnx"
    if not any(models.glob("*.onnx")):
        pytest.skip("no shipped models")
    monkeypatch.chdir(REPO_ROOT)  # the file names the command as run from the repository root
    assert main(["cards", "models_onnx", "--figures", "docs/models"]) == 0
    assert capsys.readouterr().out == (models / "README.md").read_text(), (
        "run: emotion-train cards models_onnx --figures docs/models --write")
