"""The ``emotion-train`` subcommands (``training.cli.COMMANDS``), one module each.

Every module has ``add_arguments(parser)`` and ``run(args) -> int`` (an ``ExitCode``);
what they compute lives in the library modules of ``training`` beside this package.
"""
