"""``emotion-app calibrate`` and ``emotion-app report``: what is done with a recorded
timeline CSV after the run, without a model or a window."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

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

    def calibrate() -> str:
        baselines = calibrate_csv(args.csv, args.out, overwrite=args.overwrite, start_s=args.start_s,
                                  end_s=args.end_s, marker=args.marker, seconds=args.seconds)
        for face_id, baseline in sorted(baselines.items()):
            print(f"face {face_id}: {baseline.name}: {baseline.describe()}")
        return f"Calibrated CSV: {args.out}"
    return _run("emotion-app calibrate", args.out, calibrate)


def _run(program: str, out: str, action: Callable[[], str]) -> int:
    """``action``'s closing line on stderr and 0; bad input (ValueError) 2, a file that
    cannot be written (OSError) or a report that cannot be made here (RuntimeError) 1,
    each said in one line."""
    try:
        done = action()
    except RuntimeError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        return ExitCode.FAILED
    except ValueError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except OSError as error:
        print(f"{program}: cannot write {out}: {error.strerror or error}", file=sys.stderr)
        return ExitCode.FAILED
    print(done, file=sys.stderr)
    return ExitCode.OK


def report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-app report",
        description="Write one self-contained HTML report (it fetches nothing and works offline) of "
                    "a recorded timeline CSV: the run's facts, and per face the emotions and valence "
                    "over time with the markers, each emotion's share, missing and low-quality frames, "
                    "and the baseline when calibrated.")
    parser.add_argument("csv", help="a timeline CSV recorded by emotion-app")
    parser.add_argument("--out", required=True, help="the .html file to write (replaced if it exists)")
    parser.add_argument("--source", help="what was analysed, to name in the report (a CSV does not "
                                         "record it)")
    parser.add_argument("--model", help="the model file that made the CSV, for its SHA-256 (default: "
                                        "the installed model of the name in the CSV, if any)")
    return parser


def report_main(argv: list[str]) -> int:
    from app.output.report import RunFacts, write_report

    args = report_parser().parse_args(argv)

    def report() -> str:
        facts = RunFacts(source=args.source, model_path=_model_path(args.model, args.csv))
        return f"Report: {write_report(args.csv, args.out, facts)}"
    return _run("emotion-app report", args.out, report)


def _model_path(model: str | None, csv_path: str) -> Path | None:
    """``--model``'s file, else the installed model named in the CSV's first face row (None
    when it is not installed); ValueError for a ``--model`` that is not a model."""
    from app.model.card import ModelCardError
    from app.model.library import resolve_model
    from app.output.timeline_file import read_timeline

    name = model
    if name is None:
        rows = read_timeline(csv_path).face_rows()
        name = rows[0].get("model") if rows else None
        if not name:
            return None
    try:
        return resolve_model(name)
    except ModelCardError as error:
        if model is not None:
            raise ValueError(str(error)) from None
        return None
