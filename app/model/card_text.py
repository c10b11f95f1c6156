"""Rules for a model card's strings, which reach the window, the terminal and the CSV.

A card is text from a file anyone can make. Its architecture name is shown under the
model menu, its dataset in the menu's accuracy, its labels on the bars, in the CSV's
column names and in its ``top_emotion`` cells. So each string is limited in length (a
50,000-character name once made the window 427,089 px wide), none may hold control or
invisible formatting characters (a newline splits a CSV cell over lines, a bidi
override reorders what is shown), and a label must be a plain name: a letter or digit
first, then letters, digits, spaces, ``_`` or ``-``, which also keeps a label from
starting a spreadsheet formula (``=``, ``+``, ``-``, ``@``). Values quoted in a refusal
are shortened, so the message itself stays readable.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_NAME = 64
"""Longest architecture name or version."""
MAX_TEXT = 300
"""Longest dataset description."""
MAX_LABEL = 32
LABEL = re.compile(r"[^\W_][\w \-]*")
"""A label: a letter or digit (any script), then letters, digits, spaces, ``_``, ``-``."""
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories never shown: controls, format (bidi) marks, unassigned, separators."""


def quoted(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut to about ``limit`` characters (control characters escaped)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(str(value))} characters)"


def text_problems(name: str, value: str, limit: int) -> list[str]:
    """Why ``value`` cannot be shown as the card's ``name``; empty when it can."""
    problems = []
    if len(value) > limit:
        problems.append(f"{name} is {len(value)} characters long; at most {limit} are allowed")
    hidden = sorted({f"U+{ord(char):04X}" for char in value if unicodedata.category(char) in _HIDDEN})
    if hidden:
        problems.append(f"{name} {quoted(value)} holds control or invisible characters "
                        f"({', '.join(hidden[:5])})")
    return problems


def label_problems(labels: Iterable[str]) -> list[str]:
    """Why these labels cannot be columns and bars; empty when they can."""
    bad = [label for label in labels if len(label) > MAX_LABEL or not LABEL.fullmatch(label)]
    if not bad:
        return []
    return [f"labels must be names of at most {MAX_LABEL} letters, digits, spaces, '_' or '-', "
            f"starting with a letter or digit; got {', '.join(quoted(label) for label in bad[:3])}"]
