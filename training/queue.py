"""A queue of training runs: one at a time, back to back, at low priority, resumable.

A queue is a folder. ``queue.json`` lists the runs in order (a name and the arguments
of ``emotion-train train``); each run trains in the sub-folder of its name, so its state
(checkpoints, ``status.json``, its log) lives on disk beside the list. ``run`` takes the
first run that has not finished, starts it (or resumes it where its ``last.pt`` exists),
and goes on to the next when it finishes; stopped and started again, on this machine or
another that has the folder, it continues where it was. One runner per queue (a lock),
one training at a time, all of it at the lowest CPU priority, so tests and interactive
work go first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.system.exit_codes import ExitCode
from app.system.output_files import write_bytes_staged
from training import checkpoint as checkpoints
from training.run_status import RunStatus

log = logging.getLogger(__name__)

QUEUE_FILE, LOCK_FILE, FAILED_FILE, LOG_FILE = "queue.json", "queue.lock", "failed.json", "train.log"
FORMAT = 1
LOWEST_PRIORITY = 19
FORBIDDEN = ("--out", "--resume", "--dry-run")
"""Options the queue sets itself: the run folder is the queue's, and it resumes by itself."""


@dataclass(frozen=True)
class QueuedRun:
    name: str
    """The run's folder inside the queue; also how commands refer to it."""
    arguments: tuple[str, ...]
    """``emotion-train train`` arguments, without ``--out`` or ``--resume``."""
    added: str = ""

    def __post_init__(self) -> None:
        if not self.name or not all(ch.isalnum() or ch in "-_." for ch in self.name) \
                or self.name.startswith("."):
            raise ValueError(f"run name {self.name!r}: use letters, digits, '-', '_' and '.', not "
                             "starting with '.'")
        given = sorted({argument.split("=")[0] for argument in self.arguments} & set(FORBIDDEN))
        if given:
            raise ValueError(f"{' '.join(given)}: the queue chooses the run folder and resumes by "
                             "itself; leave them out")


@dataclass(frozen=True)
class RunState:
    """What the queue knows of a run, from its folder."""

    run: QueuedRun
    state: str
    """queued, running, paused (stopped part-way, resumes next), finished or failed."""
    status: RunStatus | None = None
    failure: str | None = None


