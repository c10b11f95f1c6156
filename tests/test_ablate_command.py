"""``emotion-train ablate`` on a mini budget: every (variant, seed) trains into its own run
whose checkpoint holds the variant, a second session resumes only what is unfinished,
the table is rebuilt from the runs, and export rebuilds the variant into its card."""

from dataclasses import replace

import pytest

from app.model.card import read_card
from training import ablations
from training import checkpoint as checkpoints
from training.cli import main
from training.model_table import count_parameters
from training.models import build_model

ARCH = "mobilenetv3_dilated_simam"
BASE = ablations.table_for(ARCH).variant("base")


@pytest.fixture(scope="module")
def ablation(fer2013_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("ablate") / ARCH
    argv = ["ablate", "--arch", ARCH, "--data", str(fer2013_root), "--variants", "base", "full",
            "--seeds", "0", "1", "--epochs", "1", "--limit-per-class", "5", "--batch", "16",
            "--threads", "1", "--workers", "0", "--out", str(out)]
    assert main(argv) == 0
    return out, argv


def test_every_run_holds_its_variant(ablation):
    out, _ = ablation
    assert sorted(path.name for path in out.iterdir() if path.is_dir()) == [
        "base-seed0", "base-seed1", "full-seed0", "full-seed1"]
    for seed in (0, 1):
        base = checkpoints.load(out / f"base-seed{seed}" / checkpoints.LAST)
        assert base.stopped == "finished" and base.settings.seed == seed
        assert base.to_dict()["model"]["ablate"] == list(base.settings.ablate) == sorted(BASE.ablate)
        assert base.command.startswith("emotion-train train --arch mobilenetv3_dilated_simam")
        full = checkpoints.load(out / f"full-seed{seed}" / checkpoints.LAST)
        assert "ablate" not in full.to_dict()["model"] and not full.settings.ablate
    rebuilt = base.trained_model()
    assert count_parameters(rebuilt) == base.parameters == count_parameters(
        build_model(ARCH, ablate=BASE.ablate))
    assert base.parameters != full.parameters


def test_the_table_has_one_row_per_variant(ablation):
    out, _ = ablation
    text = (out / "ablation.md").read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in text.splitlines()
            if line.startswith(("| base ", "| full "))}
    assert set(rows) == {"base", "full"}
    assert rows["base"][3] == "87.4" and rows["full"][3] == "92.1"  # Table 4's numbers
    for name, cells in rows.items():
        assert "±" in cells[6] and cells[7] == "2/2"
        variant = ablations.table_for(ARCH).variant(name)
        assert cells[4] == f"{count_parameters(build_model(ARCH, ablate=variant.ablate)) / 1e6:.3f}"
    assert "Table 4" in text and "epochs 1" in text
    (out / "ablation.md").unlink()
    assert main(["ablate", "--table-only", "--out", str(out)]) == 0
    assert (out / "ablation.md").read_text() == text


def test_a_second_session_resumes_only_the_unfinished_run(ablation):
    out, argv = ablation
    paused = out / "base-seed1" / checkpoints.LAST  # the ablated variant must rebuild to resume
    checkpoints.save(replace(checkpoints.load(paused), stopped="paused"), paused)
    before = {path: path.stat().st_mtime_ns for path in out.glob(f"*/{checkpoints.LAST}")}
    assert main(argv) == 0
    changed = [path for path, mtime in before.items() if path.stat().st_mtime_ns != mtime]
    assert changed == [paused]
    resumed = checkpoints.load(paused)
    assert resumed.stopped == "finished" and len(resumed.resumed) == 1
    assert main([*argv[:-2], "--epochs", "2", "--out", str(out)]) == 2  # another budget: refused


def test_export_rebuilds_the_variant_and_its_card_says_so(ablation, tmp_path):
    out, _ = ablation
    path = tmp_path / "base.onnx"
    assert main(["export", str(out / "base-seed0"), "--out", str(path), "--limit-per-class", "5"]) == 0
    card = read_card(path)
    assert card.training["ablate"] == sorted(BASE.ablate)
    assert card.training["parameters"] == count_parameters(build_model(ARCH, ablate=BASE.ablate))


def test_unknown_rows_and_switches_are_refused(fer2013_root, tmp_path):
    common = ["--data", str(fer2013_root), "--out", str(tmp_path / "x")]
    assert main(["ablate", "--arch", ARCH, "--variants", "nope", *common]) == 2
    assert main(["train", "--arch", ARCH, "--ablate", "gam", *common]) == 2
    assert not (tmp_path / "x").exists()
