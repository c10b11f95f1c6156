"""What a fault and security pass found outside the window: model files with metadata that
is not UTF-8, a disk full before recording starts, a video that stops decoding early,
spreadsheet formulas in the CSV, and stream passwords in the settings file."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys

import pytest

from app.cli import main
from app.gui.settings import AppSettings
from app.gui.timeline_data import read_timeline_csv
from app.model.library import MODELS_ENV
from app.output.timeline_csv import CsvRecorder
from app.sources.stream_urls import without_credentials
from app.sources.video import StreamSource
from app.system.logs import LOG_ENV
from tests.onnx_fixtures import fer_card, linear_model, write_model, write_model_with_raw_metadata
from tests.test_headless import emotion_app, file_size_limit, read_rows
from tests.test_recorder import frame_result


@pytest.fixture
def folder_with_a_non_utf8_model(tmp_path, monkeypatch):
    """A models folder (the only one searched) with a good model and one whose card's
    dataset is Latin-1 text."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setattr("app.model.library.REPO_MODELS_DIR", tmp_path / "none")
    monkeypatch.setenv(MODELS_ENV, str(folder))
    write_model(folder / "good.onnx", linear_model(), fer_card(architecture="good_arch"))
    write_model_with_raw_metadata(folder / "latin1.onnx", linear_model(seed=1), "dataset",
                                  "Gen\xe8ve".encode("latin-1"))
    return folder


