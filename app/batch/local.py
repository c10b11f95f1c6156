"""Worker processes on this machine, one task at a time each.

Each worker is a spawned process (not forked: MediaPipe's and ONNX Runtime's threads
do not survive a fork, and spawn is what Windows and macOS do anyway) with its own
landmarker and ONNX Runtime session, limited to ``threads`` threads so the workers
together use the cores once. Each has its own pipe: the parent hands it the next task
when it reports one done, and it reports frame counts on the way. A pipe, unlike a
queue, sends at once, so the parent knows which task a worker that dies (a decoder
crashing on a damaged file) was running: that file is recorded as failed and a new
worker takes the remaining ones.

Ctrl+C reaches the workers too; they ignore it and the parent stops them, removes the
CSVs they had begun (staged beside their outputs) and raises KeyboardInterrupt.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from app.batch.manifest import FAILED
from app.batch.work import FrameProgress, Outcome, Task, Worker
from app.system.logs import FORMAT, log_file
from app.system.output_files import discard_staged

log = logging.getLogger(__name__)

STOP_WAIT_S = 5.0


def available_cores() -> int:
    """The cores this process may run on (a container's or ``taskset``'s limit included)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """The cores shared out: at least one thread each."""
    return max(1, (cores or available_cores()) // workers)


@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess
    connection: Connection
    task: Task | None = None


def run_locally(tasks: Iterable[Task], args: argparse.Namespace, workers: int, threads: int,
                on_outcome: Callable[[Outcome], None], on_frames: FrameProgress) -> None:
    """Run ``tasks`` on ``workers`` processes of ``threads`` threads; each outcome goes to
    ``on_outcome`` as it comes. Raises KeyboardInterrupt once the workers are stopped."""
    pending = deque(tasks)
    context = multiprocessing.get_context("spawn")
    slots: list[_Slot] = []

    def start_worker() -> None:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker_main, args=(child_end, args, threads),
                                  name=f"batch-worker-{len(slots) + 1}", daemon=True)
        process.start()
        child_end.close()
        slot = _Slot(process, parent_end)
        slots.append(slot)
        _hand_out(slot, pending)

    try:
        for _ in range(min(workers, len(pending))):
            start_worker()
        while any(slot.task for slot in slots):
            busy = [slot for slot in slots if slot.task]
            wait([slot.connection for slot in busy] + [slot.process.sentinel for slot in busy],
                 timeout=1.0)
            for slot in busy:
                _read_messages(slot, pending, on_outcome, on_frames)
                if slot.task and not slot.process.is_alive():
                    _read_messages(slot, pending, on_outcome, on_frames)  # what it sent last
                if slot.task and not slot.process.is_alive():
                    on_outcome(_died(slot))
                    slot.task = None
                    slots.remove(slot)
                    slot.connection.close()
                    if pending:
                        start_worker()
    except KeyboardInterrupt:
        _stop(slots)
        raise
    finally:
        _stop(slots)


def _hand_out(slot: _Slot, pending: deque[Task]) -> None:
    """The next task to ``slot``'s worker, or None (it exits) when none is left."""
    slot.task = pending.popleft() if pending else None
    try:
        slot.connection.send(slot.task)
    except OSError:  # it died already; the caller finds out from its sentinel
        pass


def _read_messages(slot: _Slot, pending: deque[Task], on_outcome: Callable[[Outcome], None],
                   on_frames: FrameProgress) -> None:
    try:
        while slot.task and slot.connection.poll():
            kind, payload = slot.connection.recv()
            if kind == "frames":
                on_frames(*payload)
            elif kind == "done":
                _hand_out(slot, pending)  # first, so the worker never waits on the caller
                on_outcome(payload)
    except (EOFError, OSError):  # it died; the caller finds out from its sentinel
        pass


def _died(slot: _Slot) -> Outcome:
    code = slot.process.exitcode
    how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exit code {code}")
    log.error("the worker analysing %s ended unexpectedly (%s)", slot.task.input, how)
    discard_staged(slot.task.output, slot.process.pid)
    return Outcome(slot.task.index, FAILED,
                   error=f"the worker process analysing it ended unexpectedly ({how}); "
                         f"details may be in {log_file()}")


def _stop(slots: list[_Slot]) -> None:
    """End every worker still running and remove the CSVs they had begun."""
    for slot in slots:
        if slot.process.is_alive():
            slot.process.terminate()
    for slot in slots:
        slot.process.join(STOP_WAIT_S)
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join()
        if slot.task:
            discard_staged(slot.task.output, slot.process.pid)
            slot.task = None
        slot.connection.close()
    slots.clear()


def _worker_main(connection: Connection, args: argparse.Namespace, threads: int) -> None:
    """A worker process: tasks from ``connection`` until None (or the parent is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl+C stops
    logging.basicConfig(level=args.log_level, format=FORMAT.replace("%(name)s", "%(processName)s %(name)s"))
    worker = Worker(args, threads)

    def on_frames(index: int, frames: int, expected: int | None) -> None:
        connection.send(("frames", (index, frames, expected)))

    try:
        while (task := connection.recv()) is not None:
            connection.send(("done", worker.run(task, on_frames)))
    except (EOFError, OSError):  # the parent ended
        pass