@dataclass
class Queue:
    folder: Path
    runs: list[QueuedRun] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> Queue:
        path = Path(folder) / QUEUE_FILE
        if not path.exists():
            return cls(Path(folder))
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            runs = [QueuedRun(item["name"], tuple(item["arguments"]), item.get("added", ""))
                    for item in data["runs"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a training queue ({error})") from None
        return cls(Path(folder), runs)

    def save(self) -> None:
        write_bytes_staged(self.folder / QUEUE_FILE, json.dumps({"format": FORMAT, "runs": [
            {**asdict(run), "arguments": list(run.arguments)} for run in self.runs]}, indent=1).encode())

    def add(self, run: QueuedRun, first: bool = False) -> int:
        """Append ``run`` (``first``: before the runs not yet started); returns its index."""
        if any(existing.name == run.name for existing in self.runs):
            raise ValueError(f"the queue already has a run named {run.name!r}")
        position = len(self.runs)
        if first:
            position = next((index for index, state in enumerate(self.states())
                             if state.state == "queued"), position)
        self.runs.insert(position, run)
        return position

    def remove(self, name: str) -> QueuedRun:
        for run in self.runs:
            if run.name == name:
                self.runs.remove(run)
                return run
        raise ValueError(f"no run named {name!r}; the queue has {[run.name for run in self.runs]}")

    def run_folder(self, run: QueuedRun) -> Path:
        return self.folder / run.name

    def state_of(self, run: QueuedRun, running: str | None = None) -> RunState:
        folder = self.run_folder(run)
        status = RunStatus.read(folder)
        failed = folder / FAILED_FILE
        if failed.exists():
            return RunState(run, "failed", status, failure_text(failed))
        if run.name == running:
            return RunState(run, "running", status)
        if status is not None and status.finished:
            return RunState(run, "finished", status)
        started = status is not None or (folder / checkpoints.LAST).exists()
        return RunState(run, "paused" if started else "queued", status)

    def states(self) -> list[RunState]:
        running = runner_of(self.folder)
        return [self.state_of(run, running[1] if running else None) for run in self.runs]

    def next_run(self) -> QueuedRun | None:
        return next((state.run for state in map(self.state_of, self.runs)
                     if state.state in ("queued", "paused")), None)


def failure_text(path: Path) -> str:
    """What ``failed.json`` says, as a line for people."""
    try:
        failure = json.loads(path.read_text())
        return (f"exit code {failure['exit_code']} at {failure['at']}; see {failure['log']}; delete "
                f"{path} to try it again")
    except (OSError, ValueError, KeyError, TypeError):
        return f"marked failed by {path}; delete it to try again"


def runner_of(folder: Path) -> tuple[int, str] | None:
    """(pid, run name) of the runner working on this queue, or None when none is."""
    path = Path(folder) / LOCK_FILE
    if not path.exists():
        return None
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a runner is alive
            try:
                held = json.loads(path.read_text() or "{}")
            except ValueError:
                held = {}
            return int(held.get("pid", 0)), str(held.get("run", ""))
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def train_command(queue: Queue, run: QueuedRun) -> list[str]:
    """The ``emotion-train train`` process for ``run``: resumed where it has a ``last.pt``."""
    folder = queue.run_folder(run)
    base = [sys.executable, "-m", "training", "train"]
    if (folder / checkpoints.LAST).exists():
        return [*base, "--resume", "--out", str(folder), "--no-progress"]
    return [*base, *run.arguments, "--out", str(folder), "--no-progress"]


class Runner:
    """Works through a queue until it is empty or asked to stop (SIGINT or SIGTERM, which
    it passes to the training so that it saves first)."""

    def __init__(self, queue_folder: Path, command=train_command) -> None:
        self.folder, self.command = Path(queue_folder), command
        self.stopping, self.child = False, None

    def run(self) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / LOCK_FILE, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held = runner_of(self.folder)
                log.error("another runner (pid %s) is working on %s", held[0] if held else "?", self.folder)
                return ExitCode.BAD_INPUT
            with contextlib.suppress(OSError):
                os.nice(LOWEST_PRIORITY - os.nice(0))
            previous = {signum: signal.signal(signum, self._stop)
                        for signum in (signal.SIGINT, signal.SIGTERM)}
            try:
                return self._work(lock)
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    def _stop(self, signum, frame) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGINT)  # the training saves after its batch

    def _work(self, lock) -> int:
        while not self.stopping:
            queue = Queue.load(self.folder)
            run = queue.next_run()
            if run is None:
                log.info("queue %s: nothing left to train", self.folder)
                return ExitCode.OK
            lock.seek(0)
            lock.truncate()
            lock.write(json.dumps({"pid": os.getpid(), "run": run.name}))
            lock.flush()
            code = self._train(queue, run)
            if self.stopping:
                break
            if code not in (ExitCode.OK, ExitCode.PAUSED):
                folder = queue.run_folder(run)
                write_bytes_staged(folder / FAILED_FILE, json.dumps({
                    "exit_code": code, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "log": str(folder / LOG_FILE)}).encode())
                log.error("%s failed (exit code %d); going on with the next run", run.name, code)
        log.info("stopped; `emotion-train queue run --queue %s` goes on from here", self.folder)
        return ExitCode.INTERRUPTED

    def _train(self, queue: Queue, run: QueuedRun) -> int:
        folder = queue.run_folder(run)
        folder.mkdir(parents=True, exist_ok=True)
        command = self.command(queue, run)
        log.info("%s: %s", run.name, " ".join(command))
        with open(folder / LOG_FILE, "ab") as output:
            # Its own session: a terminal's Ctrl-C reaches the runner alone, which passes on
            # exactly one SIGINT (a second would abort the training without saving).
            self.child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                return self.child.wait()
            finally:
                self.child = None
