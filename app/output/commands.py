"""``emotion-app calibrate`` and ``emotion-app report``: what is done with a recorded
timeline CSV after the run, without a model or a window."""

from __future__ import annotations

import argparse
import sys

from app.face.baseline import DEFAULT_SECONDS
from app.system.exit_codes import ExitCode


def calibrate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-app calibrate",
        description="Correct a recorded timeline CSV for each face's neutral baseline, taken from a "
                    "time range or the seconds after a marker (see the README's Calibration).",
        epilog="The raw columns are kept; calibrated_<emotion>, valence_calibrated and baseline are "
               "filled for each face that has readable rows in the range.")
    parser.add_argument("csv", help="a timeline CSV recorded by emotion-app")
    parser.add_argument("--out", required=True, help="the calibrated CSV to write")
    parser.add_argument("--from", dest="start_s", type=float, metavar="SECONDS",
                        help="baseline range start, in the CSV's t_seconds")
    parser.add_argument("--to", dest="end_s", type=float, metavar="SECONDS", help="baseline range end")
    parser.add_argument("--marker", help="take the baseline after the first marker with this label")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help=f"with --marker: how many seconds after it (default {DEFAULT_SECONDS:g})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    return parser


def calibrate_main(argv: list[str]) -> int:
    from app.output.calibrate_csv import calibrate_csv

    args = calibrate_parser().parse_args(argv)
    try:
        baselines = calibrate_csv(args.csv, args.out, overwrite=args.overwrite, start_s=args.start_s,
                                  end_s=args.end_s, marker=args.marker, seconds=args.seconds)
    except ValueError as error:
        print(f"emotion-app calibrate: error: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except OSError as error:
        print(f"emotion-app calibrate: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return ExitCode.FAILED
    for face_id, baseline in sorted(baselines.items()):
        print(f"face {face_id}: {baseline.name}: {baseline.describe()}")
    print(f"Calibrated CSV: {args.out}", file=sys.stderr)
    return ExitCode.OK
