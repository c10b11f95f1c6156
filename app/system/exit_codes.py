"""Exit statuses of ``emotion-app`` and ``emotion-train``, one table for both commands.

The values follow the conventions scripts already test for: 2 for a usage error (as
``argparse`` exits), 69 (``EX_UNAVAILABLE`` of BSD ``sysexits.h``) when a needed service
is missing, 75 (``EX_TEMPFAIL``) for "paused: run the same command again", and 128 + 2
for a run stopped by Ctrl-C (SIGINT).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    """The run went wrong part-way; what was written so far is kept."""
    BAD_INPUT = 2
    """The command line or an input file was refused before anything ran."""
    NO_DISPLAY = 69
    """The window was asked for where there is no display."""
    PAUSED = 75
    """A time budget ran out; the same command resumes."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C or SIGTERM after saving what it had."""
    CLOSED_PIPE = 141
    """The program reading stdout stopped (``--list-models | head -2``): 128 + SIGPIPE, as a
    shell reports a command that signal ended."""


def quiet_on_closed_pipe(main):
    """``main``, ending quietly with ``CLOSED_PIPE`` when the reader of stdout has gone,
    instead of a ``BrokenPipeError`` traceback (and another as Python flushes at exit)."""
    import functools
    import os
    import sys

    @functools.wraps(main)
    def guarded(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # the flush at exit goes nowhere, silently
            os.close(devnull)
            return ExitCode.CLOSED_PIPE
    return guarded
