"""``emotion-train models``: every architecture with its size and cost (``training.model_table``)."""

from __future__ import annotations

import argparse

from app.system.exit_codes import ExitCode
from training.model_table import format_table, table_rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--channels", type=int, default=1, choices=(1, 3), help="input channels")
    parser.add_argument("--classes", type=int, default=7, help="number of classes")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")


def run(args: argparse.Namespace) -> int:
    print(format_table(table_rows(args.channels, args.classes), markdown=args.markdown))
    return ExitCode.OK
