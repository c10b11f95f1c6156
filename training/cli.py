"""``emotion-train``: the training command line (also ``python -m training``)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Subcommand -> module with ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS = {
    "models": ("training.model_table", "list the architectures with parameters and MACs"),
    "train": ("training.train", "train an architecture on a dataset"),
    "evaluate": ("training.evaluate", "evaluate an exported ONNX model on a dataset split"),
    "soft-labels": ("training.teacher", "score teacher models once over a split for distillation"),
    "export": ("training.export_command", "export a checkpoint to ONNX with its model card"),
    "ensemble": ("training.ensemble", "build one ONNX model that averages several, with its card"),
    "cards": ("training.model_cards", "generate the models table (README) from the ONNX model cards"),
    "derive-template": ("training.derive_template", "derive the alignment template from FER2013"),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="emotion-train", description=__doc__)
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="logging verbosity")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(subparsers.add_parser(name, help=help_text, description=help_text))
        modules[name] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in checkpoints and cards
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    return modules[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