def test_a_non_utf8_model_is_refused_and_skipped_when_the_folder_is_scanned(
        folder_with_a_non_utf8_model, media_dir, capsys, caplog):
    bad = folder_with_a_non_utf8_model / "latin1.onnx"
    run = ["--headless", "--source", str(media_dir / "pyfeat_single_face.mp4"), "--max-frames", "2"]
    assert main([*run, "--model", str(bad)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("emotion-app: error:") and "not valid UTF-8" in error
    assert main(["--list-models"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^\s+\*?\s*good \(good_arch\)\s", listing, re.MULTILINE)  # listed, usable
    assert re.search(r"^Refused.*\n\s+.*latin1.onnx: .*not valid UTF-8", listing, re.MULTILINE)
    assert "refusing" in caplog.text and "latin1.onnx" in caplog.text  # a warning, not a crash
    assert main([*run, "--model", "good_arch"]) == 0


@pytest.fixture
def full_disk(tmp_path):
    """``(folder, run)``: ``run(*command)`` runs a shell command line in a private mount
    namespace where ``folder`` is a 64 kB tmpfs, filled to the last byte."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare and user namespaces (a private, full tmpfs)")
    folder = tmp_path / "disk"
    folder.mkdir()
    script = ('mount -t tmpfs -o size=64k tmpfs "$0" && (head -c 1000000 /dev/zero > "$0/filler")'
              ' 2>/dev/null; eval "$1"')

    def run(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["unshare", "-rm", "sh", "-c", script, str(folder), command],
                              capture_output=True, text=True, timeout=300)

    return folder, run


def test_a_disk_full_before_recording_starts_leaves_no_file_and_a_retry_works(
        full_disk, media_dir, mini_xception_onnx, tmp_path):
    folder, run = full_disk
    app = " ".join(["'" + sys.executable + "'", "-m", "app", "--headless", "--source",
                    str(media_dir / "pyfeat_single_face.mp4"), "--model", str(mini_xception_onnx),
                    "--max-frames", "3", "--csv", str(folder / "out.csv")])
    completed = run(f"{app}; echo exit=$?; ls '{folder}'; rm '{folder}/filler'; {app} 2>/dev/null;"
                    f" echo retry=$?; ls '{folder}'")
    first, retry = completed.stdout.split("retry=")
    assert "exit=2" in first, completed.stderr
    assert "out.csv" not in first  # no empty file left behind
    assert "No space left on device (the disk is full" in completed.stderr
    assert "nothing was recorded and no file was left behind" in completed.stderr
    assert "--overwrite" not in completed.stderr
    assert retry.startswith("0") and "out.csv" in retry


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE")
def test_a_file_size_limit_below_the_header_leaves_no_file(media_dir, mini_xception_onnx, tmp_path):
    """The same refusal where no tmpfs can be made: a file-size limit stands in for the disk."""
    csv_path = tmp_path / "out.csv"
    command = ["--headless", "--source", media_dir / "pyfeat_single_face.mp4", "--model",
               mini_xception_onnx, "--max-frames", "3", "--csv", csv_path]
    completed = emotion_app(*command, preexec_fn=file_size_limit(100),
                            env={**os.environ, LOG_ENV: os.devnull})  # the log is not limited
    assert completed.returncode == 2
    assert "File too large; nothing was recorded and no file was left behind" in completed.stderr
    assert "--overwrite" not in completed.stderr and not csv_path.exists()
    assert emotion_app(*command).returncode == 0 and len(read_rows(csv_path)[1]) == 3


def test_a_video_that_stops_decoding_early_exits_1_keeping_its_rows(damaged_clip, mini_xception_onnx,
                                                                    tmp_path, capsys):
    csv_path = tmp_path / "early.csv"
    code = main(["--headless", "--source", str(damaged_clip), "--model", str(mini_xception_onnx),
                 "--csv", str(csv_path)])
    error = capsys.readouterr().err
    assert code == 1, error
    ended = re.search(r"emotion-app: .*damaged.mp4 ended at frame (\d+) of 464: the rest could not "
                      r"be decoded", error)
    assert ended, error
    frames = [int(row["frame_index"]) for row in read_rows(csv_path)[1]]
    assert frames and max(frames) < int(ended[1]) < 464


def test_text_cells_never_start_a_spreadsheet_formula(tmp_path):
    result = frame_result(labels=("happy", "sad"))
    crafted = dataclasses.replace(result, model_name='=HYPERLINK("http://x")',
                                  frame=dataclasses.replace(result.frame, source_file="@SUM(1).jpg"))
    path = tmp_path / "t.csv"
    recorder = CsvRecorder(path, ("happy", "sad"))
    recorder.write_frame(crafted)
    recorder.write_marker("-2+3 stimulus")
    recorder.write_marker("+ cmd|' /C calc'!A0")
    recorder.close()
    face, *markers = read_rows(path)[1]
    assert face["model"] == "'=HYPERLINK(\"http://x\")" and face["source_file"] == "'@SUM(1).jpg"
    assert face["pitch_deg"] == "-2.5" and face["top_emotion"] == "sad"  # numbers stay numbers
    assert [row["marker"] for row in markers] == ["'-2+3 stimulus", "'+ cmd|' /C calc'!A0"]
    assert [label for _, label in read_timeline_csv(path).markers] == ["-2+3 stimulus",
                                                                       "+ cmd|' /C calc'!A0"]


def test_stream_credentials_are_never_written_to_the_settings_file(tmp_path):
    path = tmp_path / "settings.ini"
    settings = AppSettings.at(path)
    settings.last_source = "rtsp://admin:s3cr%40t@192.0.2.7:554/live?channel=1"
    settings.sync()
    text = path.read_text()
    assert "s3cr" not in text and "admin" not in text
    assert AppSettings.at(path).last_source == "rtsp://192.0.2.7:554/live?channel=1"
    settings.last_source = "/videos/talk@home.mp4"  # a path is kept as it is
    assert settings.last_source == "/videos/talk@home.mp4"


def test_a_password_an_older_version_saved_is_removed_on_start(tmp_path):
    path = tmp_path / "older.ini"
    path.write_text("[General]\nlast_source=rtsp://admin:secret@192.0.2.7/stream\n")
    settings = AppSettings.at(path)
    settings.sync()
    assert settings.last_source == "rtsp://192.0.2.7/stream" and "secret" not in path.read_text()


CREDENTIAL_FORMS = [  # (typed, what may be stored, logged or shown)
    ("rtsp://192.0.2.7/live?user=admin&password=hunter2&channel=1", "rtsp://192.0.2.7/live?user=admin&channel=1"),
    ("rtsp://admin:pa?hunter2@192.0.2.7:554/live", "rtsp://192.0.2.7:554/live"),  # '?' in the password
    ("http://admin:p@hunter2@192.0.2.7/video.mjpg", "http://192.0.2.7/video.mjpg"),  # '@' in it
    ("https://cam.example/x?access_token=hunter2&apiKey=hunter2&keyframe=1#top",
     "https://cam.example/x?keyframe=1#top"),
    ("rtsp://192.0.2.7/s?pwd=hunter2&authToken=hunter2&pass=hunter2", "rtsp://192.0.2.7/s"),
]


@pytest.mark.parametrize("typed, cleaned", CREDENTIAL_FORMS)
def test_each_form_of_stream_credentials_stays_out_of_settings_logs_and_messages(
        typed, cleaned, tmp_path, caplog):
    assert without_credentials(typed) == cleaned
    path = tmp_path / "settings.ini"
    settings = AppSettings.at(path)
    settings.last_source = typed
    settings.sync()
    assert "hunter2" not in path.read_text() and AppSettings.at(path).last_source == cleaned
    assert StreamSource(typed).name == cleaned


def test_a_failing_stream_names_its_url_without_the_password(tmp_path):
    env = {**os.environ, LOG_ENV: str(tmp_path / "app.log")}
    completed = subprocess.run(
        [sys.executable, "-m", "app", "--headless", "--source",
         "rtsp://127.0.0.1:9/live?user=admin&password=hunter2", "--model", "mini_xception",
         "--csv", str(tmp_path / "t.csv"), "--log-level", "DEBUG"],
        capture_output=True, text=True, timeout=120, env=env)
    assert completed.returncode == 2 and "rtsp://127.0.0.1:9/live?user=admin" in completed.stderr
    assert "hunter2" not in completed.stdout + completed.stderr + (tmp_path / "app.log").read_text()


def test_a_setting_that_is_not_a_finite_number_reads_as_its_default(tmp_path):
    path = tmp_path / "settings.ini"
    path.write_text("[General]\nsmoothing_s=nan\n")
    assert AppSettings.at(path).smoothing_s == AppSettings.smoothing_s.default
    path.write_text("[General]\nsmoothing_s=inf\n")
    assert AppSettings.at(path).smoothing_s == AppSettings.smoothing_s.default
