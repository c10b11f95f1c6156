"""``manifest.csv``: what a batch did with each input, and what a rerun may skip.

One row per input: ``input`` (absolute path), ``output`` (the CSV, relative to the
manifest's folder), ``frames`` and ``faces`` analysed, ``seconds`` it took, ``status``
(``ok`` or ``failed``), ``error``, ``model`` and ``model_sha256``, ``app_version``, and
for resuming ``settings`` (the options that change a CSV's numbers), ``output_bytes``
and ``finished_at``.

Rows are appended (and synced) as files finish, so an interrupted or crashed batch
keeps what it finished; at the start and the end of a run the file is rewritten with
one row per input (the latest), staged and renamed (``app.system.output_files``), so it
is never left half-written; neither write follows a link planted at its name. A line
cut off by a crash mid-append is dropped on reading. An input
counts as finished, and is skipped, only when its row says ``ok`` for the same model file
and settings and its CSV is still there with the size recorded: a CSV that is missing,
cut short or replaced is analysed again.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import logging
import os
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

from app.output.csv_cells import plain_cell, safe_cell
from app.system.file_names import NAME_ERRORS, printable
from app.system.output_files import open_append, write_bytes_staged

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.csv"
OK, FAILED = "ok", "failed"


@dataclass(frozen=True)
class ManifestRow:
    input: str
    output: str
    frames: int
    faces: int
    seconds: float
    status: str
    error: str
    model: str
    model_sha256: str
    app_version: str
    settings: str
    output_bytes: int
    finished_at: str


COLUMNS = tuple(field.name for field in fields(ManifestRow))
_NUMBERS = {"frames": int, "faces": int, "seconds": float, "output_bytes": int}


class Manifest:
    """The manifest in ``folder``: read at once, appended to as files finish.

    A write that fails (a full disk) never raises: ``error`` says what happened and what
    to do, the file keeps the rows written before, and the batch goes on (a file whose row
    is missing is analysed again next time). Lines that cannot be read (a field over
    ``csv``'s 128 KiB limit, cells of no manifest) are warned about by number; the first
    rewrite keeps the file as it was under ``unreadable_copy``, so nothing is lost."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / MANIFEST_NAME
        self.error: str | None = None
        if self.path.is_symlink():
            raise ValueError(f"{printable(self.path)} is a link; the batch never writes through one: "
                             "remove it, or choose another --out")
        self._original = b""
        self._unreadable: list[int] = []
        self.rows: dict[str, ManifestRow] = self._read()

    @property
    def unreadable_copy(self) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return self.path.with_name(f"{self.path.stem}-unreadable-{stamp}{self.path.suffix}")

    def finished(self, input_path: str, output: str, model_sha256: str, settings: str) -> bool:
        """Whether ``input_path`` was analysed to ``output`` with this model and settings,
        and that CSV is still as it was written."""
        row = self.rows.get(input_path)
        if row is None or row.status != OK or row.output != output:
            return False
        if row.model_sha256 != model_sha256 or row.settings != settings:
            return False
        try:
            return (self.folder / output).stat().st_size == row.output_bytes
        except OSError:
            return False

    def record(self, row: ManifestRow) -> None:
        """Append ``row`` (the input's latest) and sync it to disk."""
        self.rows[row.input] = row
        try:
            new = not self.path.exists()
            with os.fdopen(open_append(self.path), "a", newline="", encoding="utf-8",
                           errors=NAME_ERRORS) as file:
                file.write(_lines([row], header=new))
                file.flush()
                os.fsync(file.fileno())
        except OSError as error:
            self._failed(error)

    def rewrite(self) -> bool:
        """One row per input, sorted, replacing the file in one rename; False (and
        ``error``) when it cannot be written, the file then left as it was."""
        rows = sorted(self.rows.values(), key=lambda row: row.output)
        try:
            if self._unreadable:
                copy = write_bytes_staged(self.unreadable_copy, self._original, replace=False)
                lines = ", ".join(map(str, self._unreadable[:5])) + " ..." * (len(self._unreadable) > 5)
                log.warning("%s: lines %s could not be read; their inputs will be analysed again, "
                            "and the file as it was is kept as %s", printable(self.path), lines,
                            printable(copy))
                self._unreadable = []
            write_bytes_staged(self.path, _lines(rows, header=True).encode("utf-8", NAME_ERRORS))
        except OSError as error:
            self._failed(error)
            return False
        return True

    def _failed(self, error: OSError) -> None:
        full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        self.error = (f"cannot write {printable(self.path)}: {error.strerror or error}; it keeps "
                      f"the rows written before. {'Free some space' if full else 'Fix that'} and "
                      "run the same command again: what has no row is analysed again")
        log.error("%s", self.error)

    def _read(self) -> dict[str, ManifestRow]:
        try:
            self._original = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise ValueError(f"{printable(self.path)} cannot be read ({error.strerror or error}); "
                             "fix its permissions, or choose another --out") from None
        text = self._original.decode("utf-8", NAME_ERRORS)  # names byte for byte
        if text and not text.endswith("\n"):  # the last append was cut off
            text = text[:text.rfind("\n") + 1]
        rows: dict[str, ManifestRow] = {}
        reader = csv.reader(io.StringIO(text))
        header: list[str] | None = None
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error:  # a field over the 128 KiB limit: nothing this app wrote
                self._unreadable.append(reader.line_num)
                continue
            if header is None:
                header = cells
                continue
            try:
                named = dict(zip(header, cells, strict=True))
                row = ManifestRow(**{name: _value(name, plain_cell(named[name])) for name in COLUMNS})
            except (KeyError, TypeError, ValueError):
                self._unreadable.append(reader.line_num)
                continue
            rows[row.input] = row  # a later row for the same input replaces an earlier one
        return rows


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, which names the model exactly (two files may share a name)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _value(name: str, text: str):
    return _NUMBERS[name](text) if name in _NUMBERS else text


def _lines(rows: list[ManifestRow], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    for row in rows:
        values = asdict(row)
        writer.writerow(safe_cell(_cell(values[name])) for name in COLUMNS)
    return buffer.getvalue()


def _cell(value) -> object:
    return f"{value:.3f}" if isinstance(value, float) else value
