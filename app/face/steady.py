"""A steady read of one face: probabilities smoothed over time, and a shown emotion that
changes only when another one clearly leads.

Single frames flicker: a face between two expressions, a blink or a turn of the head
moves the top emotion back and forth several times a second. Two things steady it:

- Smoothing: an exponential moving average with a time constant ``time_constant_s``,
  ``smoothed = w * previous + (1 - w) * new`` with ``w = exp(-dt / time_constant_s)``
  for ``dt`` seconds since the face's previous frame, so a face is smoothed alike at 10
  or 60 analysed frames per second. 0 turns it off.
- Hysteresis: while the shown emotion's smoothed probability is the largest it stays;
  once another leads it, the shown emotion switches to the leader as soon as the lead
  reaches ``switch_margin``, and in any case once the shown one has been behind for
  ``switch_hold_s`` seconds without a break. So the name never contradicts the bars for
  longer than the hold: a brief, slight lead (a blink, a face between two expressions)
  does not flicker the name, and a clear or lasting one changes it. Margin 0: the shown
  emotion is the top one.

A frame whose probabilities are not finite (a model that gave NaN) is unreadable: it
reads as NaN and leaves the history as it was, so one bad output does not poison the
average for the frames after it.

The defaults were chosen by ``benchmarks/steadiness.py`` on the real clips (fewest
switches with a step change of expression shown within its ``--max-lag``); its output is
``docs/results/steadiness.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_TIME_CONSTANT_S = 0.3
DEFAULT_SWITCH_MARGIN = 0.1
DEFAULT_SWITCH_HOLD_S = 0.1
MAX_TIME_CONSTANT_S = 2.0
"""The most the app offers: beyond it the bars lag by seconds."""
MAX_SWITCH_MARGIN = 0.5
MAX_SWITCH_HOLD_S = 2.0


@dataclass(frozen=True)
class Steadiness:
    """How steady the read is; one immutable value, so another thread can swap it whole."""

    time_constant_s: float = DEFAULT_TIME_CONSTANT_S
    switch_margin: float = DEFAULT_SWITCH_MARGIN
    """Probability lead (0 to 1) over the shown emotion that switches to the leader at once."""
    switch_hold_s: float = DEFAULT_SWITCH_HOLD_S
    """Seconds the shown emotion may stay behind another (by less than the margin) before it
    switches: the longest the name shown may differ from the largest bar."""

    def __post_init__(self) -> None:
        for name, value, most in (("time_constant_s", self.time_constant_s, MAX_TIME_CONSTANT_S),
                                  ("switch_margin", self.switch_margin, MAX_SWITCH_MARGIN),
                                  ("switch_hold_s", self.switch_hold_s, MAX_SWITCH_HOLD_S)):
            if not (isinstance(value, (int, float)) and 0.0 <= value <= most):
                raise ValueError(f"{name} must be from 0 to {most}, got {value!r}")


OFF = Steadiness(0.0, 0.0, 0.0)
"""Each frame's raw probabilities and their top emotion."""


class SteadyRead:
    """One face's smoothed probabilities and the emotion shown for it (owned by one thread)."""

    def __init__(self) -> None:
        self.smoothed: np.ndarray | None = None
        self.shown: int | None = None
        """Index of the emotion shown."""
        self._time_s: float | None = None
        self._behind_since_s: float | None = None
        """When the shown emotion stopped being the top one; None while it is."""

    def restart(self) -> None:
        """Forget the history (another model's probabilities); the next frame starts afresh."""
        self.__init__()

    def update(self, probabilities: np.ndarray, time_s: float,
               steadiness: Steadiness) -> tuple[np.ndarray, int | None]:
        """(smoothed probabilities, shown emotion index) after a frame at ``time_s`` seconds;
        (all NaN, the index shown so far or None) for an unreadable frame."""
        probabilities = np.asarray(probabilities, np.float64)
        if not np.isfinite(probabilities).all():
            return np.full(probabilities.shape, np.nan), self.shown
        fresh = self.smoothed is None or self.smoothed.shape != probabilities.shape
        if fresh or steadiness.time_constant_s == 0.0:
            self.smoothed = probabilities.copy()
        else:
            elapsed = max(time_s - self._time_s, 0.0)
            weight = math.exp(-elapsed / steadiness.time_constant_s)
            self.smoothed = weight * self.smoothed + (1.0 - weight) * probabilities
        self._time_s = time_s
        leader = int(np.argmax(self.smoothed))
        if fresh or self.shown is None or self.smoothed[leader] <= self.smoothed[self.shown]:
            self.shown, self._behind_since_s = (leader if fresh or self.shown is None
                                                else self.shown), None
            return self.smoothed.copy(), self.shown
        if self._behind_since_s is None:
            self._behind_since_s = time_s
        lead = self.smoothed[leader] - self.smoothed[self.shown]
        if lead >= steadiness.switch_margin or time_s - self._behind_since_s >= steadiness.switch_hold_s:
            self.shown, self._behind_since_s = leader, None
        return self.smoothed.copy(), self.shown
