"""Output names the batch planner must keep apart: an input named ``manifest.mp4`` once
wrote its timeline to ``manifest.csv``, which the manifest then overwrote (the row said
"ok" and every rerun analysed it again), and ``rec/a.mp4`` beside a folder ``rec/a.csv/``
failed on every rerun."""

from __future__ import annotations

from pathlib import PurePosixPath

from app.batch.inputs import find_inputs
from tests.test_batch import MODEL, emotion_app, link, manifest_rows, timeline


def outputs(paths) -> dict[str, str]:
    return {str(item.output): item.path.name for item in find_inputs(paths)}


def test_the_manifest_name_is_reserved_whatever_its_case(tmp_path):
    for name in ("manifest.mp4", "Manifest.MOV"):
        (tmp_path / name).write_bytes(b"")
    assert outputs([tmp_path / "manifest.mp4", tmp_path / "Manifest.MOV"]) == {
        "manifest.mp4.csv": "manifest.mp4", "Manifest.MOV.csv": "Manifest.MOV"}


def test_a_csv_never_takes_the_name_of_a_folder_the_output_tree_needs(tmp_path):
    root = tmp_path / "rec"
    for name in ("a.mp4", "a.csv/clip.mp4", "b.mp4", "B.CSV/photos/x.jpg"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    assert outputs([root]) == {
        "rec/a.mp4.csv": "a.mp4", "rec/a.csv/clip.csv": "clip.mp4",
        "rec/b.mp4.csv": "b.mp4", "rec/B.CSV/photos.csv": "photos"}
    assert all(PurePosixPath(name).suffix == ".csv" for name in outputs([root]))


def test_a_clip_named_manifest_keeps_its_timeline_and_is_skipped_on_a_rerun(media_dir, tmp_path):
    clip = link(media_dir / "pyfeat_single_face.mp4", tmp_path / "in" / "manifest.mp4")
    out = tmp_path / "out"
    completed = emotion_app("batch", clip, "--out", out, "--model", MODEL, "--max-frames", 3)
    assert completed.returncode == 0, completed.stderr
    [row] = manifest_rows(out)
    assert row["output"] == "manifest.mp4.csv" and row["status"] == "ok"
    assert len(timeline(out / "manifest.mp4.csv")[1]) == 3
    again = emotion_app("batch", clip, "--out", out, "--model", MODEL, "--max-frames", 3)
    assert "0 files ok, 0 failed, 1 skipped" in again.stdout, again.stderr


def test_a_folder_already_where_a_csv_goes_is_refused_before_any_analysis(media_dir, tmp_path):
    clip = link(media_dir / "pyfeat_single_face.mp4", tmp_path / "in" / "a.mp4")
    out = tmp_path / "out"
    (out / "a.csv").mkdir(parents=True)
    completed = emotion_app("batch", clip, "--out", out, "--model", MODEL, "--max-frames", 3)
    assert completed.returncode == 2
    assert "a.csv is a folder" in completed.stderr and "choose another --out" in completed.stderr
    assert not (out / "manifest.csv").exists()
