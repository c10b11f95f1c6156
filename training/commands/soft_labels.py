"""``emotion-train soft-labels``: score teacher models once over a split, for distillation.

    emotion-train soft-labels models_onnx/a.onnx models_onnx/b.onnx --data fer2013 --out teacher.npz
    emotion-train train --arch mini_xception --data fer2013 --teacher teacher.npz

The soft-label file (``training.teacher.TeacherProbabilities``) holds the teachers'
averaged probabilities per image, each teacher's own, and a fingerprint of the split, so
a student run refuses a file made for other data.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from app.model.card import ModelCardError
from app.system.exit_codes import ExitCode
from training.data import FORMAT_CHOICES, DataOptions, DatasetLayoutError
from training.teacher import make_teacher

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("teachers", nargs="+", type=Path,
                        help="exported ONNX models, or .npz files of an earlier pass to join")
    parser.add_argument("--data", type=Path, required=True, help="dataset root")
    parser.add_argument("--split", default="train", help="split the student trains on")
    parser.add_argument("--dataset", default="auto", choices=FORMAT_CHOICES)
    parser.add_argument("--limit-per-class", type=int, help="as the student's run will use it")
    parser.add_argument("--seed", type=int, default=0, help="as the student's run will use it")
    parser.add_argument("--weights", type=float, nargs="+", help="one per teacher (default: equal)")
    parser.add_argument("--out", type=Path, required=True, help="soft-label file (.npz)")


def run(args: argparse.Namespace) -> int:
    try:
        options = DataOptions(limit_per_class=args.limit_per_class, seed=args.seed)
        teacher = make_teacher(args.teachers, args.data, args.split, args.dataset, options, args.weights)
    except (ModelCardError, DatasetLayoutError, ValueError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    teacher.save(args.out)
    print(f"wrote {args.out}: {teacher.describe()} over {teacher.fingerprint}, "
          f"{100 * teacher.accuracy:.2f} % on its targets")
    return ExitCode.OK
