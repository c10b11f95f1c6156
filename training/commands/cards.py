"""``emotion-train cards``: the shipped-models table, generated from the cards in the ONNX files.

    emotion-train cards models_onnx --figures docs --write     # -> models_onnx/README.md

The text is ``training.model_cards.render``: every figure comes from a model's own card.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from app.model.card import ModelCardError
from app.system.exit_codes import ExitCode
from training.model_cards import draw_curves, render

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models_dir", type=Path, help="folder of exported ONNX models")
    parser.add_argument("--figures", type=Path,
                        help="folder of confusion-matrix PNGs to link; with --write, the cards' "
                             "learning curves are drawn there too")
    parser.add_argument("--write", action="store_true", help="write MODELS_DIR/README.md")


def run(args: argparse.Namespace) -> int:
    if not args.models_dir.is_dir():
        log.error("%s is not a folder", args.models_dir)
        return ExitCode.BAD_INPUT
    try:
        if args.write and args.figures:
            for figure in draw_curves(args.models_dir, args.figures):
                log.info("drew %s", figure)
        text = render(args.models_dir, args.figures)
    except (ModelCardError, OSError) as error:
        log.error("%s", error)
        return ExitCode.BAD_INPUT
    if args.write:
        (args.models_dir / "README.md").write_text(text)
        log.info("wrote %s", args.models_dir / "README.md")
    else:
        print(text, end="")
    return ExitCode.OK
