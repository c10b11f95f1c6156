"""Outputs are never written through a link, and a file being written never shows under
its real name: ``app.system.output_files``, used by batch, headless, the plot, the
manifest, checkpoints and every model export.

A batch once replaced ``victim.txt`` with its CSV through a link planted at
``OUT/m1.csv.partial``, and ``emotion-train export`` wrote ``DIR/mini.partial.onnx``, which
``--list-models`` listed as a model and which a Ctrl+C or SIGTERM left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from app.model.library import scan_models
from app.system.output_files import Staged, create_new, create_output, write_bytes_staged
from tests.checkpoint_fixtures import make_checkpoint, settings_for
from tests.conftest import REPO_ROOT
from tests.test_batch import MODEL, emotion_app
from training import checkpoint as checkpoints

SECRET = "the victim's own text\n"


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text(SECRET)
    return path


def test_new_files_are_never_created_through_a_link(tmp_path, victim):
    (tmp_path / "link").symlink_to(victim)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for name in ("link", "dangling"):
        with pytest.raises(FileExistsError):
            create_new(tmp_path / name)
    assert not (tmp_path / "nowhere").exists()
    descriptor = create_output(tmp_path / "link", overwrite=True)  # the link goes, a file comes
    os.write(descriptor, b"new")
    os.close(descriptor)
    assert victim.read_text() == SECRET and not (tmp_path / "link").is_symlink()
    descriptor = create_output("/dev/null", overwrite=False)  # a device is written as it is
    os.close(descriptor)


def test_a_staged_file_replaces_a_link_itself_and_leaves_nothing_behind(tmp_path, victim):
    out = tmp_path / "out.csv"
    out.symlink_to(victim)
    write_bytes_staged(out, b"rows\n")
    assert victim.read_text() == SECRET and out.read_bytes() == b"rows\n" and not out.is_symlink()
    with pytest.raises(FileExistsError):
        write_bytes_staged(out, b"other\n", replace=False)
    with pytest.raises(RuntimeError), Staged(tmp_path / "failed.csv") as stage:
        stage.path.write_text("half")
        raise RuntimeError("the writer failed")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.csv", "victim.txt"]


def test_sigterm_removes_a_staged_file_before_the_process_ends(tmp_path):
    code = ("import sys, time\n"
            "from app.system.output_files import Staged\n"
            "stage = Staged(sys.argv[1])\n"
            "stage.path.write_text('half')\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n")
    running = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "model.onnx")], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, text=True)
    assert running.stdout.readline() == "ready\n"
    assert len(list(tmp_path.iterdir())) == 1  # the hidden staging folder
    running.send_signal(signal.SIGTERM)
    assert running.wait(timeout=30) == -signal.SIGTERM  # it still ends as SIGTERM ends a process
    assert list(tmp_path.iterdir()) == []


def test_a_batch_never_writes_through_links_planted_in_its_output_folder(media_dir, tmp_path, victim):
    clip = tmp_path / "m1.mp4"
    clip.symlink_to(media_dir / "pyfeat_single_face.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "m1.csv.partial").symlink_to(victim)  # what the fault pass planted
    (out / "m1.csv").symlink_to(victim)
    completed = emotion_app("batch", clip, "--out", out, "--model", MODEL, "--max-frames", 2)
    assert completed.returncode == 0, completed.stderr
    assert victim.read_text() == SECRET
    assert not (out / "m1.csv").is_symlink() and (out / "m1.csv").read_text().startswith("row_type,")
    assert sorted(path.name for path in out.iterdir()) == ["m1.csv", "m1.csv.partial", "manifest.csv"]

    (out / "manifest.csv").unlink()
    (out / "manifest.csv").symlink_to(victim)
    completed = emotion_app("batch", clip, "--out", out, "--model", MODEL, "--max-frames", 2)
    assert completed.returncode == 2 and "manifest.csv is a link" in completed.stderr
    assert victim.read_text() == SECRET


def test_headless_refuses_a_link_at_its_csv_and_replaces_only_the_link(media_dir, tmp_path, victim):
    link = tmp_path / "run.csv"
    link.symlink_to(victim)
    run = ["--headless", "--source", media_dir / "pyfeat_single_face.mp4", "--model", MODEL,
           "--max-frames", 2, "--csv", link]
    completed = emotion_app(*run)
    assert completed.returncode == 2 and "a link is there" in completed.stderr
    completed = emotion_app(*run, "--overwrite")
    assert completed.returncode == 0, completed.stderr
    assert victim.read_text() == SECRET and not link.is_symlink()


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    """A ``best.pt`` of an untrained mini_xception: what export reads, written in seconds."""
    from training.models import build_model

    folder = tmp_path_factory.mktemp("checkpoint")
    model = build_model("mini_xception", num_classes=7, in_channels=1, input_size=48)
    saved = make_checkpoint(settings_for(str(folder)), state_dict=model.state_dict(), optimisation=None)
    return checkpoints.save(saved, folder / "best.pt")


def export(checkpoint, out, fer2013_root) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "training", "export", str(checkpoint), "--out", str(out), "--data",
         str(fer2013_root), "--limit-per-class", "3"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_model_library_never_lists_a_model_being_exported(small_checkpoint, fer2013_root, tmp_path):
    folder = tmp_path / "models"
    running = export(small_checkpoint, folder / "mini.onnx", fer2013_root)
    seen, scans = set(), 0
    while running.poll() is None:
        entries, refused = scan_models([folder])
        seen |= {entry.path.name for entry in entries} | {item.path.name for item in refused}
        scans += 1
        time.sleep(0.05)
    assert running.returncode == 0, running.stderr.read()
    assert scans > 10 and seen <= {"mini.onnx"}  # never a partial file, listed or refused
    assert [path.name for path in folder.iterdir()] == ["mini.onnx"]


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_export_leaves_nothing(small_checkpoint, fer2013_root, tmp_path, ending):
    folder = tmp_path / "models"
    running = export(small_checkpoint, folder / "mini.onnx", fer2013_root)
    deadline = time.monotonic() + 120
    while not (folder.is_dir() and any((folder / path).is_dir() for path in os.listdir(folder))):
        assert running.poll() is None and time.monotonic() < deadline, running.communicate()
        time.sleep(0.02)
    time.sleep(1.0)  # well into the export
    running.send_signal(ending)
    running.communicate(timeout=120)
    assert running.returncode != 0
    assert list(folder.iterdir()) == []
