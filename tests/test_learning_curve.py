"""A run's learning curve: in the card export writes, given to an older card by ``curve``,
summarised and drawn in the models README."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.model.card import read_card
from training import checkpoint as checkpoints
from training.cli import main
from training.learning_curve import compact_curve, curve_text, tail_gain
from training.model_cards import render

QUICK = ["--arch", "mini_xception", "--limit-per-class", "10", "--batch", "16", "--threads", "1",
         "--workers", "0"]


@pytest.fixture(scope="module")
def curve_runs(fer2013_root, tmp_path_factory):
    """Two tiny real runs, one exported; and the exported file's card without its curve, as
    a card written before export kept one."""
    root = tmp_path_factory.mktemp("curves")
    runs = {name: root / name for name in ("made", "other")}
    for name, epochs in (("made", "3"), ("other", "2")):
        assert main(["train", *QUICK, "--epochs", epochs, "--data", str(fer2013_root),
                     "--out", str(runs[name])]) == 0
    models = root / "models"
    models.mkdir()
    model = models / "mini.onnx"
    assert main(["export", str(runs["made"]), "--out", str(model), "--limit-per-class", "10"]) == 0
    return model, runs


def history(run):
    return json.loads((run / "history.json").read_text())


def test_export_puts_every_epoch_of_the_run_in_the_card(curve_runs):
    model, runs = curve_runs
    curve = read_card(model).training["curve"]
    epochs = history(runs["made"])
    assert [point["epoch"] for point in curve] == [1, 2, 3]
    assert [point["val_accuracy"] for point in curve] == pytest.approx(
        [epoch["val_accuracy"] for epoch in epochs], abs=1e-5)
    assert all("seconds" not in point for point in curve)  # machine time stays in the run


def test_curve_gives_an_older_card_its_runs_curve_and_refuses_another(curve_runs, tmp_path, caplog, capsys):
    import shutil
    from dataclasses import replace

    from training.export import write_card

    model, runs = curve_runs
    older = tmp_path / "older.onnx"
    shutil.copy(model, older)
    card = read_card(older)
    write_card(older, replace(card, training={k: v for k, v in card.training.items() if k != "curve"}))
    assert "curve" not in read_card(older).training

    assert main(["curve", str(runs["other"]), "--write-card", str(older)]) == 2
    assert "not the run that made this model" in caplog.text and "command" in caplog.text
    assert "curve" not in read_card(older).training

    assert main(["curve", str(runs["made"]), "--write-card", str(older),
                 "--plot", str(tmp_path / "curve.png")]) == 0
    after = read_card(older)
    assert after.training["curve"] == card.training["curve"]
    assert after.training["weights_sha256"] == card.training["weights_sha256"]
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "epoch  train loss" in printed and "best" in printed


def test_cards_draw_and_link_each_models_curve(curve_runs, tmp_path):
    import cv2

    model, _ = curve_runs
    figures = tmp_path / "figures"
    assert main(["cards", str(model.parent), "--figures", str(figures), "--write"]) == 0
    image = cv2.imread(str(figures / "mini_curve.png"))
    assert image is not None and image.std() > 10  # a drawn figure, not a blank canvas
    text = (model.parent / "README.md").read_text()
    assert "- Learning curve: val accuracy" in text and "mini_curve.png" in text
    assert text == render(model.parent, figures)


def test_the_summary_reports_how_far_the_last_epochs_raised_the_best():
    history = [{"epoch": epoch, "val_accuracy": accuracy, "train_loss": 1.0 / epoch, "lr": 0.1 / epoch,
                "seconds": 60.0}
               for epoch, accuracy in enumerate([0.40, 0.50, 0.55, 0.58, 0.60, 0.61, 0.62, 0.635], 1)]
    curve = compact_curve(history)
    start, end, gained = tail_gain(curve)
    assert (start, end) == (7, 8) and gained == pytest.approx(2.5)
    text = curve_text(curve)
    assert "best 63.50 % at epoch 8 of 8" in text and "+2.50 points" in text
    assert "40.00 % after epoch 1" in text
    flat = compact_curve([{**entry, "val_accuracy": 0.6} for entry in history])
    assert tail_gain(flat)[2] == 0.0 and "best 60.00 % at epoch 1 of 8" in curve_text(flat)
    assert tail_gain(curve[:3]) is None and curve_text([]) == "-"


def test_compact_curve_drops_what_is_not_a_number():
    curve = compact_curve([{"epoch": 1, "val_accuracy": float("nan"), "train_loss": np.float32(1.25),
                            "lr": 0.000123456}])
    assert curve == [{"epoch": 1, "train_loss": 1.25, "lr": 0.000123}]


def test_a_run_without_an_epoch_has_no_curve(tmp_path, caplog):
    from tests.checkpoint_fixtures import make_checkpoint, settings_for

    saved = make_checkpoint(settings_for(str(tmp_path)))
    checkpoints.save(saved, tmp_path / "best.pt")
    assert main(["curve", str(tmp_path)]) == 2
    assert "no finished epoch" in caplog.text
