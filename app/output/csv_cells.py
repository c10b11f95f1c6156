"""CSV cells that a spreadsheet shows as text, never runs as a formula.

A timeline's text cells come from outside the app's control: a typed marker, an image
or model file's name, a model card's labels. Excel, LibreOffice and Google Sheets run a
cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before
one) as a formula, so such text gets a leading apostrophe, as OWASP advises; numbers,
negative ones included, stay as they are, and ``plain_cell`` undoes it on reading.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value``, with an apostrophe before text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def plain_cell(text: str) -> str:
    """A cell as it was before ``safe_cell`` guarded it."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
