"""A model's accuracy over seeds: runs checked to differ only by seed, figures in the card."""

from __future__ import annotations

import statistics

import pytest

from app.model.card import read_card
from training import checkpoint as checkpoints
from training.cli import main
from training.model_cards import model_section
from training.seed_spread import run_minutes, spread_text

QUICK = ["--arch", "mini_xception", "--limit-per-class", "10", "--epochs", "1", "--batch", "16",
         "--threads", "1", "--workers", "0"]


@pytest.fixture(scope="module")
def seed_runs(fer2013_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("seeds")
    runs = {}
    for name, extra in (("seed0", ["--seed", "0"]), ("seed1", ["--seed", "1"]),
                        ("other-lr", ["--seed", "2", "--lr", "0.003"])):
        runs[name] = root / name
        assert main(["train", *QUICK, *extra, "--data", str(fer2013_root), "--out", str(runs[name])]) == 0
    model = root / "model.onnx"
    assert main(["export", str(runs["seed0"]), "--out", str(model), "--limit-per-class", "10"]) == 0
    return model, runs


def test_the_card_gets_the_mean_and_spread_over_seeds(seed_runs, capsys):
    model, runs = seed_runs
    before = read_card(model)
    assert main(["seeds", str(model), str(runs["seed0"]), str(runs["seed1"]), "--write-card"]) == 0
    accuracies = [checkpoints.load(runs[name]).progress.best_accuracy for name in ("seed0", "seed1")]
    card = read_card(model)
    assert card.metrics["val_accuracy_seed_mean"] == pytest.approx(statistics.fmean(accuracies))
    assert card.metrics["val_accuracy_seed_std"] == pytest.approx(statistics.stdev(accuracies))
    assert card.metrics["val_accuracy"] == before.metrics["val_accuracy"]  # the file's own figure stays
    assert card.training["seed_runs"]["seeds"] == [0, 1]
    assert card.training["weights_sha256"] == before.training["weights_sha256"]
    printed = capsys.readouterr().out
    assert f"{spread_text([100 * value for value in accuracies])} % val over 2 seeds" in printed
    section = "\n".join(model_section(model, card, model.parent, None))
    assert "- Over seeds: " in section and "seeds 0, 1" in section


def test_runs_that_differ_in_more_than_the_seed_are_refused(seed_runs, caplog):
    model, runs = seed_runs
    assert main(["seeds", str(model), str(runs["seed0"]), str(runs["other-lr"])]) == 2
    assert "differs from" in caplog.text and "recipe" in caplog.text and "not only in its seed" in caplog.text
    assert main(["seeds", str(model), str(runs["seed0"]), str(runs["seed0"])]) == 2
    assert "repeat a seed" in caplog.text


def test_a_run_of_another_architecture_is_refused(seed_runs, tmp_path, caplog):
    from tests.onnx_fixtures import fer_card, linear_model, write_model

    _, runs = seed_runs
    other = write_model(tmp_path / "probe.onnx", linear_model(), fer_card())
    assert main(["seeds", str(other), str(runs["seed0"])]) == 2
    assert "not linear_probe runs" in caplog.text


def test_run_minutes_leave_out_a_paused_epoch():
    progress = checkpoints.Progress(epoch=3, seconds=3 * 60 + 3600,
                                    history=[{"seconds": 60.0}, {"seconds": 3660.0}, {"seconds": 60.0}])
    assert run_minutes(progress) == pytest.approx(3.0)
    assert spread_text([]) == "-" and spread_text([65.0]) == "65.00"
