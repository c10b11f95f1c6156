"""``emotion-train``: the training command line (also ``python -m training``)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from app.system.cli_text import plain_text, version_text
from app.system.exit_codes import quiet_on_closed_pipe

# Subcommand -> module in ``training.commands`` with ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS = {
    "models": ("training.commands.models", "list the architectures with parameters and MACs"),
    "train": ("training.commands.train", "train an architecture on a dataset"),
    "queue": ("training.commands.queue",
              "training runs one after another at low priority, resumed after any stop"),
    "ablate": ("training.commands.ablate",
               "rerun a paper's ablation table: its variants over seeds, one budget"),
    "evaluate": ("training.commands.evaluate", "evaluate an exported ONNX model on a dataset split"),
    "compare": ("training.commands.compare", "test whether two ONNX models differ on the same split"),
    "seeds": ("training.commands.seeds",
              "a model's val accuracy over runs that differ only by seed, into its card"),
    "curve": ("training.commands.curve",
              "a run's learning curve: printed, drawn, or into its model's card"),
    "soft-labels": ("training.commands.soft_labels",
                    "score teacher models once over a split for distillation"),
    "export": ("training.commands.export", "export a checkpoint to ONNX with its model card"),
    "ensemble": ("training.commands.ensemble",
                 "build one ONNX model that averages several, with its card"),
    "views": ("training.commands.views",
              "one ONNX model that averages a model over rotated, zoomed, shifted views of each face"),
    "cards": ("training.commands.cards", "generate the models table (README) from the ONNX model cards"),
    "derive-template": ("training.commands.derive_template",
                        "derive the alignment template from FER2013"),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="emotion-train", description=plain_text(__doc__))
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="logging verbosity")
    parser.add_argument("--version", action="version", version=version_text("emotion-train"))
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (module_name, summary) in COMMANDS.items():
        module = importlib.import_module(module_name)
        summary = plain_text(summary)
        module.add_arguments(subparsers.add_parser(name, help=summary, description=summary))
        modules[name] = module
    return parser, modules


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in checkpoints and cards
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    return modules[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
