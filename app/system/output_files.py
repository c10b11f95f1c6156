"""Every file the app and training write: created exclusively, never through a link, and
(where a reader must never see half of it) written under a hidden name and renamed into
place.

A results folder may be shared (docs/batch.md suggests one on a cluster), so a name in
it may already be a link someone planted: opening it with ``O_TRUNC`` would write
through the link into whatever it points to. So:

- ``create_new`` makes a file that did not exist (``O_CREAT | O_EXCL | O_NOFOLLOW``: a
  link there, dangling or not, is refused); ``open_append`` appends without following a
  link; ``create_output`` is what a recording opens: a device or pipe as it is, an
  existing file replaced only when asked, by unlinking it first;
- ``Staged`` writes a file in a private folder beside its destination (made by ``mkdir``
  with mode 0700: exclusive, and nobody else can plant anything inside) under the
  destination's own name, so every writer (``torch.save``, ``onnx.save_model``,
  ``np.savez``, the CSV recorder) writes by path as it likes; ``commit`` renames it over
  the destination (``rename`` replaces a link itself, never its target) or, without
  ``replace``, links it there only if the name is free. The folder is hidden
  (``.NAME.PID.RANDOM.partial``): no model list (``*.onnx``) or input walk shows it;
  it is removed on every exit: an exception, Ctrl+C, and SIGTERM or SIGHUP where
  their handler is the default one (which would end the process with no cleanup).
  Only ``kill -9`` can leave it, hidden.
"""

from __future__ import annotations

import errno
import glob
import logging
import os
import secrets
import shutil
import signal
import stat
import threading
from pathlib import Path

log = logging.getLogger(__name__)

STAGE_SUFFIX = ".partial"
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOSE_ON_EXEC = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def create_new(path: str | os.PathLike, mode: int = 0o644) -> int:
    """A descriptor open for writing on a new file at ``path``; FileExistsError when
    anything is there already (a file, a folder, a link dangling or not)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW | _CLOSE_ON_EXEC, mode)


def open_append(path: str | os.PathLike, mode: int = 0o644) -> int:
    """A descriptor appending to ``path`` (created when missing), never through a link
    (OSError ELOOP for one)."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NO_FOLLOW | _CLOSE_ON_EXEC, mode)


def create_output(path: str | os.PathLike, overwrite: bool, mode: int = 0o644) -> int:
    """What a recording writes to: a device or pipe (``/dev/null``, a FIFO, also through a
    link such as ``/dev/stdout``) opened as it is; otherwise a new file, an existing one
    (or a link) replaced by one only when ``overwrite`` (FileExistsError otherwise)."""
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    try:
        special = not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        special = False
    if special:  # no O_CREAT, no O_TRUNC: swapped for a regular file meanwhile, nothing is lost
        descriptor = os.open(path, os.O_WRONLY | _CLOSE_ON_EXEC)
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return descriptor
        os.close(descriptor)
    if overwrite and os.path.lexists(path):
        os.unlink(path)  # the name, never what a link there points to
    return create_new(path, mode)


class Staged:
    """A file being written beside ``destination``: write to ``path``, then ``commit``;
    ``discard`` (or leaving a ``with`` block) removes whatever was not committed."""

    def __init__(self, destination: str | os.PathLike, replace: bool = True) -> None:
        self.destination = Path(destination)
        self.replace = replace
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        self.folder = _private_folder(self.destination)
        self.path = self.folder / self.destination.name
        self.committed = False
        _watch(self.folder)

    def commit(self) -> Path:
        """Move the written file to its destination; FileExistsError (the file stays
        staged until ``discard``) when it may not replace what is there."""
        if not os.path.lexists(self.path):
            raise FileNotFoundError(f"{self.path}: nothing was written to {self.destination}")
        if self.replace:
            os.replace(self.path, self.destination)
        else:
            _link_if_free(self.path, self.destination)
        self.committed = True
        self.discard()
        return self.destination

    def discard(self) -> None:
        """Remove the private folder and what is left in it; safe to call twice."""
        _discard(self.folder)
        _unwatch(self.folder)

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


