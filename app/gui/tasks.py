"""Blocking calls off the GUI thread, with their outcome delivered back on it.

Loading a model, building the pipeline (the provider probe), listing
cameras, reopening a lost camera and reading a recorded CSV all block; the window hands
them to ``Background.call`` and gets ``on_done(value)`` or ``on_error(exception)`` later,
on its own thread, so it never freezes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

EXPECTED_ERRORS: tuple[type[Exception], ...] = (ValueError, RuntimeError, OSError)
"""What bad input raises (ModelCardError, CaptureError, RecordingError derive from these);
anything else is a bug and its traceback goes to the log."""


class _Relay(QObject):
    """Lives on the GUI thread; its signal, sent from a pool thread, arrives there.

    The outcome travels inside a tuple: PySide6 (6.12, Python 3.11) miscounts references
    to a bare None sent through an ``object`` signal, which crashes the interpreter at exit.
    """

    finished = Signal(object)

    def __init__(self, owner: Background, on_done: Callable[[Any], None],
                 on_error: Callable[[Exception], None] | None) -> None:
        super().__init__(owner)
        self._owner, self._on_done, self._on_error = owner, on_done, on_error
        self.finished.connect(self._deliver)

    @Slot(object)
    def _deliver(self, outcome: tuple[Any, Exception | None]) -> None:
        value, error = outcome
        self._owner._relays.discard(self)
        self.deleteLater()
        if error is None:
            self._on_done(value)
        elif self._on_error is not None:
            self._on_error(error)


class Background(QObject):
    """A small thread pool for the window's blocking calls."""

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._relays: set[_Relay] = set()

    def call(self, function: Callable[[], Any], on_done: Callable[[Any], None],
             on_error: Callable[[Exception], None] | None = None, what: str = "a task") -> None:
        """Run ``function()`` on the pool; ``on_done`` or ``on_error`` runs on this thread."""
        relay = _Relay(self, on_done, on_error)
        self._relays.add(relay)

        def work() -> None:
            try:
                value = function()
            except Exception as error:  # handed to on_error as a value, never raised in Qt
                log.warning("%s failed: %s", what, error,
                            exc_info=not isinstance(error, EXPECTED_ERRORS))
                relay.finished.emit((None, error))
            else:
                relay.finished.emit((value, None))

        self._pool.start(work)

    @property
    def busy(self) -> bool:
        return bool(self._relays)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Wait for the calls in flight (-1: however long they take); their outcomes are
        delivered later, if ever."""
        return self._pool.waitForDone(timeout_ms)
