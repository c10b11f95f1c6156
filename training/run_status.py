"""A run's progress in a few hundred bytes: ``status.json`` in its folder.

The trainer rewrites it at every save, so a queue (``training.queue``) or a person can
tell how far a run is, how fast it goes and how good it is so far without loading a
checkpoint of hundreds of megabytes.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from app.system.output_files import write_bytes_staged

STATUS_FILE = "status.json"


@dataclass(frozen=True)
class RunStatus:
    arch: str
    epoch: int
    """Epochs completed."""
    epochs: int
    """Epochs the run is set to train."""
    batches_done: int
    """Batches of the epoch in progress."""
    batches_per_epoch: int
    best_accuracy: float
    best_epoch: int
    epoch_seconds: tuple[float, ...] = field(default=())
    """Wall seconds of each completed epoch (validation included)."""
    stopped: str | None = None
    """How the last session ended (finished, interrupted, paused); None while it trains."""
    updated: float = 0.0
    """When this was written (seconds since the epoch)."""
    pid: int = 0
    """The training process that wrote it."""

    @property
    def finished(self) -> bool:
        return self.stopped == "finished" or self.epoch >= self.epochs

    @property
    def seconds_per_epoch(self) -> float | None:
        """The median epoch's wall seconds; None before the first epoch."""
        return statistics.median(self.epoch_seconds) if self.epoch_seconds else None

    def seconds_left(self) -> float | None:
        """The median epoch time times the epochs still to train; None before the first epoch."""
        if self.seconds_per_epoch is None:
            return None
        remaining = self.epochs - self.epoch - self.batches_done / max(self.batches_per_epoch, 1)
        return max(0.0, remaining) * self.seconds_per_epoch

    def write(self, folder: Path) -> None:
        """Write-then-rename, so a reader never sees half a file."""
        write_bytes_staged(Path(folder) / STATUS_FILE, json.dumps(asdict(self), indent=1).encode())

    @classmethod
    def read(cls, folder: Path) -> RunStatus | None:
        """The folder's status, or None where there is none yet or it cannot be read."""
        try:
            data = json.loads((Path(folder) / STATUS_FILE).read_text())
            known = {item.name for item in fields(cls)}
            data = {key: value for key, value in data.items() if key in known}
            data["epoch_seconds"] = tuple(data.get("epoch_seconds", ()))
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None
