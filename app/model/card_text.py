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
from collections.abc import Iterable, Mapping

from app.system.plain_values import finite_number, quoted

MAX_NAME = 64
"""Longest architecture name or version."""
MAX_TEXT = 300
"""Longest dataset description."""
MAX_LABEL = 32
LABEL = re.compile(r"[^\W_][\w \-]*")
"""A label: a letter or digit (any script), then letters, digits, spaces, ``_``, ``-``."""
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories never shown: controls, format (bidi) marks, unassigned, separators."""


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


RESERVED_MEMBER_NAMES = ("emotion", "emotion_smoothed", "probability")
"""Member names that would repeat a column: an ensemble's ``top_<member>`` column beside
the timeline's own ``top_emotion``, ``top_emotion_smoothed`` and ``top_probability``
(``app.output.timeline_columns``, whose test keeps the two in step)."""


def member_problems(members: object) -> list[str]:
    """Why an ensemble's ``training["members"]`` cannot name CSV columns: each must be an
    object whose ``name`` is a label-like name (no ``=``, no newline), unique whatever the
    case, and not one that repeats a column; empty when they can (or when there are none)."""
    if members is None:
        return []
    if not isinstance(members, list) or not all(
            isinstance(member, Mapping) and isinstance(member.get("name"), str) for member in members):
        return [f"training.members must be a list of objects with a name, got {quoted(members)}"]
    names = [member["name"] for member in members]
    problems = [problem.replace("labels", "member names", 1) for problem in label_problems(names)]
    folded = [name.casefold() for name in names]
    if len(set(folded)) != len(folded):
        problems.append(f"member names must differ (whatever the case), got {quoted(names, 200)}")
    reserved = sorted({name for name in names if name.casefold() in RESERVED_MEMBER_NAMES})
    if reserved:
        problems.append(f"member names {reserved} would repeat a CSV column (top_<member> beside "
                        f"top_{', top_'.join(RESERVED_MEMBER_NAMES)})")
    return problems


FRACTIONS = ("accuracy", "f1")
"""A metric whose name ends so is a fraction in [0, 1]; ``..._change`` is one in [-1, 1]."""


def metric_problems(metrics: Mapping[str, object]) -> list[str]:
    """Why these metrics cannot be listed and ranked: each a named finite number (a
    fraction in range where its name says so); empty when they can."""
    problems = []
    for name, value in metrics.items():
        if not isinstance(name, str) or text_problems("a metric name", name, MAX_NAME):
            problems.append(f"metric name {quoted(name)} is not a short plain name")
        elif not _finite(value):
            problems.append(f"metric {name} must be a finite number, got {quoted(value)}")
        elif name.endswith("_change") and not -1.0 <= value <= 1.0:
            problems.append(f"metric {name} must be a change of a fraction, in [-1, 1], got {value!r}")
        elif name.endswith(FRACTIONS) and not 0.0 <= value <= 1.0:
            problems.append(f"metric {name} must be a fraction in [0, 1], got {quoted(value)}")
    return problems


def _finite(value: object) -> bool:
    try:
        finite_number("", value)
    except (TypeError, ValueError):
        return False
    return True
