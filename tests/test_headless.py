"""``emotion-app --headless`` end to end, and a clear message with exit code 2 for bad input."""

import csv
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from app.model import library as model_library
from app.model import providers
from app.output.annotate import AnnotatedVideo
from app.output.timeline_columns import timeline_columns
from app.results import Frame, FrameResult, StageTimings
from app.system.logs import LOG_ENV
from tests.conftest import REPO_ROOT
from tests.onnx_fixtures import fer_card, linear_model, write_ensemble, write_model
from training.data.labels import FER2013_LABELS

ISO_8601_MS_TZ = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def emotion_app(*args, **kwargs) -> subprocess.CompletedProcess:
    """The installed command, as a user runs it."""
    command = Path(sys.executable).with_name("emotion-app")
    launcher = [str(command)] if command.exists() else [sys.executable, "-m", "app"]
    return subprocess.run([*launcher, *map(str, args)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, **kwargs)


def file_size_limit(size: int):
    """A ``preexec_fn``: files the process writes stop growing at ``size`` bytes (a write
    past it fails with EFBIG rather than killing the process), standing in for a full disk."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return reader.fieldnames, list(reader)


def test_woman2_clip_gives_a_complete_timeline_with_one_stable_face(media_dir, mini_xception_onnx,
                                                                    tmp_path):
    csv_path, video_path = tmp_path / "woman2.csv", tmp_path / "woman2.mp4"
    completed = emotion_app("--headless", "--source", media_dir / "fer_woman2.mp4", "--model",
                            mini_xception_onnx, "--csv", csv_path, "--output-video", video_path)
    assert completed.returncode == 0, completed.stderr
    assert "100%" in completed.stderr and "Analysed 464 frames" in completed.stderr
    assert "W0000" not in completed.stderr and "TensorFlow" not in completed.stderr  # quiet
    columns, rows = read_rows(csv_path)
    assert columns == timeline_columns(FER2013_LABELS)
    assert [int(row["frame_index"]) for row in rows] == list(range(464))  # a row every frame
    assert {row["face_id"] for row in rows} == {"1"}
    optional = {"source_file", "marker", "baseline", "valence_calibrated",
                *(f"calibrated_{label}" for label in FER2013_LABELS)}  # no face calibrated
    for row in rows:
        assert row["row_type"] == "face" and ISO_8601_MS_TZ.match(row["wall_time"])
        assert all(row[name] != "" for name in columns if name not in optional), row
        assert sum(float(row[f"p_{label}"]) for label in FER2013_LABELS) == pytest.approx(1, abs=1e-4)
        assert row["model"] == "mini_xception" and row["landmarks"] == "mesh"
    times = [float(row["t_seconds"]) for row in rows]
    positions = [float(row["source_ms"]) for row in rows]
    assert times == sorted(times) and positions == sorted(set(positions))
    assert positions[-1] == pytest.approx(15_450, abs=100)  # the clip's 15.5 s
    video = cv2.VideoCapture(str(video_path))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 464
    assert video.read()[1].shape == (336, 596, 3)


def test_an_ensemble_runs_headless_and_records_how_its_members_agree(media_dir, mini_xception_onnx,
                                                                      tmp_path):
    probe = write_model(tmp_path / "probe.onnx", linear_model(), fer_card())
    ensemble = write_ensemble(tmp_path / "ensemble.onnx", [mini_xception_onnx, probe])
    csv_path = tmp_path / "ensemble.csv"
    completed = emotion_app("--headless", "--source", media_dir / "pyfeat_single_face.mp4", "--model",
                            ensemble, "--csv", csv_path, "--smoothing", "0.25")
    assert completed.returncode == 0, completed.stderr
    columns, rows = read_rows(csv_path)
    assert columns == timeline_columns(FER2013_LABELS, ("mini_xception", "probe")) and rows
    for row in rows:
        tops = [row["top_mini_xception"], row["top_probe"]]
        assert set(tops) <= set(FER2013_LABELS) and row["smoothing_s"] == "0.25"
        assert float(row["agreement"]) == pytest.approx(tops.count(row["top_emotion"]) / 2, abs=1e-3)


def bad_model_files(tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x00" * 64)
    return corrupt, write_model(tmp_path / "foreign.onnx", linear_model())


@pytest.mark.parametrize("case, message", [
    ("no source", "--headless needs --source"),
    ("no camera", "no camera at index 99"),
    ("undecodable video", "cannot open this video"),
    ("corrupt model", "not a readable ONNX model"),
    ("foreign model", "not an emotion model"),
    ("unknown model", "no model named 'nonesuch'"),
    ("unwritable csv", "does not exist"),
    ("unwritable video", "does not exist"),
    ("unwritable plot", "cannot write the plot to"),
    ("plot format", "the name must end in one of .png, .jpg, .jpeg"),
])
def test_bad_input_exits_2_with_a_clear_message(case, message, media_dir, mini_xception_onnx,
                                                tmp_path, capsys):
    corrupt, foreign = bad_model_files(tmp_path)
    garbage = tmp_path / "clip.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    arguments = {"--source": media_dir / "pyfeat_single_face.mp4", "--model": mini_xception_onnx}
    arguments.update({
        "no source": {"--source": None},
        "no camera": {"--source": 99},
        "undecodable video": {"--source": garbage},
        "corrupt model": {"--model": corrupt},
        "foreign model": {"--model": foreign},
        "unknown model": {"--model": "nonesuch"},
        "unwritable csv": {"--csv": tmp_path / "missing" / "out.csv"},
        "unwritable video": {"--output-video": tmp_path / "missing" / "out.mp4"},
        "unwritable plot": {"--plot": tmp_path / "missing" / "out.png"},
        "plot format": {"--plot": tmp_path / "out.gif"},
    }[case])
    argv = ["--headless"] + [str(v) for k, value in arguments.items() if value is not None
                             for v in (k, value)]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("emotion-app: error:") and message in error


@pytest.mark.parametrize("option, value, message", [
    ("--max-faces", "0", "--max-faces: must be at least 1, got 0"),
    ("--max-faces", "two", "--max-faces: 'two' is not a whole number"),
    ("--smoothing", "2.5", "--smoothing: must be from 0 to 2.0, got 2.5"),
    ("--smoothing", "-0.1", "--smoothing: must be from 0 to 2.0"),
    ("--switch-margin", "0.6", "--switch-margin: must be from 0 to 0.5, got 0.6"),
    ("--switch-hold", "x", "--switch-hold: 'x' is not a number"),
    ("--max-frames", "-1", "--max-frames: must be 0 or more"),
])
def test_out_of_range_numbers_exit_2_naming_the_range(option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", "--source", "0", option, value])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("option, name", [("--csv", "earlier.csv"), ("--plot", "earlier.png"),
                                          ("--output-video", "earlier.mp4")])
def test_an_existing_output_is_kept_unless_overwrite_is_given(option, name, media_dir,
                                                              mini_xception_onnx, tmp_path, capsys):
    """--csv, --plot and --output-video alike: an existing file is refused before the run;
    with --overwrite it is replaced, and the end of the run names every file it wrote."""
    earlier = tmp_path / name
    earlier.write_text("yesterday's session\n")
    outputs = {"--csv": tmp_path / "out.csv", "--plot": tmp_path / "out.png",
               "--output-video": tmp_path / "out.mp4", option: earlier}
    run = ["--headless", "--source", str(media_dir / "pyfeat_single_face.mp4"), "--model",
           str(mini_xception_onnx), "--max-frames", "3",
           *[str(part) for pair in outputs.items() for part in pair]]
    assert main(run) == 2
    error = capsys.readouterr().err
    assert f"{earlier} already exists; pass --overwrite to replace it" in error
    assert earlier.read_text() == "yesterday's session\n"
    assert not any(path.exists() for path in outputs.values() if path != earlier)
    assert main([*run, "--overwrite"]) == 0
    error = capsys.readouterr().err
    assert f"CSV: {outputs['--csv']} (3 rows)" in error and f"Plot: {outputs['--plot']}" in error
    assert f"Video: {outputs['--output-video']} (3 frames)" in error
    assert len(read_rows(outputs["--csv"])[1]) == 3
    assert cv2.imread(str(outputs["--plot"])) is not None
    assert int(cv2.VideoCapture(str(outputs["--output-video"])).get(cv2.CAP_PROP_FRAME_COUNT)) == 3


@pytest.fixture
def no_nvidia_gpu(monkeypatch):
    """This machine as one without an NVIDIA GPU (probed afresh, and afresh afterwards)."""
    monkeypatch.setattr(providers, "nvidia_driver_loaded", lambda: False)
    providers.probe.cache_clear()
    yield
    providers.probe.cache_clear()


def test_an_explicit_gpu_provider_that_cannot_run_exits_2(no_nvidia_gpu, media_dir,
                                                          mini_xception_onnx, capsys):
    code = main(["--headless", "--provider", "cuda", "--source",
                 str(media_dir / "pyfeat_single_face.mp4"), "--model", str(mini_xception_onnx)])
    error = capsys.readouterr().err
    assert code == 2, error
    assert "--provider cuda cannot run here (no NVIDIA GPU found)" in error
    assert "use --provider auto or cpu" in error


def test_the_annotated_video_repeats_frames_over_dropped_ones(tmp_path):
    """Frames 0, 1, 4, 5 analysed (2 and 3 dropped): six frames, as long as the source."""
    path = tmp_path / "annotated.avi"
    video = AnnotatedVideo(path, fps=25.0)
    for index in (0, 1, 4, 5):
        image = np.full((48, 64, 3), 40 * index, np.uint8)
        frame = Frame(image, index, time.monotonic(), datetime.now().astimezone(), 40.0 * index)
        video.write(FrameResult(frame, (), "", (), "CPUExecutionProvider", StageTimings(), 25.0, 0))
    video.close()
    capture = cv2.VideoCapture(str(path))
    brightness = []
    while (frame := capture.read()[1]) is not None:
        brightness.append(int(round(frame.mean() / 40)))
    assert brightness == [0, 1, 1, 1, 4, 5]


def test_the_log_file_keeps_what_the_terminal_does_not(tmp_path):
    log = tmp_path / "logs" / "app.log"
    completed = emotion_app("--gpu-report", env={**os.environ, LOG_ENV: str(log)})
    assert completed.returncode == 0, completed.stderr
    assert f"in the log: {log}" in completed.stdout
    assert "execution provider:" in log.read_text()  # INFO: not on the terminal
    assert "execution provider:" not in completed.stderr
    help_text = emotion_app("--help", env={**os.environ, LOG_ENV: str(log)}).stdout
    assert str(log) in "".join(help_text.split())  # however argparse wraps it


def test_a_clip_without_faces_writes_the_header_only(media_dir, mini_xception_onnx, tmp_path, capsys):
    """The whole clip: its title's lettering, which the detector alone takes for faces in a
    few frames, is neither counted nor recorded."""
    csv_path = tmp_path / "none.csv"
    assert main(["--headless", "--source", str(media_dir / "pyfeat_no_face.mp4"), "--model",
                 str(mini_xception_onnx), "--csv", str(csv_path)]) == 0
    columns, rows = read_rows(csv_path)
    assert rows == [] and columns
    captured = capsys.readouterr()
    assert re.search(r"Analysed \d+ frames, 0 face readings", captured.err)
    assert "0 faces seen" in captured.out


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE")
def test_disk_full_mid_run_exits_1_keeping_complete_rows(media_dir, mini_xception_onnx, tmp_path):
    csv_path = tmp_path / "full.csv"
    completed = emotion_app("--headless", "--source", media_dir / "pyfeat_single_face.mp4",
                            "--model", mini_xception_onnx, "--csv", csv_path,
                            preexec_fn=file_size_limit(8000))
    assert completed.returncode == 1
    match = re.search(r"stopped after (\d+) rows: File too large", completed.stderr)
    assert match, completed.stderr
    _, rows = read_rows(csv_path)
    assert len(rows) == int(match.group(1)) > 0
    assert csv_path.read_bytes().endswith(b"\n")


def test_list_models(monkeypatch, tmp_path, mini_xception_onnx, capsys):
    monkeypatch.setattr(model_library, "REPO_MODELS_DIR", tmp_path / "repo")
    monkeypatch.setenv(model_library.MODELS_ENV, str(mini_xception_onnx.parent))
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(mini_xception_onnx, folder)
    write_model(folder / "probe.onnx", linear_model(),
                fer_card(metrics={"val_accuracy": 0.9, "test_accuracy": 0.1}))
    monkeypatch.setenv(model_library.MODELS_ENV, str(folder))
    assert main(["--list-models"]) == 0
    listed = capsys.readouterr().out
    # The default is the most accurate by test figure where a card has one: not the probe.
    assert "* mini_xception" in listed and "the default without --model: mini_xception" in listed
    monkeypatch.setenv(model_library.MODELS_ENV, str(tmp_path))
    assert main(["--list-models"]) == 0
    assert "No models found" in capsys.readouterr().out
    assert main(["--headless", "--source", "0"]) == 2  # no --model, none installed
    assert "no emotion model installed" in capsys.readouterr().err


def test_gpu_report_and_camera_list(capsys):
    assert main(["--gpu-report"]) == 0
    assert "Running on:" in capsys.readouterr().out
    assert main(["--list-cameras"]) == 0
    assert capsys.readouterr().out.strip()

