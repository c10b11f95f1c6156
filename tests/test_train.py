"""Train -> export -> evaluate on real FER2013 crops; exact resumption; clean Ctrl-C; recipes."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from app.face.preprocess import PreprocessSpec, crop_face, crops_to_batch, to_tensor
from app.model.card import read_card
from app.model.inference import EmotionClassifier, softmax
from tests.checkpoint_fixtures import OLD_LAYOUT, make_checkpoint, old_layout, settings_for
from tests.conftest import REPO_ROOT
from training import checkpoint as checkpoints
from training import run_setup
from training.cli import main
from training.commands import train as train_command
from training.data import DataOptions, load_split
from training.data.labels import FER2013_LABELS
from training.distributed import Context
from training.export import weights_sha256
from training.models import ARCHITECTURES
from training.recipes import RECIPES
from training.settings import TrainSettings
from training.stop_signals import StopSignals

QUICK = ["--arch", "mini_xception", "--batch", "16", "--threads", "1", "--workers", "0"]


@pytest.fixture(scope="module")
def trained(fer2013_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "mini_xception"
    argv = ["train", *QUICK, "--data", str(fer2013_root), "--limit-per-class", "40", "--epochs", "2",
            "--out", str(out)]
    assert main(argv) == 0
    return out, argv


def test_checkpoint_holds_everything_to_resume_and_export(trained):
    out, argv = trained
    last = checkpoints.load(out / checkpoints.LAST)
    assert last.model.to_dict() == {"arch": "mini_xception", "num_classes": 7, "in_channels": 1,
                                    "input_size": 48}
    assert last.labels == FER2013_LABELS and last.stopped == "finished"
    assert last.command == "emotion-train " + shlex.join(argv)
    written = torch.load(out / checkpoints.LAST, map_location="cpu", weights_only=True)
    for key in ("state_dict", "optimiser", "scheduler", "scaler", "rng", "settings", "spec", "dataset"):
        assert key in written
    history = last.progress.history
    assert [entry["epoch"] for entry in history] == [1, 2]
    assert set(history[0]) == {"epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1", "lr",
                               "seconds"}
    assert last.dataset.train_images == 280 and written["spec"]["input_size"] == (48, 48)
    assert last.settings.run.threads == 1
    best = checkpoints.load(out / checkpoints.BEST)
    assert best.optimisation is None and best.run_totals.epochs == 2
    assert "optimiser" not in torch.load(out / checkpoints.BEST, map_location="cpu", weights_only=True)
    assert json.loads((out / "history.json").read_text()) == history


def test_export_evaluate_and_the_app_classifies_a_real_face(
        trained, fer2013_root, tmp_path, single_face_image, landmarker, caplog):
    out, _ = trained
    model_path = tmp_path / "models_onnx" / "mini_xception.onnx"
    subset = ["--limit-per-class", "30"]
    assert main(["export", str(out), "--out", str(model_path), *subset]) == 0
    assert not model_path.with_name("mini_xception.partial.onnx").exists()
    card = read_card(model_path)
    last = checkpoints.load(out / checkpoints.LAST)
    assert card.architecture == "mini_xception" and card.labels == FER2013_LABELS
    assert card.training["command"] == last.command and card.training["epochs"] == 2

    shipped = model_path.read_bytes()  # exporting onto it again: refused, the file untouched
    assert main(["export", str(out), "--out", str(model_path), *subset]) == 2
    assert "already exists; pass --overwrite to replace it" in caplog.text
    assert model_path.read_bytes() == shipped
    assert main(["export", str(out), "--out", str(model_path), "--overwrite", *subset]) == 0
    assert read_card(model_path).training["weights_sha256"] == card.training["weights_sha256"]
    assert card.training["weights_sha256"] == weights_sha256(model_path)
    assert card.training["parameters"] == last.parameters
    assert tuple(card.preprocess.mean) == tuple(last.spec.mean) and card.dataset.startswith("FER2013")

    reports = tmp_path / "reports"
    assert main(["evaluate", str(model_path), "--data", str(fer2013_root), *subset,
                 "--out-dir", str(reports)]) == 0
    report = json.loads((reports / "mini_xception_val.json").read_text())
    assert (reports / "mini_xception_val_confusion.png").stat().st_size > 1000
    classifier = EmotionClassifier(model_path, ["CPUExecutionProvider"])
    crops = load_split("auto", fer2013_root, "val", classifier.spec, DataOptions(limit_per_class=30))
    batch = np.stack([to_tensor(crop, classifier.spec)[0] for crop in crops.crops])
    predictions = classifier.logits(batch).argmax(axis=1)
    assert report["samples"] == len(crops) == 210
    assert report["accuracy"] == pytest.approx(np.mean(predictions == crops.targets))
    assert card.metrics["val_accuracy"] == pytest.approx(report["accuracy"])
    assert card.metrics["val_macro_f1"] == pytest.approx(report["macro_f1"])
    confusion = np.array(report["confusion_matrix"])
    assert confusion[3, 5] == np.sum((crops.targets == 3) & (predictions == 5))
    assert report["per_class"]["happy"]["recall"] == pytest.approx(confusion[3, 3] / confusion[3].sum())

    faces = landmarker.detect(single_face_image)
    assert faces, "the landmarker finds the face in single_face.jpg"
    face_batch, _ = crops_to_batch([crop_face(single_face_image, faces[0].anchors, classifier.spec)],
                                   classifier.spec)
    probabilities = classifier.probabilities(face_batch)
    assert probabilities.shape == (1, 7) and abs(probabilities.sum() - 1) < 1e-5


def test_mirror_average_is_recorded_on_the_card_and_read_at_run_time(trained, tmp_path):
    out, _ = trained
    subset = ["--limit-per-class", "10"]
    plain, mirrored = tmp_path / "plain.onnx", tmp_path / "mirrored.onnx"
    assert main(["export", str(out), "--out", str(plain), *subset]) == 0
    argv = ["export", str(out), "--out", str(mirrored), "--mirror-average", *subset]
    assert main(argv) == 0
    card = read_card(mirrored)
    assert card.views.mirror and not read_card(plain).views.mirror
    assert "mirror image" in card.training["test_time"] and "test_time" not in read_card(plain).training
    assert card.training["export_command"] == "emotion-train " + shlex.join(argv)
    faces = np.random.default_rng(0).normal(size=(5, 1, 48, 48)).astype(np.float32)
    single, averaged = (EmotionClassifier(path, ["CPUExecutionProvider"]) for path in (plain, mirrored))
    np.testing.assert_allclose(averaged.logits(faces), single.logits(faces), atol=1e-4)  # one plain file
    expected = softmax((single.logits(faces) + single.logits(faces[..., ::-1].copy())) / 2)
    np.testing.assert_allclose(averaged.predict(faces, "all").probabilities, expected, atol=1e-5)
    np.testing.assert_allclose(averaged.predict(faces, "none").probabilities, softmax(single.logits(faces)),
                               atol=1e-5)


def test_a_checkpoint_in_the_first_layout_still_loads_resumes_and_exports(trained, tmp_path):
    """Checkpoints written before the options that added keys (``checkpoint.ADDED_SINCE``)
    lack them: they read with those options' defaults, export the card a new one does, and
    resume."""
    out, _ = trained
    old = tmp_path / "old"
    old.mkdir()

    def plain(checkpoint):  # the fields that are not tensors
        return replace(checkpoint, state_dict={}, loss_state={}, rng={}, optimisation=None)

    for name in (checkpoints.LAST, checkpoints.BEST):
        written = torch.load(out / name, map_location="cpu", weights_only=True)
        assert set(written) <= {*OLD_LAYOUT, "ema"}
        torch.save(old_layout(written), old / name)
        assert plain(checkpoints.load(old / name)) == plain(checkpoints.load(out / name))
    cards = []
    for folder in (out, old):
        path = tmp_path / f"{folder.name}.onnx"
        assert main(["export", str(folder), "--out", str(path), "--limit-per-class", "5"]) == 0
        card = read_card(path)
        cards.append(replace(card, training={key: value for key, value in card.training.items()
                                             if key != "export_command"}))
    assert cards[0] == cards[1]
    assert main(["train", "--resume", "--out", str(old), "--epochs", "3", "--threads", "1"]) == 0
    resumed = checkpoints.load(old / checkpoints.LAST)
    assert resumed.progress.epoch == 3 and len(resumed.resumed) == 1
    assert resumed.settings.recipe.name == "paper" and not resumed.settings.ablate


def test_resume_reports_the_same_metrics_as_an_uninterrupted_run(fer2013_root, tmp_path):
    common = ["train", *QUICK, "--data", str(fer2013_root), "--limit-per-class", "20", "--epochs", "3",
              "--gamma", "--loss", "weighted_cross_entropy"]
    straight, paused = tmp_path / "straight", tmp_path / "paused"
    assert main([*common, "--out", str(straight)]) == 0
    assert main([*common, "--out", str(paused), "--max-minutes", "0"]) == 75  # pauses after a batch
    saved = checkpoints.load(paused / checkpoints.LAST)
    assert saved.stopped == "paused" and saved.progress.batches_done == 1
    resume = ["train", "--resume", "--out", str(paused), "--threads", "1", "--workers", "1"]
    assert main([*resume, "--max-minutes", "0"]) == 75  # mid-epoch again, now with a loader worker
    assert main(resume) == 0
    expected, resumed = (checkpoints.load(run / checkpoints.LAST) for run in (straight, paused))
    strip = [{key: value for key, value in entry.items() if key != "seconds"}
             for entry in expected.progress.history]
    assert [{key: value for key, value in entry.items() if key != "seconds"}
            for entry in resumed.progress.history] == strip
    for name, tensor in expected.state_dict.items():
        assert torch.equal(tensor, resumed.state_dict[name]), name
    assert resumed.command == expected.command.replace(str(straight), str(paused)) + \
        " --max-minutes 0"
    assert len(resumed.resumed) == 2


def test_ctrl_c_saves_and_exits_cleanly(fer2013_root, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "training", "train", *QUICK, "--workers", "1", "--data",
               str(fer2013_root), "--limit-per-class", "20", "--epochs", "1000", "--patience", "1000",
               "--out", str(out)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out / "history.json").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: loader workers get it too
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130, output
    assert "Traceback" not in output and "--resume --out" in output
    saved = checkpoints.load(out / checkpoints.LAST)
    assert saved.stopped == "interrupted" and saved.progress.epoch >= 1


def test_stop_signals_ask_once_then_abort():
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_off_a_terminal_a_run_says_where_each_epoch_stands_and_what_it_saved(
        fer2013_root, tmp_path, monkeypatch, caplog):
    """No progress bar off a terminal (a log, a pipe): lines within the epoch and at every
    checkpoint save instead, so a long epoch is never silent."""
    from training import trainer

    monkeypatch.setattr(trainer, "PROGRESS_LINE_EVERY_S", 0.0)  # a line after every batch
    caplog.set_level("INFO")
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--data", str(fer2013_root), "--limit-per-class", "10",
                 "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    within = [record.getMessage() for record in caplog.records if "  batch " in record.getMessage()]
    batches = len(within)
    assert batches >= 3 and within[-1].startswith(f"epoch 1/1  batch {batches}/{batches}  train loss ")
    assert all("min left" in line for line in within)
    ended = [record.getMessage() for record in caplog.records
             if record.getMessage().startswith("epoch 1/1  train loss")]
    assert len(ended) == 1 and ended[0].endswith("saved last.pt and best.pt")


def test_bad_input_is_refused_with_a_reason(trained, tmp_path, caplog):
    out, argv = trained
    assert main(argv) == 2 and "pass --resume" in caplog.text
    assert main(["train", "--resume", "--out", str(out), "--lr", "0.1"]) == 2
    assert "--lr cannot change when resuming" in caplog.text
    assert main(["train", "--resume", "--out", str(tmp_path / "none")]) == 2
    assert "no such checkpoint" in caplog.text
    assert main(["train", "--arch", "mini_xception", "--data", str(tmp_path), "--out",
                 str(tmp_path / "run")]) == 2
    assert "matches no dataset layout" in caplog.text
    assert main(["export", str(tmp_path / "none.pt"), "--out", str(tmp_path / "m.onnx")]) == 2


def test_every_architecture_has_its_paper_recipe():
    assert set(ARCHITECTURES) <= set(RECIPES)
    dcrnet = RECIPES["dcrnet"]
    assert (dcrnet.optimiser.name, dcrnet.optimiser.lr, dcrnet.optimiser.weight_decay) == ("adam", 1e-4, 1e-3)
    assert (dcrnet.schedule.name, dcrnet.schedule.monitor, dcrnet.schedule.patience) == \
        ("plateau", "val_accuracy", 3)
    assert dcrnet.loss == "weighted_cross_entropy" and dcrnet.gamma and dcrnet.batch_size == 32
    assert RECIPES["vgg16_gcca_pdra"].island_weight == 0.005
    assert RECIPES["vgg16_gcca_pdra"].augment.rotation_step == 5
    mini = RECIPES["mini_xception"]
    assert (mini.batch_size, mini.epochs, mini.early_stopping_patience) == (32, 150, 50)
    assert (mini.augment.rotation_degrees, mini.augment.shift, mini.augment.zoom) == (10, 0.1, 0.1)
    yolo = RECIPES["yolov8_dyconv_gam"]
    assert (yolo.optimiser.lr, yolo.batch_size, yolo.epochs) == (0.01, 16, 50)
    assert yolo.augment.crop_area != (1.0, 1.0) and yolo.augment.brightness > 0
    assert RECIPES["mobilenetv3_dilated_simam"].optimiser.name == "sgd"


def test_overrides_resolve_and_settings_round_trip(fer2013_root, capsys):
    assert main(["train", "--arch", "dcrnet", "--data", str(fer2013_root), "--dry-run", "--lr", "0.001",
                 "--augment", "rotation_degrees=15", "--exclude-classes", "disgust"]) == 0
    data = json.loads(capsys.readouterr().out)
    settings = TrainSettings.from_dict(data)
    assert json.loads(json.dumps(settings.to_dict())) == data
    assert settings.recipe.optimiser.lr == 0.001 and settings.recipe.optimiser.weight_decay == 1e-3
    assert settings.recipe.augment.rotation_degrees == 15 and settings.recipe.augment.shear_degrees == 10
    assert settings.data.options.exclude_classes == ("disgust",) and settings.recipe.gamma
    assert settings.input_size == ARCHITECTURES["dcrnet"].input_size and settings.run.out == "runs/dcrnet"


def test_a_spec_that_cached_its_template_still_saves_a_safe_checkpoint(fer2013_root, tmp_path, monkeypatch):
    """A spec may cache its AlignmentTemplate in its ``__dict__`` (``functools.cached_property``
    did): a checkpoint keeps the declared fields only, so ``weights_only`` loading (resume,
    export) still accepts it, whatever the spec caches."""
    build_parts = train_command.build_parts

    def touching_the_template(*args):
        parts = build_parts(*args)
        template = parts.spec.template
        assert template.template_id == parts.spec.alignment_template
        object.__setattr__(parts.spec, "cached_template", template)  # as a cached_property stores it
        return parts

    monkeypatch.setattr(train_command, "build_parts", touching_the_template)
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--data", str(fer2013_root), "--limit-per-class", "5", "--epochs", "1",
                 "--out", str(out)]) == 0
    for name in (checkpoints.LAST, checkpoints.BEST):
        saved = torch.load(out / name, map_location="cpu", weights_only=True)
        assert list(saved["spec"]) == list(PreprocessSpec.__dataclass_fields__)
        assert checkpoints.spec_from(saved["spec"]).alignment_template == "fer2013-mesh-v1"


def test_a_stored_spec_ignores_keys_it_does_not_declare_and_names_missing_ones():
    spec = PreprocessSpec((48, 48), 1, "gray", (0.5,), (0.25,), True, "fer2013-mesh-v1")
    stored = {**asdict(spec), "input_size": [48, 48], "mean": [0.5], "std": [0.25],
              "written_by_another_version": 1}
    assert checkpoints.spec_from(stored) == spec
    del stored["gamma"]
    with pytest.raises(checkpoints.CheckpointError, match="lacks \\['gamma'\\]"):
        checkpoints.spec_from(stored)
    del stored["landmark_emphasis"]  # added since: older checkpoints lack it and trained without
    stored["gamma"] = True
    assert checkpoints.spec_from(stored) == spec


def test_a_checkpoint_without_a_key_no_version_wrote_is_refused_by_name(tmp_path):
    written = make_checkpoint(settings_for(str(tmp_path))).to_dict()
    del written["dataset"]
    with pytest.raises(checkpoints.CheckpointError, match="'dataset'"):
        checkpoints.Checkpoint.from_dict(written, "run/last.pt")


def test_the_thread_ceiling_is_the_cores_share(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(run_setup, "available_cores", lambda: 8)
    assert run_setup.thread_ceiling(Context(torch.device("cpu"), local_world_size=2)) == 4
    assert run_setup.thread_ceiling(Context(torch.device("cpu"), local_world_size=16)) == 1


def test_resume_keeps_the_runs_thread_choice_unless_threads_is_given(tmp_path, capsys, caplog):
    out = tmp_path / "run"
    new_run = ["train", "--arch", "mini_xception", "--data", str(tmp_path), "--out", str(out), "--dry-run"]
    assert main(new_run) == 0
    settings = TrainSettings.from_dict(json.loads(capsys.readouterr().out))
    assert settings.run.threads is None  # auto: follows the load, resumed as auto
    checkpoints.save(make_checkpoint(settings.with_run(threads=3), stopped="paused"), out / checkpoints.LAST)
    resume = ["train", "--resume", "--out", str(out), "--dry-run"]
    for extra, threads in (([], 3), (["--threads", "1"], 1), (["--threads", "auto"], None)):
        assert main([*resume, *extra]) == 0
        assert json.loads(capsys.readouterr().out)["run"]["threads"] == threads
    with pytest.raises(SystemExit):
        main([*resume, "--threads", "0"])
    assert "must be a whole number of at least 1, or auto" in capsys.readouterr().err
