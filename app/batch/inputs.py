"""What a batch analyses, and where each CSV goes.

An input on the command line is a video file (any extension: the user named it), an
image file, or a folder. A folder is walked recursively: each video file in it (by
extension, ``VIDEO_EXTENSIONS``) is one input, and each folder holding images is one
input too, read as ``--source FOLDER`` reads it (its own images, in name order). Names
starting with a dot are passed over: hidden files and macOS's ``._clip.mp4`` companions
are not recordings.

Outputs mirror the input tree under ``--out``: ``rec/day1/clip.mp4`` given as ``rec``
becomes ``OUT/rec/day1/clip.csv``, and an image folder ``rec/day1/photos`` becomes
``OUT/rec/day1/photos.csv``. Where two inputs would get the same CSV (``clip.mp4`` and
``clip.mov`` side by side), both keep their extension (``clip.mp4.csv``); so does an input
whose CSV would be ``manifest.csv`` or a folder the tree needs. Case is ignored in
these comparisons.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from app.batch.manifest import MANIFEST_NAME
from app.sources.base import IMAGE_EXTENSIONS
from app.system.file_names import printable

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".wmv", ".mpg", ".mpeg", ".flv",
    ".ts", ".mts", ".m2ts", ".3gp", ".ogv"})
"""What a folder walk takes as a video (the window's file dialog offers the same and a few more)."""
CSV_SUFFIX = ".csv"


@dataclass(frozen=True)
class BatchInput:
    """One source of the batch and the CSV it gets."""

    path: Path
    """The video file, image file or image folder, absolute (links not followed)."""
    output: PurePosixPath
    """The CSV, relative to ``--out`` (``/``-separated, as the manifest records it)."""
    kind: str
    """``video``, ``image`` or ``folder``."""


def find_inputs(paths: Iterable[str | Path]) -> list[BatchInput]:
    """Every input under ``paths``, in a stable order, each once. Raises ValueError for a
    path that does not exist, for nothing to analyse, and for two inputs that cannot be
    told apart by their output name."""
    found: dict[Path, tuple[PurePosixPath, str]] = {}
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise ValueError(f"{given}: no such file or folder (give video files, image files "
                             "or folders of either)")
        path = Path(os.path.abspath(path))  # not resolved: a linked clip keeps its own name
        if path.is_dir():
            entries = list(_walk(path))
            if not entries:
                raise ValueError(f"{given}: no videos ({', '.join(sorted(VIDEO_EXTENSIONS))}) or "
                                 f"images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in this folder")
        else:
            kind = "image" if path.suffix.lower() in IMAGE_EXTENSIONS else "video"
            entries = [(path, PurePosixPath(path.name), kind)]
        for source, relative, kind in entries:
            found.setdefault(source, (relative, kind))  # overlapping inputs: the first wins
    return _named(found)


def _walk(root: Path) -> Iterable[tuple[Path, PurePosixPath, str]]:
    """(path, path relative to the root's parent, kind) for each input under ``root``."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        here = Path(folder)
        relative = PurePosixPath(root.name, *here.relative_to(root).parts)
        visible = sorted(name for name in files if not name.startswith("."))
        if any(Path(name).suffix.lower() in IMAGE_EXTENSIONS for name in visible):
            yield here, relative, "folder"
        for name in visible:
            if Path(name).suffix.lower() in VIDEO_EXTENSIONS:
                yield here / name, relative / name, "video"


def _named(found: dict[Path, tuple[PurePosixPath, str]]) -> list[BatchInput]:
    """Each input's CSV name: its stem, or its whole name where that would collide with
    another CSV, with the manifest, or with a folder the output tree needs (``a.csv/``
    for ``a.csv/clip.mp4`` beside ``a.mp4``). Names are compared as a file system that
    ignores case would, so the outputs stay apart on every one. ValueError for a
    collision that keeping the extension does not resolve."""
    by_output: dict[str, list[Path]] = defaultdict(list)
    for path, (relative, kind) in found.items():
        by_output[_key(_csv_name(relative, kind, keep_suffix=False))].append(path)
    folders = {_key(parent) for relative, kind in found.values()
               for parent in _csv_name(relative, kind, False).parents}
    reserved = folders | {_key(PurePosixPath(MANIFEST_NAME))}
    inputs: list[BatchInput] = []
    taken: dict[str, Path] = {}
    for path, (relative, kind) in found.items():
        plain = _key(_csv_name(relative, kind, False))
        output = _csv_name(relative, kind, keep_suffix=len(by_output[plain]) > 1 or plain in reserved)
        clash = (printable(taken[_key(output)]) if _key(output) in taken else "a folder of the output tree"
                 if _key(output) in folders else "the manifest" if _key(output) in reserved else None)
        if clash:
            raise ValueError(f"{printable(path)} would be written to {printable(output)}, which "
                             f"{clash} needs too; rename one, or analyse them into separate --out "
                             "folders")
        taken[_key(output)] = path
        inputs.append(BatchInput(path, output, kind))
    return sorted(inputs, key=lambda item: str(item.output))


def _key(output: PurePosixPath) -> str:
    return str(output).casefold()


def _csv_name(relative: PurePosixPath, kind: str, keep_suffix: bool) -> PurePosixPath:
    """``clip.mp4`` -> ``clip.csv`` (``clip.mp4.csv`` with ``keep_suffix``); a folder
    ``photos`` -> ``photos.csv`` (a dot in a folder's name is not an extension)."""
    if kind == "folder" or keep_suffix or not relative.suffix:
        return relative.with_name(relative.name + CSV_SUFFIX)
    return relative.with_suffix(CSV_SUFFIX)