def write_bytes_staged(destination: str | os.PathLike, data: bytes, replace: bool = True) -> Path:
    """``data`` written whole to ``destination``, or nothing changed there."""
    with Staged(destination, replace) as stage:
        descriptor = create_new(stage.path)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        return stage.commit()


def private_folder(path: str | os.PathLike) -> Path:
    """``path`` as a folder only this user can enter (made with mode 0700, parents as
    usual); ValueError for a link there, or a folder of another user or open to others
    that cannot be closed: what is kept in it (a model a worker loads) must be trusted."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    found = os.lstat(path)
    if not stat.S_ISDIR(found.st_mode):
        raise ValueError(f"{path} is a link or not a folder; a private folder was expected there")
    if hasattr(os, "getuid") and found.st_uid != os.getuid():
        raise ValueError(f"{path} belongs to another user; a private folder was expected there")
    if stat.S_IMODE(found.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def cache_path(name: str) -> Path:
    """``$XDG_CACHE_HOME/emotion-live/NAME`` (``~/.cache`` without the variable); not made."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emotion-live" / name


def discard_staged(destination: str | os.PathLike, pid: int | None = None) -> None:
    """Remove what a process (``pid``; default: every process no longer running) left
    staged for ``destination``: a worker that was killed, or a crash."""
    destination = Path(destination)
    pattern = f".{glob.escape(destination.name[:80])}.*{STAGE_SUFFIX}"
    for folder in destination.parent.glob(pattern):
        owner = folder.name[len(destination.name[:80]) + 2:].split(".")[0]
        if owner.isdigit() and (int(owner) == pid if pid is not None else not _running(int(owner))):
            _discard(folder)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def _private_folder(destination: Path) -> Path:
    """A new folder beside ``destination`` that only this user can enter."""
    stem = destination.name[:80]
    while True:
        folder = destination.with_name(f".{stem}.{os.getpid()}.{secrets.token_hex(4)}{STAGE_SUFFIX}")
        try:
            folder.mkdir(mode=0o700)
            return folder
        except FileExistsError:
            continue


def _link_if_free(source: Path, destination: Path) -> None:
    """``source`` under ``destination`` too, only if nothing is there (atomically where
    the file system has hard links)."""
    try:
        os.link(source, destination, follow_symlinks=False)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "the file already exists", str(destination)) from None
    except OSError:  # no hard links here: a check, then a rename
        if os.path.lexists(destination):
            raise FileExistsError(errno.EEXIST, "the file already exists", str(destination)) from None
        os.replace(source, destination)


def _discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


_live_folders: set[Path] = set()
_watch_lock = threading.Lock()
_replaced_handlers: dict[int, object] = {}


def _watch(folder: Path) -> None:
    """Track ``folder``; while any is tracked, SIGTERM and SIGHUP whose handler is the
    default one (which ends the process with no cleanup) remove them first. A handler the
    program set itself (a cooperative stop) is left alone: the stop unwinds ``staged``
    blocks as it goes. Handlers can only change on the main thread."""
    with _watch_lock:
        _live_folders.add(folder)
        if _replaced_handlers or threading.current_thread() is not threading.main_thread():
            return
        for signum in _ENDING_SIGNALS:
            if signal.getsignal(signum) is signal.SIG_DFL:
                _replaced_handlers[signum] = signal.signal(signum, _end_after_cleanup)


def _unwatch(folder: Path) -> None:
    with _watch_lock:
        _live_folders.discard(folder)
        if _live_folders or threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in _replaced_handlers.items():
            if signal.getsignal(signum) is _end_after_cleanup:
                signal.signal(signum, handler)
        _replaced_handlers.clear()


def _end_after_cleanup(signum, _frame) -> None:
    for folder in list(_live_folders):
        _discard(folder)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
