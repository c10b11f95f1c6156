"""The CSV timeline: columns, timestamps, markers, durability and every write failure."""

import csv
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

from app.face.quality import FaceQuality
from app.face.steady import Steadiness
from app.output.recording import Recording
from app.output.timeline_columns import timeline_columns
from app.output.timeline_csv import CsvRecorder, RecordingError
from app.results import EventKind, FaceResult, Frame, FrameResult, StageTimings
from tests.conftest import REPO_ROOT
from training.data.labels import FER2013_LABELS

ISO_8601_MS_TZ = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def frame_result(index: int = 0, faces: int = 1, labels=FER2013_LABELS) -> FrameResult:
    frame = Frame(np.zeros((8, 8, 3), np.uint8), index, time.monotonic(),
                  datetime.now().astimezone(), source_ms=40.0 * index)
    raw = np.linspace(1, 2, len(labels))
    raw /= raw.sum()
    results = tuple(
        FaceResult(face_id, (10.0 * face_id, 20.0, 30.0, 40.0), {}, "mesh", tuple(labels), raw,
                   raw[::-1].copy(), FaceQuality(42.0, 0.5, 1.2, 3.25, -2.5, 123.4))
        for face_id in range(1, faces + 1)
    )
    return FrameResult(frame, results, "mini_xception", tuple(labels), "CPUExecutionProvider",
                       StageTimings(), 30.0, 0)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_columns_document_their_units_and_follow_the_card_labels():
    columns = timeline_columns(("calm", "joy"))
    for name in ("row_type", "wall_time", "t_seconds", "frame_index", "source_ms", "face_id",
                 "box_x_px", "box_w_px", "p_calm", "p_joy", "top_emotion", "smoothed_joy",
                 "model", "eye_distance_px", "brightness_0to1", "gamma", "yaw_deg", "pitch_deg",
                 "blur_laplacian_var", "marker"):
        assert name in columns


def test_rows_and_markers(tmp_path):
    path = tmp_path / "timeline.csv"
    recorder = CsvRecorder(path, FER2013_LABELS)
    assert recorder.write_frame(frame_result(0, faces=2)) == 2
    recorder.write_marker("stimulus A", frame_index=0, source_ms=0.0)
    recorder.write_frame(frame_result(1, faces=0))  # a frame without faces writes nothing
    recorder.write_frame(frame_result(2))
    recorder.close()
    rows = read_rows(path)
    assert [row["row_type"] for row in rows] == ["face", "face", "marker", "face"]
    assert recorder.rows == 4
    face, marker = rows[0], rows[2]
    assert ISO_8601_MS_TZ.match(face["wall_time"]) and ISO_8601_MS_TZ.match(marker["wall_time"])
    assert 0 <= float(face["t_seconds"]) <= float(marker["t_seconds"]) < 60
    assert (face["frame_index"], face["source_ms"], face["face_id"]) == ("0", "0.0", "1")
    assert rows[1]["face_id"] == "2" and rows[3]["source_ms"] == "80.0"
    assert sum(float(face[f"p_{label}"]) for label in FER2013_LABELS) == pytest.approx(1, abs=1e-5)
    assert face["top_emotion"] == "neutral" and face["top_emotion_smoothed"] == "angry"
    assert (face["box_x_px"], face["box_h_px"], face["model"]) == ("10.0", "40.0", "mini_xception")
    assert (face["yaw_deg"], face["pitch_deg"], face["gamma"]) == ("3.2", "-2.5", "1.200")
    assert marker["marker"] == "stimulus A" and marker["face_id"] == "" and marker["p_angry"] == ""


def test_source_seconds_sit_beside_source_ms_and_only_where_a_video_gives_a_position(tmp_path):
    """Videos: the decoder's timestamp in seconds; cameras and image folders: empty."""
    columns = timeline_columns(FER2013_LABELS)
    assert columns[:7] == ["row_type", "wall_time", "t_seconds", "frame_index", "source_ms",
                           "source_s", "source_file"]
    path = tmp_path / "timeline.csv"
    recorder = CsvRecorder(path, FER2013_LABELS)
    recorder.write_frame(frame_result(0))
    recorder.write_frame(frame_result(3))
    result = frame_result(4)
    camera = replace(result.frame, source_ms=None)
    recorder.write_frame(replace(result, frame=camera))
    recorder.write_frame(replace(result, frame=replace(camera, source_file="b.jpg")))
    recorder.write_marker("cue", frame_index=3, source_ms=1234.5)
    recorder.close()
    rows = read_rows(path)
    assert [row["source_s"] for row in rows] == ["0.000", "0.120", "", "", "1.234"]
    assert [row["source_ms"] for row in rows] == ["0.0", "120.0", "", "", "1234.5"]
    assert rows[3]["source_file"] == "b.jpg"


