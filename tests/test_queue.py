"""``emotion-train queue``: runs back to back at low priority, a failure does not stop the
queue, and a stopped queue resumes where it was."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from training.cli import main
from training.commands.queue import status_table
from training.queue import FAILED_FILE, Queue, QueuedRun, runner_of
from training.run_status import RunStatus

FER2013 = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"
# One layout (no probe), one thread, a handful of images: seconds an epoch.
TINY = ("--arch", "mini_xception", "--data", str(FER2013), "--recipe", "fast", "--limit-per-class", "10",
        "--batch", "14", "--threads", "1", "--no-amp", "--no-channels-last")


def test_a_run_is_refused_with_options_the_queue_sets_or_a_bad_name():
    with pytest.raises(ValueError, match="--out"):
        QueuedRun("a", ("--arch", "mini_xception", "--out", "x"))
    with pytest.raises(ValueError, match="--resume"):
        QueuedRun("a", ("--resume",))
    for name in ("", "../up", ".hidden", "a b"):
        with pytest.raises(ValueError, match="run name"):
            QueuedRun(name, ())


def test_add_checks_the_arguments_keeps_the_order_and_refuses_a_second_name(tmp_path, capsys, caplog):
    queue = tmp_path / "q"
    assert main(["queue", "--queue", str(queue), "add", "a", "--", "--arch", "mini_xception",
                 "--data", "d"]) == 0
    assert main(["queue", "--queue", str(queue), "add", "b", "--", "--arch", "dcrnet", "--data", "d"]) == 0
    assert main(["queue", "--queue", str(queue), "add", "--first", "c", "--", "--arch", "dcrnet",
                 "--data", "d"]) == 0
    assert [run.name for run in Queue.load(queue).runs] == ["c", "a", "b"]
    assert main(["queue", "--queue", str(queue), "add", "a", "--", "--arch", "dcrnet"]) == 2
    assert "already has a run named 'a'" in caplog.text
    assert main(["queue", "--queue", str(queue), "add", "z", "--", "--arch", "nope"]) == 2
    assert "not queued" in caplog.text and "invalid choice: 'nope'" in caplog.text
    assert main(["queue", "--queue", str(queue), "remove", "a"]) == 0
    assert [run.name for run in Queue.load(queue).runs] == ["c", "b"]
    capsys.readouterr()
    assert main(["queue", "--queue", str(queue), "status"]) == 0
    assert "c " in capsys.readouterr().out and runner_of(queue) is None


def test_status_shows_epoch_best_val_and_time_left(tmp_path):
    queue = Queue(tmp_path)
    queue.add(QueuedRun("yolo", ("--arch", "yolov8_dyconv_gam")))
    (tmp_path / "yolo").mkdir()
    RunStatus("yolov8_dyconv_gam", 10, 150, 112, 224, 0.6123, 9, (120.0,) * 10, None).write(tmp_path / "yolo")
    states = queue.states()
    assert states[0].state == "paused"
    text = status_table(states)
    assert "10/150" in text and "61.23 % @ 9" in text
    assert "4 h 39 min" in text  # 139.5 epochs left at 120 s each


def test_a_queue_trains_in_order_survives_a_failure_and_resumes_after_a_stop(tmp_path):
    if not FER2013.is_dir():
        pytest.skip(f"FER2013 is not at {FER2013}")
    queue = tmp_path / "q"
    for name, arguments in (("broken", ("--arch", "mini_xception", "--data", str(tmp_path / "none"))),
                            ("first", (*TINY, "--epochs", "3")), ("second", (*TINY, "--epochs", "1"))):
        assert main(["queue", "--queue", str(queue), "add", name, "--", *arguments]) == 0
    command = [sys.executable, "-m", "training", "queue", "--queue", str(queue), "run"]
    runner = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while (RunStatus.read(queue / "first") is None or RunStatus.read(queue / "first").epoch < 1) \
            and runner.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runner.poll() is None, runner.communicate()[0]
    assert runner_of(queue)[1] == "first"
    runner.send_signal(signal.SIGTERM)
    output = runner.communicate(timeout=120)[0]
    assert runner.returncode == 130, output
    states = {state.run.name: state for state in Queue.load(queue).states()}
    assert states["broken"].state == "failed" and "exit code 2" in states["broken"].failure
    assert states["first"].state == "paused" and states["first"].status.epoch < 3
    assert states["second"].state == "queued"

    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    states = {state.run.name: state for state in Queue.load(queue).states()}
    assert states["first"].state == states["second"].state == "finished"
    assert states["first"].status.epoch == 3
    log = (queue / "first" / "train.log").read_text()
    assert "resuming after epoch" in log and "precision and memory format: fp32" in log
    history = json.loads((queue / "first" / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1, 2, 3]  # every epoch once, none repeated
    (queue / "broken" / FAILED_FILE).unlink()  # deleting the mark queues it again
    assert Queue.load(queue).next_run().name == "broken"
