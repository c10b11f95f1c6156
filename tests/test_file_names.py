"""File names that are not UTF-8, or that hold terminal escapes: OpenCV's binding crashed
the process (exit 139, no message) on the first kind, so headless, the API, batch and
training each run here in a process of their own, and must finish cleanly."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from app.system.file_names import NAME_ERRORS, is_utf8, printable
from tests.conftest import REPO_ROOT
from tests.test_batch import MODEL, emotion_app

BAD_BYTE = os.fsdecode(b"\xff")
"""A byte that is not UTF-8, as Python hands it over in a name (a lone surrogate)."""
ESCAPE = "\x1b[31m"
"""A terminal escape sequence (red text) inside a name."""


def copy(source: Path, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source.read_bytes())
    return path


def read_names(path: Path, column: str) -> list[str]:
    with open(path, newline="", encoding="utf-8", errors=NAME_ERRORS) as file:
        return [row[column] for row in csv.DictReader(file)]


def python(code: str, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def test_printable_escapes_bad_bytes_and_control_characters():
    assert printable(f"a{BAD_BYTE}b") == "a\\xffb"
    assert printable(f"x{ESCAPE}y\nz") == "x\\x1b[31my\\x0az"
    assert printable("caf\u00e9 \u65e5\u672c.mp4") == "caf\u00e9 \u65e5\u672c.mp4"
    assert not is_utf8(f"a{BAD_BYTE}") and is_utf8("caf\u00e9")


def test_headless_reads_a_video_and_an_image_folder_whose_names_are_not_utf8(media_dir, tmp_path):
    video = copy(media_dir / "pyfeat_single_face.mp4", tmp_path / f"clip{BAD_BYTE}.mp4")
    completed = emotion_app("--headless", "--source", video, "--model", MODEL, "--csv",
                            tmp_path / f"out{BAD_BYTE}.csv", "--max-frames", "3")
    assert completed.returncode == 0, completed.stderr
    assert len(read_names(tmp_path / f"out{BAD_BYTE}.csv", "face_id")) == 3
    assert "out\\xff.csv" in completed.stderr  # shown escaped

    folder = tmp_path / f"photos{ESCAPE}"
    copy(media_dir / "single_face.jpg", folder / f"face{BAD_BYTE}.jpg")
    completed = emotion_app("--headless", "--source", folder, "--model", MODEL, "--csv",
                            tmp_path / "photos.csv")
    assert completed.returncode == 0, completed.stderr
    assert read_names(tmp_path / "photos.csv", "source_file") == [f"face{BAD_BYTE}.jpg"]  # byte for byte


def test_the_api_analyses_a_video_whose_name_is_not_utf8(media_dir, tmp_path):
    video = copy(media_dir / "pyfeat_single_face.mp4", tmp_path / f"clip{BAD_BYTE}.mp4")
    completed = python(
        "import os, sys\n"
        "from app.api import EmotionRecognizer\n"
        "with EmotionRecognizer(model=sys.argv[2]) as recognizer:\n"
        "    frames = [frame for frame, _ in zip(recognizer.analyze_video(os.fsdecode(\n"
        "        bytes.fromhex(sys.argv[1]))), range(3))]\n"
        "print(len(frames), sum(len(frame.faces) for frame in frames))",
        os.fsencode(video).hex(), MODEL)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["3", "3"]


def test_a_batch_with_such_names_analyses_every_input_and_resumes(media_dir, tmp_path):
    """The first bad name used to stop the batch with "bad input" and a manifest.csv.tmp,
    on every rerun: in a tree of ten inputs, seven were never analysed."""
    tree = tmp_path / "tree"
    names = [f"clip{index}.mp4" for index in range(7)]
    names[2], names[5] = f"bad{BAD_BYTE}.mp4", f"esc{ESCAPE}.mp4"
    for name in names:
        copy(media_dir / "pyfeat_single_face.mp4", tree / name)
    for index, image in enumerate((f"a{BAD_BYTE}.jpg", "b.jpg", "c.jpg")):
        copy(media_dir / "single_face.jpg", tree / f"photos{index}" / image)
    out = tmp_path / "out"
    completed = emotion_app("batch", tree, "--out", out, "--model", MODEL, "--max-frames", "2",
                            "--workers", "2")
    assert completed.returncode == 0, completed.stderr
    assert "10 files ok, 0 failed" in completed.stdout
    assert ESCAPE not in completed.stdout + completed.stderr and "esc\\x1b[31m" in completed.stderr
    inputs = read_names(out / "manifest.csv", "input")
    assert sorted(inputs) == sorted([str(tree / name) for name in names]
                                    + [str(tree / f"photos{index}") for index in range(3)])
    outputs = read_names(out / "manifest.csv", "output")
    assert f"bad{BAD_BYTE}.csv" in {Path(output).name for output in outputs}
    assert all((out / output).is_file() for output in outputs)
    assert not list(out.glob("*.tmp"))
    again = emotion_app("batch", tree, "--out", out, "--model", MODEL, "--max-frames", "2")
    assert again.returncode == 0, again.stderr
    assert "0 files ok, 0 failed, 10 skipped" in again.stdout


def test_training_reads_a_dataset_image_whose_name_is_not_utf8(fer2013_root, tmp_path):
    root = tmp_path / "tree"
    for split in ("train", "val"):
        for label in ("happy", "sad"):
            folder = fer2013_root / "train" / label
            sources = sorted(folder.iterdir())[:2]
            copy(sources[0], root / split / label / "plain.jpg")
            copy(sources[1], root / split / label / f"odd{BAD_BYTE}.jpg")
    completed = python(
        "import sys\nfrom pathlib import Path\n"
        "from training.data.base import DataOptions\n"
        "from training.data.image_tree import load\n"
        "from app.face.alignment import DEFAULT_TEMPLATE_ID\n"
        "from app.face.preprocess import PreprocessSpec\n"
        "spec = PreprocessSpec((48, 48), 1, 'gray', (0.5,), (0.5,), False, DEFAULT_TEMPLATE_ID)\n"
        "crops = load(Path(sys.argv[1]), 'train', spec, DataOptions())\n"
        "print(len(crops))", root)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["4"]


def test_an_annotated_video_whose_name_is_not_utf8_is_refused_not_a_crash(media_dir, tmp_path):
    completed = emotion_app("--headless", "--source", media_dir / "pyfeat_single_face.mp4", "--model",
                            MODEL, "--max-frames", "2", "--output-video", tmp_path / f"v{BAD_BYTE}.mp4")
    assert completed.returncode == 2 and "v\\xff.mp4: its name is not UTF-8" in completed.stderr