def test_the_timeline_reader_takes_csvs_from_before_source_s(tmp_path):
    from app.gui.timeline_data import read_timeline_csv

    path = tmp_path / "new.csv"
    recorder = CsvRecorder(path, FER2013_LABELS)
    for index in range(3):
        recorder.write_frame(frame_result(index, faces=2))
    recorder.write_marker("cue", 2, 80.0)
    recorder.close()
    with open(path, newline="", encoding="utf-8") as file:
        table = list(csv.reader(file))
    old = tmp_path / "old.csv"
    at = table[0].index("source_s")
    with open(old, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([row[:at] + row[at + 1:] for row in table])
    new_timeline, old_timeline = read_timeline_csv(path), read_timeline_csv(old)
    assert "source_s" not in old.read_text().splitlines()[0]
    for timeline in (new_timeline, old_timeline):
        assert timeline.labels == FER2013_LABELS and timeline.rows == 7
        assert sorted(timeline.faces) == [1, 2] and len(timeline.faces[1]) == 3
        assert [label for _, label in timeline.markers] == ["cue"]
    assert np.array_equal(new_timeline.faces[2].values, old_timeline.faces[2].values)


def test_a_model_with_other_labels_leaves_their_columns_empty(tmp_path):
    recorder = CsvRecorder(tmp_path / "t.csv", ("angry", "happy"))
    recorder.write_frame(frame_result(labels=("happy", "sad")))
    recorder.close()
    (row,) = read_rows(tmp_path / "t.csv")
    assert row["p_angry"] == "" and float(row["p_happy"]) > 0 and "p_sad" not in row


def ensemble_result(member_tops, raw_top: int, shown: int) -> FrameResult:
    """One face of a three-member ensemble: each member's top emotion given by index."""
    raw = np.full(7, 0.1)
    raw[raw_top] = 0.4
    members = np.full((len(member_tops), 7), 0.05)
    members[np.arange(len(member_tops)), member_tops] = 0.7
    single = frame_result()
    (face,) = single.faces
    face = replace(face, probabilities=raw, smoothed=raw, shown_index=shown,
                   member_names=("mini", "vgg", "yolo"), member_probabilities=members)
    return replace(single, faces=(face,), steadiness=Steadiness(0.15, 0.1, 0.2))


def test_an_ensemble_records_how_many_members_agree_and_each_members_top_emotion(tmp_path):
    path = tmp_path / "ensemble.csv"
    recorder = CsvRecorder(path, FER2013_LABELS, members=("mini", "vgg", "yolo"))
    recorder.write_frame(ensemble_result([3, 3, 6], raw_top=3, shown=6))  # happy, happy, neutral
    recorder.write_frame(ensemble_result([0, 4, 5], raw_top=6, shown=6))  # none gives neutral
    recorder.close()
    first, second = read_rows(path)
    columns = list(first)
    after = columns.index("baseline") + 1  # valence and calibration sit beside the probabilities
    assert columns[after: after + 7] == ["smoothing_s", "switch_margin", "switch_hold_s", "agreement",
                                         "top_mini", "top_vgg", "top_yolo"]
    assert (first["top_emotion"], first["top_emotion_smoothed"]) == ("happy", "neutral")  # held
    assert first["agreement"] == "0.667" and second["agreement"] == "0.000"
    assert [first[f"top_{name}"] for name in ("mini", "vgg", "yolo")] == ["happy", "happy", "neutral"]
    assert (first["smoothing_s"], first["switch_margin"], first["switch_hold_s"]) == ("0.15", "0.1", "0.2")
    assert float(first["p_happy"]) == pytest.approx(0.4)  # raw, not smoothed


def test_a_single_model_has_no_agreement_columns(tmp_path):
    recorder = CsvRecorder(tmp_path / "single.csv", FER2013_LABELS)
    recorder.write_frame(frame_result())
    recorder.close()
    (row,) = read_rows(tmp_path / "single.csv")
    assert "agreement" not in row and not any(name.startswith("top_mini") for name in row)
    assert row["smoothing_s"] == ""  # a result made without a steady read says nothing


def test_rows_survive_the_process_being_killed(tmp_path):
    """Each frame reaches the OS at once: a crash right after loses nothing."""
    path = tmp_path / "crash.csv"
    script = textwrap.dedent(f"""
        import os, signal
        from tests.test_recorder import frame_result
        from app.output.timeline_csv import CsvRecorder
        recorder = CsvRecorder({str(path)!r}, {FER2013_LABELS!r}, sync_interval_s=3600)
        for index in range(5):
            recorder.write_frame(frame_result(index))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, timeout=60)
    assert completed.returncode == -signal.SIGKILL
    assert len(read_rows(path)) == 5


@pytest.mark.parametrize("where, reason", [
    ("missing/timeline.csv", "the folder .*missing does not exist"),
    (".", "Is a directory"),
    ("plain.txt/timeline.csv", "Not a directory"),  # fails for root too, unlike permissions
])
def test_unwritable_path_is_refused_at_the_start(tmp_path, where, reason):
    (tmp_path / "plain.txt").write_text("a regular file, not a folder")
    with pytest.raises(RecordingError, match=reason):
        CsvRecorder(tmp_path / where, FER2013_LABELS)


def test_an_existing_file_is_kept_unless_overwriting_is_asked_for(tmp_path):
    path = tmp_path / "earlier.csv"
    path.write_text("an earlier session's rows\n")
    with pytest.raises(RecordingError, match="already exists"):
        CsvRecorder(path, FER2013_LABELS)
    assert path.read_text() == "an earlier session's rows\n"
    recorder = CsvRecorder(path, FER2013_LABELS, overwrite=True)
    recorder.write_frame(frame_result())
    recorder.close()
    assert len(read_rows(path)) == 1


def test_frames_without_faces_still_sync_the_file(tmp_path, monkeypatch):
    """Rows written, then only empty frames: the sync must not wait for the next row."""
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr("app.output.timeline_csv.os.fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    recorder = CsvRecorder(tmp_path / "t.csv", FER2013_LABELS, sync_interval_s=0.05)
    recorder.write_frame(frame_result(0))
    synced.clear()
    time.sleep(0.1)
    recorder.write_frame(frame_result(1, faces=0))
    assert len(synced) == 1
    recorder.write_frame(frame_result(2, faces=0))  # nothing new to sync
    assert len(synced) == 1
    recorder.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(RecordingError, match="Permission denied"):
            CsvRecorder(tmp_path / "t.csv", FER2013_LABELS)
    finally:
        tmp_path.chmod(0o700)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_device_is_refused_at_the_start():
    with pytest.raises(RecordingError, match="No space left on device"):
        CsvRecorder("/dev/full", FER2013_LABELS)


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE")
def test_disk_filling_up_mid_run_stops_cleanly_keeping_complete_rows(tmp_path):
    """A file-size limit stands in for a full disk: writes fail part-way through a row."""
    path = tmp_path / "full.csv"
    script = textwrap.dedent(f"""
        import resource, signal
        from tests.test_recorder import frame_result
        from app.output.recording import Recording
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of dying
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))
        events = []
        recording = Recording(events.append)
        recording.start({str(path)!r}, {FER2013_LABELS!r})
        index = 0
        while recording.status is not None and index < 1000:
            recording.write(frame_result(index))
            index += 1
        print(events[-1].kind.value, events[-1].details["rows"], index)
        print(events[-1].message)
    """)
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, timeout=60,
                               capture_output=True, text=True, check=True)
    kind, rows, frames = completed.stdout.splitlines()[0].split()
    assert kind == EventKind.RECORDING_FAILED.value and 0 < int(rows) < int(frames)
    assert "kept" in completed.stdout
    data = path.read_bytes()
    assert data.endswith(b"\n")  # cut back to the last complete row
    assert len(read_rows(path)) == int(rows)


def test_recording_control_reports_start_stop_and_refuses_markers_when_idle(tmp_path):
    events = []
    recording = Recording(events.append)
    with pytest.raises(RecordingError, match="not recording"):
        recording.add_marker("x", None, None)
    recording.start(tmp_path / "a.csv", FER2013_LABELS)
    result = recording.write(frame_result())
    assert result.recording.rows == 1 and result.timings.csv > 0
    status = recording.stop()
    assert status.rows == 1 and recording.status is None
    assert [e.kind for e in events] == [EventKind.RECORDING_STARTED, EventKind.RECORDING_STOPPED]
    assert recording.write(frame_result()).recording is None


def test_stopping_while_the_worker_writes_is_never_a_failure(tmp_path):
    """A writer thread against 300 start/stop cycles, as a GUI's Stop races the worker:
    every recording ends with exactly one RECORDING_STOPPED, none with RECORDING_FAILED,
    and every file holds whole rows."""
    events = []
    recording = Recording(events.append)
    done = threading.Event()

    def write_frames():
        result = frame_result(faces=3)
        while not done.is_set():
            recording.write(result)

    writer = threading.Thread(target=write_frames)
    writer.start()
    try:
        for index in range(300):
            recording.start(tmp_path / f"{index}.csv", FER2013_LABELS)
            time.sleep(0.001)  # let the writer in
            recording.stop()
    finally:
        done.set()
        writer.join()
    kinds = [event.kind for event in events]
    assert kinds.count(EventKind.RECORDING_FAILED) == 0
    assert kinds.count(EventKind.RECORDING_STOPPED) == kinds.count(EventKind.RECORDING_STARTED) == 300
    stopped = [event for event in events if event.kind is EventKind.RECORDING_STOPPED]
    assert sum(event.details["rows"] for event in stopped) > 0, "the writer never got in"
    for event in stopped:
        assert len(read_rows(event.details["path"])) == event.details["rows"]
