"""``emotion-train queue``: training runs one after another, resumed after any stop.

    emotion-train queue add yolov8 -- --arch yolov8_dyconv_gam --data fer2013 --recipe fast --epochs 150
    emotion-train queue run        # trains them in order, at the lowest CPU priority
    emotion-train queue status     # what is running, its epoch, ETA and best val so far

The queue folder (``--queue``, default ``runs/queue``) holds the list and a folder per
run; ``run`` again, here or on a machine that has the folder, goes on where it stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import time
from pathlib import Path

from app.system.exit_codes import ExitCode
from training.queue import Queue, QueuedRun, Runner, RunState

log = logging.getLogger(__name__)

DEFAULT_QUEUE = Path("runs") / "queue"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", type=Path, default=DEFAULT_QUEUE, metavar="FOLDER",
                        help=f"the queue's folder (default: {DEFAULT_QUEUE})")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="append a training run: [--first] NAME -- TRAIN ARGUMENTS")
    add.add_argument("name", help="the run's folder name in the queue")
    add.add_argument("arguments", nargs=argparse.REMAINDER,
                     help="emotion-train train arguments after --, without --out or --resume")
    add.add_argument("--first", action="store_true", help="put it before the runs not yet started")
    actions.add_parser("run", help="train the queued runs in order until none is left")
    actions.add_parser("status", help="each run: state, epoch, ETA, best val accuracy")
    remove = actions.add_parser("remove", help="take a run off the list (its folder stays)")
    remove.add_argument("name")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "run":
            return Runner(args.queue).run()
        queue = Queue.load(args.queue)
        if args.action == "add":
            return add(queue, args)
        if args.action == "remove":
            queue.remove(args.name)
            queue.save()
            print(f"removed {args.name} from {args.queue}; its folder {queue.folder / args.name} is kept")
            return ExitCode.OK
        print(status_table(queue.states()))
        return ExitCode.OK
    except ValueError as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT


def add(queue: Queue, args: argparse.Namespace) -> int:
    from training.cli import build_parser  # the train command's own parser checks the arguments

    arguments = args.arguments[1:] if args.arguments[:1] == ["--"] else args.arguments
    parser, _ = build_parser()
    refusal = io.StringIO()
    try:
        with contextlib.redirect_stderr(refusal):
            parser.parse_args(["train", *arguments])
    except SystemExit:
        reason = refusal.getvalue().strip().splitlines()[-1:] or ["unreadable arguments"]
        raise ValueError(f"not queued: {reason[0]}") from None
    run = QueuedRun(args.name, tuple(arguments), time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    position = queue.add(run, first=args.first)
    queue.save()
    print(f"queued {run.name} in {queue.folder} (position {position + 1} of {len(queue.runs)})")
    return ExitCode.OK


def status_table(states: list[RunState]) -> str:
    if not states:
        return "the queue is empty"
    width = max(len(state.run.name) for state in states)
    lines = [f"{'run':{width}} {'state':9} {'epoch':>9} {'best val':>15} {'s/epoch':>8} {'ETA':>9}"]
    total = 0.0
    for state in states:
        status = state.status
        epoch = f"{status.epoch}/{status.epochs}" if status else "-"
        best = (f"{100 * status.best_accuracy:.2f} % @ {status.best_epoch}"
                if status and status.best_epoch else "-")
        per_epoch = status.seconds_per_epoch if status else None
        left = status.seconds_left() if status and state.state != "finished" else None
        total += left or 0.0
        lines.append(f"{state.run.name:{width}} {state.state:9} {epoch:>9} {best:>15} "
                     f"{f'{per_epoch:.0f}' if per_epoch else '-':>8} {duration(left):>9}")
        if state.failure:
            lines.append(f"  {state.failure}")
    lines.append(f"known time left: {duration(total)} (runs not yet started are not counted)")
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
