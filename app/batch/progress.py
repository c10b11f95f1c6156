"""The batch's progress on stderr, in the style of ``--headless``'s bar.

On a terminal: one line redrawn a few times a second, a bar over the files in which a
running file counts by the share of its frames done, then files, frames and frames per
second. Elsewhere (a log, CI): a line per finished file, and for a long one a line now
and then (``LINE_EVERY_S``) saying how far it is. A failed file is always told on a line
of its own, with the reason.
"""

from __future__ import annotations

import sys
import time

from app.batch.manifest import FAILED
from app.batch.work import Outcome

REDRAW_S = 0.2
BAR_WIDTH = 30
LINE_EVERY_S = 60.0
"""Off a terminal, how often a running file's frame count is told."""


class BatchProgress:
    def __init__(self, files: int, names: dict[int, str]) -> None:
        self.files = files
        self.names = names
        """Task index -> the input's name as shown."""
        self.finished_files = self.failed_files = 0
        self.interactive = sys.stderr.isatty()
        self.started = time.monotonic()
        self._frames: dict[int, int] = {}
        self._expected: dict[int, int | None] = {}
        self._running: set[int] = set()
        self._last_draw = 0.0
        self._shown = False
        self._last_line: dict[int, float] = {}
        """Off a terminal: when each running file was last told about."""

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def frames(self) -> int:
        return sum(self._frames.values())

    def update(self, index: int, frames: int, expected: int | None) -> None:
        """A running file's frame count (from its worker)."""
        now = time.monotonic()
        if index not in self._running:
            self._last_line[index] = now
        self._running.add(index)
        self._frames[index], self._expected[index] = frames, expected
        unfinished = expected is None or frames < expected
        if not self.interactive and unfinished and now - self._last_line[index] >= LINE_EVERY_S:
            self._last_line[index] = now
            of = f"/{expected} frames ({frames / expected:.0%})" if expected else " frames"
            self._line(f"{self.names.get(index, str(index))}: {frames}{of} so far")
        self._draw()

    def finished(self, outcome: Outcome, face_lines: list[str] | None = None) -> None:
        """A file is done; ``face_lines``: its summary, a line per face, told under it."""
        self._running.discard(outcome.index)
        self._frames[outcome.index] = outcome.frames
        self.finished_files += 1
        name = self.names.get(outcome.index, str(outcome.index))
        if outcome.status == FAILED:
            self.failed_files += 1
            self._line(f"emotion-app batch: {name} failed: {outcome.error}")
        elif not self.interactive:
            self._line(f"{self.finished_files}/{self.files} {name}: {outcome.frames} frames, "
                       f"{outcome.faces} face readings, {outcome.seconds:.1f} s")
        elif face_lines:
            self._line(f"{name}: {outcome.frames} frames")
        for line in face_lines or []:
            self._line(f"  {line}")
        self._draw(force=True)

    def finish(self) -> None:
        if self._shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._shown = False

    def _draw(self, force: bool = False) -> None:
        if not self.interactive:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < REDRAW_S:
            return
        self._last_draw = now
        running = sum(min(self._frames[i] / self._expected[i], 1.0) for i in self._running
                      if self._expected.get(i))
        fraction = min((self.finished_files + running) / self.files, 1.0) if self.files else 1.0
        seconds = max(now - self.started, 1e-9)
        failed = f" | {self.failed_files} failed" if self.failed_files else ""
        sys.stderr.write(f"\r[{'#' * int(fraction * BAR_WIDTH):<{BAR_WIDTH}}] {fraction:4.0%} "
                         f"{self.finished_files}/{self.files} files | {self.frames} frames | "
                         f"{self.frames / seconds:.1f} frames/s{failed}\x1b[K")
        sys.stderr.flush()
        self._shown = True

    def _line(self, text: str) -> None:
        self.finish()
        print(text, file=sys.stderr, flush=True)
