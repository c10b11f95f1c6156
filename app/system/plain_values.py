"""Plain values read from files anyone can write (model cards, checkpoints, settings):
each checked for its type, never coerced, and numbers finite.

``bool("false")`` is True, ``tuple("abc")`` three labels, ``int(1e400)`` an OverflowError
and ``float("nan")`` passes every ``min``/``max`` clamp, so a value is taken only when it
already has the type it stands for. ``strict_json`` parses JSON the same way: no
``NaN``/``Infinity``, no number too large for 64 bits, and a bounded nesting depth.
Each refusal is a TypeError or ValueError naming the field, its value ``quoted`` short.
"""

from __future__ import annotations

import json
import math

MAX_DEPTH = 32
"""Deepest nesting of lists and objects ``strict_json`` accepts (cards nest 3 deep)."""
LARGEST_INTEGER = 2 ** 63
"""Integers ``strict_json`` accepts are smaller than this in size (a float's range is wider)."""


def strict_json(text: str, max_depth: int = MAX_DEPTH):
    """``json.loads(text)`` without NaN, Infinity or numbers too large for a float, nested
    at most ``max_depth`` deep; ValueError otherwise."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float,
                           parse_int=_bounded_int)
    except RecursionError:
        raise ValueError(f"nested more than {max_depth} deep") from None
    if _depth(value) > max_depth:
        raise ValueError(f"nested more than {max_depth} deep")
    return value


def whole_number(name: str, value: object) -> int:
    """``value`` if it is an integer (not a bool); TypeError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, got {quoted(value)}")
    return value


def finite_number(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number (not a bool); TypeError or ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {quoted(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer past the largest float
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {quoted(value)}")
    return number


def flag(name: str, value: object) -> bool:
    """``value`` if it is true or false; TypeError otherwise (the text "false" is not false)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, got {quoted(value)}")
    return value


def text_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text, got {quoted(value)}")
    return value


def value_list(name: str, value: object) -> list | tuple:
    """``value`` if it is a list (a text is not a list of its characters); TypeError otherwise."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list, got {quoted(value)}")
    return value


def quoted(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to about ``limit`` characters (control characters escaped), for
    messages about bad values."""
    try:
        text = repr(value)
    except ValueError:  # an integer of more than 4,300 digits
        return "a number too long to show"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def json_object(name: str, value: object) -> dict:
    """``value`` if it is a JSON object (a dict with text keys); TypeError otherwise."""
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise TypeError(f"{name} must be an object of named values, got {quoted(value)}")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{quoted(text)} is too large for a number")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) >= LARGEST_INTEGER:
        raise ValueError(f"{quoted(text)} is too large for a number")
    return value


def _depth(value) -> int:
    """How deep lists and objects nest in ``value`` (0 for a plain value), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest
