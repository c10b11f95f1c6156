"""Cooperative stopping for a training run: the loop saves after its batch and exits."""

from __future__ import annotations

import logging
import signal

log = logging.getLogger(__name__)


class StopSignals:
    """First Ctrl-C or SIGTERM asks the loop to stop after the batch; a second Ctrl-C aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict = {}

    def __enter__(self) -> StopSignals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stop requested: saving after this batch (Ctrl-C again to abort without saving)")
