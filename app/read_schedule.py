"""Live reads that fit the frame budget: which faces the model reads in a frame, and over
how many of its card's test-time views.

From a live source (a camera, a stream, a video played in real time) a frame the worker
has not finished when the next arrives is a frame dropped: its boxes are never drawn. So
live, the landmarks and boxes run every frame, while the model reads faces within a
share of the frame's interval (``BUDGET_SHARE``): oldest read first, each face at least
every ``MAX_READ_AGE_S`` (ten reads a second, four faces included), and every face every
frame when the budget allows. A face not read in a frame keeps its last read; its CSV
row says so (``read_fresh``, ``read_age_ms``). ``auto`` views live are the richest
setting (``app.model.views.SETTINGS``) with which every face in view could still be read
at that minimum rate; files read frame by frame read every face every frame, over every
view (``Pipeline``).

The cost of a read is learnt as the run goes (a moving average of the model's
milliseconds per inference), so the schedule follows the machine and the model.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.model.views import ViewPlan

MAX_READ_AGE_S = 0.1
"""A face's read is refreshed at least this often live (10 reads a second)."""
BUDGET_SHARE = 0.6
"""Of a frame's interval, what the model may take: the rest is the crops, the tracker, the
CSV and the window's painting, while the landmarks of the next frame run beside it."""
DEFAULT_INTERVAL_S = 1 / 30
"""A live source whose frame rate is unknown is taken for a 30 frames/s camera."""
_SMOOTHING = 0.2


class ReadSchedule:
    """The per-frame choices of one live run; ``observe`` each model call's time."""

    def __init__(self, interval_s: float | None = None) -> None:
        self.interval_s = interval_s if interval_s and interval_s > 0 else DEFAULT_INTERVAL_S
        self.ms_per_read: float | None = None
        """Learnt milliseconds per inference (one view of one face); None before the first."""
        self.seen_interval_s = self.interval_s
        """Learnt time between the frames analysed: longer than ``interval_s`` when frames drop."""
        self._last_frame_s: float | None = None

    @property
    def budget_ms(self) -> float:
        return self.interval_s * 1000.0 * BUDGET_SHARE

    def observe(self, reads: int, infer_ms: float) -> None:
        """Learn from one model call of ``reads`` inferences that took ``infer_ms``."""
        if reads <= 0:
            return
        each = infer_ms / reads
        self.ms_per_read = each if self.ms_per_read is None else (
            self.ms_per_read + _SMOOTHING * (each - self.ms_per_read))

    def observe_frame(self, time_s: float) -> None:
        """Learn the time between analysed frames from this one's (in the source's seconds)."""
        if self._last_frame_s is not None and time_s > self._last_frame_s:
            gap = time_s - self._last_frame_s
            self.seen_interval_s += _SMOOTHING * (gap - self.seen_interval_s)
        self._last_frame_s = time_s

    def views(self, plan: ViewPlan, faces: int) -> str:
        """``auto`` live: the richest setting with which ``faces`` faces can each be read
        every ``MAX_READ_AGE_S`` within the budget; the cheapest until a read was timed."""
        settings = plan.distinct()
        if self.ms_per_read is None or faces == 0:
            return settings[0]
        frames_per_refresh = max(MAX_READ_AGE_S / self.interval_s, 1.0)
        for setting in reversed(settings):
            if faces * plan.reads(setting) * self.ms_per_read <= self.budget_ms * frames_per_refresh:
                return setting
        return settings[0]

    def choose(self, ages_s: Sequence[float | None], reads_per_face: int) -> list[int]:
        """The faces (indices into ``ages_s``, each face's read age in seconds, None for
        a face never read) the model reads this frame: every face due (never read, or
        about to pass ``MAX_READ_AGE_S`` by the next analysed frame, as far apart as they
        have come lately), then the oldest others while the budget lasts."""
        cost = reads_per_face * (self.ms_per_read or 0.0)
        order = sorted(range(len(ages_s)), key=lambda index: -_age(ages_s[index]))
        chosen, spent = [], 0.0
        for index in order:
            due = _age(ages_s[index]) + max(self.interval_s, self.seen_interval_s) > MAX_READ_AGE_S
            if due or spent + cost <= self.budget_ms:
                chosen.append(index)
                spent += cost
        return sorted(chosen)


def _age(age_s: float | None) -> float:
    return float("inf") if age_s is None else age_s
