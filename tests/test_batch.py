"""``emotion-app batch``: the same CSVs as ``--headless``, a manifest, failures kept to
their file, resuming after an interrupt, and the Ray path on a local instance."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.batch.inputs import find_inputs
from app.batch.manifest import COLUMNS, Manifest, ManifestRow, file_sha256
from app.cli import main
from app.model.library import resolve_model
from app.system.cli_text import installed_version
from tests.conftest import REPO_ROOT

TIME_COLUMNS = ("wall_time", "t_seconds")
"""When the app read each frame: different in every run, batch or headless."""
MODEL = "mini_xception"


def emotion_app(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed command, as a user runs it."""
    return subprocess.run([*launcher(), *map(str, args)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout)


def launcher() -> list[str]:
    command = Path(sys.executable).with_name("emotion-app")
    return [str(command)] if command.exists() else [sys.executable, "-m", "app"]


def timeline(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV's columns and its rows without the time columns."""
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        rows = [{name: value for name, value in row.items() if name not in TIME_COLUMNS} for row in reader]
    return reader.fieldnames, rows


def manifest_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


def headless_timeline(source: Path, csv_path: Path, max_frames: int, capsys) -> tuple[list, list]:
    code = main(["--headless", "--source", str(source), "--model", MODEL, "--csv", str(csv_path),
                 "--max-frames", str(max_frames)])
    capsys.readouterr()
    assert code == 0
    return timeline(csv_path)


def link(target: Path, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


@pytest.fixture
def clips(media_dir, tmp_path) -> Path:
    """A folder of two clips (one in a subfolder) and a folder of two photos."""
    root = tmp_path / "clips"
    link(media_dir / "fer_test.mp4", root / "fer_test.mp4")
    link(media_dir / "pyfeat_single_face.mp4", root / "more" / "pyfeat_single_face.mp4")
    link(media_dir / "single_face.jpg", root / "photos" / "single_face.jpg")
    link(media_dir / "multi_face.jpg", root / "photos" / "multi_face.jpg")
    return root


def test_a_folder_gives_the_headless_csvs_and_a_complete_manifest(clips, tmp_path, capsys):
    out = tmp_path / "out"
    completed = emotion_app("batch", clips, "--out", out, "--model", MODEL, "--max-frames", 15,
                            "--workers", 2)
    assert completed.returncode == 0, completed.stderr
    assert "3 files ok, 0 failed, 0 skipped" in completed.stdout
    assert "photos: its images are one input, written to one CSV (clips/photos.csv" in completed.stderr
    assert re.search(r"fer_test.mp4: 15 frames, 15 face readings, .*\n  face 1: 15 frames, \w+ \d+%",
                     completed.stderr)  # each file's summary, as --headless prints it
    expected = {"clips/fer_test.csv": clips / "fer_test.mp4",
                "clips/more/pyfeat_single_face.csv": clips / "more" / "pyfeat_single_face.mp4",
                "clips/photos.csv": clips / "photos"}
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*.csv")) == sorted(
        [*expected, "manifest.csv"])  # the input tree, mirrored; nothing partial left
    rows = {row["output"]: row for row in manifest_rows(out)}
    assert sorted(rows) == sorted(expected)
    model_path = resolve_model(MODEL)
    for output, source in expected.items():
        columns, batch_rows = timeline(out / output)
        assert (columns, batch_rows) == headless_timeline(source, tmp_path / "headless.csv", 15, capsys)
        (tmp_path / "headless.csv").unlink()
        row = rows[output]
        assert row["input"] == str(source) and row["status"] == "ok" and row["error"] == ""
        assert int(row["frames"]) == (2 if source.is_dir() else 15)
        assert int(row["faces"]) == len(batch_rows) and float(row["seconds"]) > 0
        assert row["model"] == MODEL and row["model_sha256"] == file_sha256(model_path)
        assert row["app_version"] == installed_version()
        assert int(row["output_bytes"]) == (out / output).stat().st_size


def test_an_undecodable_file_fails_alone_with_exit_code_1(media_dir, tmp_path):
    inputs = tmp_path / "in"
    link(media_dir / "fer_test.mp4", inputs / "good.mp4")
    (inputs / "broken.mp4").write_bytes(os.urandom(20_000))
    out = tmp_path / "out"
    completed = emotion_app("batch", inputs, "--out", out, "--model", MODEL, "--max-frames", 10)
    assert completed.returncode == 1, completed.stderr
    assert "1 files ok, 1 failed" in completed.stdout and "broken.mp4" in completed.stdout
    rows = {Path(row["input"]).name: row for row in manifest_rows(out)}
    assert rows["good.mp4"]["status"] == "ok" and rows["good.mp4"]["frames"] == "10"
    assert rows["broken.mp4"]["status"] == "failed" and rows["broken.mp4"]["frames"] == "0"
    assert "cannot open" in rows["broken.mp4"]["error"]
    assert (out / "in" / "good.csv").is_file() and not (out / "in" / "broken.csv").exists()


@pytest.mark.slow
def test_an_interrupted_batch_continues_where_it_stopped(media_dir, tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    frames = {"a.mp4": 95, "b.mp4": 120, "c.mp4": 115}  # with --max-frames 120
    for name, clip in (("a", "pyfeat_no_face.mp4"), ("b", "fer_woman2.mp4"), ("c", "fer_test.mp4")):
        link(media_dir / clip, inputs / f"{name}.mp4")
    command = [*launcher(), "batch", str(inputs), "--out", str(out), "--model", MODEL,
               "--max-frames", "120"]
    running = subprocess.Popen([*command, "--workers", "1"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    manifest = out / "manifest.csv"
    deadline = time.monotonic() + 240
    while not (manifest.is_file() and manifest.read_text().count("\n") >= 2):  # one file done
        assert running.poll() is None and time.monotonic() < deadline, running.communicate()
        time.sleep(0.05)
    os.killpg(running.pid, signal.SIGINT)  # Ctrl+C, as a terminal sends it: to every process
    stdout, stderr = running.communicate(timeout=120)
    assert running.returncode == 130, stderr
    assert "run the same command again to continue (2 files left)" in stderr
    [done] = [Path(row["input"]).name for row in manifest_rows(out)]
    finished_csv = out / "in" / done.replace(".mp4", ".csv")
    assert list((out / "in").iterdir()) == [finished_csv]  # the begun one's partial is removed
    first = finished_csv.stat()

    rerun = subprocess.run([*command, "--workers", "2"], cwd=REPO_ROOT, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "2 files ok, 0 failed, 1 skipped" in rerun.stdout
    rows = manifest_rows(out)
    assert [Path(row["input"]).name for row in rows] == ["a.mp4", "b.mp4", "c.mp4"]  # once each
    assert finished_csv.stat().st_mtime_ns == first.st_mtime_ns  # not analysed again
    for row in rows:
        _, csv_rows = timeline(out / row["output"])
        assert row["status"] == "ok" and int(row["frames"]) == frames[Path(row["input"]).name]
        assert int(row["faces"]) == len(csv_rows)
        keys = [(r["frame_index"], r["face_id"]) for r in csv_rows]
        assert len(keys) == len(set(keys))  # nothing written twice
    for name in ("b", "c"):  # one face in every frame: nothing lost either
        _, csv_rows = timeline(out / "in" / f"{name}.csv")
        assert [int(r["frame_index"]) for r in csv_rows] == list(range(frames[f"{name}.mp4"]))


def test_a_worker_that_dies_fails_its_file_and_a_new_one_goes_on(media_dir, tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    link(media_dir / "fer_woman2.mp4", inputs / "long.mp4")  # the larger: analysed first
    link(media_dir / "pyfeat_single_face.mp4", inputs / "short.mp4")
    running = subprocess.Popen([*launcher(), "batch", str(inputs), "--out", str(out), "--model", MODEL,
                                "--workers", "1"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (workers := worker_processes(running.pid)):
        assert running.poll() is None and time.monotonic() < deadline, running.communicate()
        time.sleep(0.05)
    time.sleep(1.0)
    os.kill(workers[0], signal.SIGKILL)  # as a decoder crashing on a damaged file would end it
    stdout, stderr = running.communicate(timeout=240)
    assert running.returncode == 1, stderr
    assert "1 files ok, 1 failed" in stdout
    rows = {Path(row["input"]).name: row for row in manifest_rows(out)}
    assert rows["long.mp4"]["status"] == "failed"
    assert "ended unexpectedly (killed by signal SIGKILL)" in rows["long.mp4"]["error"]
    assert rows["short.mp4"]["status"] == "ok" and rows["short.mp4"]["frames"] == "72"
    assert sorted(path.name for path in (out / "in").iterdir()) == ["short.csv"]


def worker_processes(parent: int) -> list[int]:
    """The batch's worker processes (spawned children, not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    if not children.exists():
        pytest.skip("finding the worker processes needs Linux's /proc")
    found = []
    for pid in map(int, children.read_text().split()):
        try:
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command_line and b"resource_tracker" not in command_line:
            found.append(pid)
    return found


def test_a_partial_or_changed_output_is_redone_and_a_finished_one_skipped(media_dir, tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    link(media_dir / "fer_test.mp4", inputs / "a.mp4")
    link(media_dir / "pyfeat_single_face.mp4", inputs / "b.mp4")
    options = ("--out", out, "--model", MODEL, "--max-frames", 5)
    assert emotion_app("batch", inputs, *options).returncode == 0
    kept = (out / "in" / "a.csv").read_bytes()
    with open(out / "in" / "b.csv", "r+b") as file:  # cut short since it was recorded
        file.truncate(300)
    link(media_dir / "fer_test.mp4", inputs / "c.mp4")
    leftover = out / "in" / ".c.csv.999999999.0123abcd.partial"  # staged by a run killed with -9
    leftover.mkdir()
    (leftover / "c.csv").write_text("row_type,wall\nface,2020")
    with open(out / "manifest.csv", "a", encoding="utf-8") as file:
        file.write("/some/input.mp4,in/inp")  # an append a crash cut off
    completed = emotion_app("batch", inputs, *options)
    assert completed.returncode == 0, completed.stderr
    assert "2 files ok, 0 failed, 1 skipped" in completed.stdout
    assert (out / "in" / "a.csv").read_bytes() == kept
    assert sorted(path.name for path in (out / "in").iterdir()) == ["a.csv", "b.csv", "c.csv"]
    rows = manifest_rows(out)
    assert [(Path(row["input"]).name, row["status"]) for row in rows] == [
        ("a.mp4", "ok"), ("b.mp4", "ok"), ("c.mp4", "ok")]
    for row in rows:
        assert len(timeline(out / row["output"])[1]) == int(row["faces"]) == 5


@pytest.mark.slow
def test_the_ray_path_on_a_local_instance_writes_the_same_csvs(clips, media_dir, tmp_path, capsys):
    pytest.importorskip("ray", reason="the --ray path needs ray: pip install '.[cluster]' (or the dev extra)")
    (clips / "broken.mp4").write_bytes(os.urandom(20_000))
    out = tmp_path / "out"
    completed = emotion_app("batch", clips, "--out", out, "--model", MODEL, "--max-frames", 10,
                            "--ray", "local", "--workers", 2)
    assert completed.returncode == 1, completed.stderr
    assert "3 files ok, 1 failed" in completed.stdout and "on Ray (local)" in completed.stdout
    rows = {row["output"]: row for row in manifest_rows(out)}
    assert [rows[name]["status"] for name in sorted(rows)] == ["failed", "ok", "ok", "ok"]
    assert rows["clips/fer_test.csv"]["frames"] == "10"
    assert timeline(out / "clips" / "fer_test.csv") == headless_timeline(
        clips / "fer_test.mp4", tmp_path / "headless.csv", 10, capsys)


def test_inputs_are_walked_into_videos_and_image_folders_with_mirrored_names(tmp_path):
    root = tmp_path / "rec"
    for name in ("day1/clip.mp4", "day1/clip.mov", "day1/photos.v2/x.jpg", "day1/photos.v2/y.png",
                 "day1/notes.txt", "day1/._clip.mp4", ".hidden/z.mp4", "top.MKV", "shot.jpg"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    found = {str(item.output): (item.path.relative_to(tmp_path).as_posix(), item.kind)
             for item in find_inputs([root, root / "top.MKV"])}  # given twice: once
    assert found == {
        "rec.csv": ("rec", "folder"),  # shot.jpg: the folder's own images
        "rec/top.csv": ("rec/top.MKV", "video"),
        "rec/day1/clip.mp4.csv": ("rec/day1/clip.mp4", "video"),  # clip.csv would be both
        "rec/day1/clip.mov.csv": ("rec/day1/clip.mov", "video"),
        "rec/day1/photos.v2.csv": ("rec/day1/photos.v2", "folder"),
    }
    with pytest.raises(ValueError, match="no such file or folder"):
        find_inputs([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no videos"):
        find_inputs([tmp_path / "empty"])


def test_bad_input_exits_2_before_anything_runs(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "clip.mp4").write_bytes(b"")
    assert main(["batch", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "out"),
                 "--model", "no_such_model"]) == 2
    assert "no model named 'no_such_model'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["batch", str(tmp_path), "--out", str(tmp_path / "out"), "--workers", "0"])
    assert exited.value.code == 2 and "must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_a_finished_row_counts_only_with_its_model_settings_and_output_size(tmp_path):
    manifest = Manifest(tmp_path)
    (tmp_path / "a.csv").write_text("header\nrow\n")
    manifest.record(ManifestRow("=a.mp4", "a.csv", 1, 1, 0.5, "ok", "", "m", "sha", "0.1.0",
                                "s", 11, "2026-01-01T00:00:00+00:00"))
    again = Manifest(tmp_path)
    assert again.rows == manifest.rows  # a formula-like name survives its guard
    assert again.finished("=a.mp4", "a.csv", "sha", "s")
    assert not again.finished("=a.mp4", "a.csv", "other model", "s")
    assert not again.finished("=a.mp4", "a.csv", "sha", "other settings")
    (tmp_path / "a.csv").write_text("header\n")
    assert not again.finished("=a.mp4", "a.csv", "sha", "s")


def test_only_the_ray_runner_imports_ray():
    importers = [path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "app").rglob("*.py")
                 if "import ray" in path.read_text(encoding="utf-8")]
    assert importers == ["app/batch/ray_runner.py"]


def test_off_a_terminal_a_long_file_says_how_far_it_is(monkeypatch, capsys):
    """No bar in a log: a running file's count is told now and then, a finished one once."""
    from app.batch import progress as batch_progress
    from app.batch.work import Outcome

    monkeypatch.setattr(batch_progress, "LINE_EVERY_S", 0.0)
    shown = batch_progress.BatchProgress(1, {0: "long.mp4"})
    shown.interactive = False
    for frames in (100, 200):
        shown.update(0, frames, 400)
    shown.finished(Outcome(0, "ok", 400, 400, 12.0), ["face 1: 400 frames, happy 100%"])
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["long.mp4: 100/400 frames (25%) so far", "long.mp4: 200/400 frames (50%) so far",
                     "1/1 long.mp4: 400 frames, 400 face readings, 12.0 s",
                     "  face 1: 400 frames, happy 100%"]  # its summary, as --headless prints it
