"""File names as the app shows them and stores them, whatever bytes they hold.

On Linux a file name is bytes; Python hands a name that is not valid UTF-8 over as text
with lone surrogates in place of the bad bytes (PEP 383). Such text cannot be encoded as
UTF-8, so it crashes what tries (OpenCV's binding segfaults; a strict text file raises),
and a name can also hold terminal escape sequences. Two rules follow:

- what the app stores (manifest, timeline CSV) holds a name byte for byte as the file
  system does: written and read with ``NAME_ERRORS`` (``surrogateescape``), so a rerun
  finds the same file again; a reader such as pandas takes
  ``encoding_errors="surrogateescape"`` for such a file;
- what the app shows (terminal, log) is ``printable``: control characters and bytes
  that are not UTF-8 as ``\\xNN`` escapes, so a name never drives the terminal.
"""

from __future__ import annotations

import os
import unicodedata

NAME_ERRORS = "surrogateescape"
"""The ``errors`` of every text file that holds file names: names stay byte for byte."""


def is_utf8(name: str | os.PathLike) -> bool:
    """Whether ``name`` is valid Unicode text (OpenCV and strict UTF-8 files accept it)."""
    try:
        os.fspath(name).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(name: str | os.PathLike) -> str:
    """``name`` for a terminal or a log: each control character (ESC, newline, C1) and each
    byte that is not UTF-8 as ``\\xNN`` or ``\\uNNNN``; everything else as it is."""
    text = os.fspath(name)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    return "".join(_escaped(character) for character in text)


def _escaped(character: str) -> str:
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if unicodedata.category(character) in ("Cc", "Cs") or character in "\u2028\u2029":
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return character
