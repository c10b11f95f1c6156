"""Stream URLs without their secrets, for what is stored, logged or shown.

A camera's URL often carries credentials: in its user information
(``rtsp://admin:secret@host/live``) or in its query (``...?user=admin&password=secret``,
``?token=...``). ``without_credentials`` drops both: the user information whole, and each
query parameter whose name says it is a secret (``SECRET_NAME``). Users type passwords
unencoded, with ``@``, ``?`` or ``:`` in them, which a strict URL parser takes for the
end of the user information; so the user information runs to the last ``@`` that a
host name follows, and is dropped even where a parser would see a host and a query.
The rest of the URL is kept as it was typed. The URL the capture opens is the one the
user gave; only copies are cleaned.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*://)(.*)$", re.IGNORECASE | re.DOTALL)
HOST = re.compile(r"(\[[0-9a-f:.]+\]|[\w.~%-]+)(:\d*)?(?=[/?#]|$)", re.IGNORECASE)
SECRET_NAME = re.compile(r"(pass\w*|pwd|.*password|.*passwd|.*token|.*key|.*secret|auth\w*|"
                         r".*signature|sig|credentials?|session\w*)", re.IGNORECASE)
"""A query parameter name (or one word of it: ``access_token``, ``authToken``) of a secret."""
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def without_credentials(spec: str) -> str:
    """``spec`` without a URL's user information and secret query parameters; anything
    that is not a URL (a path, a camera index) as it is."""
    match = SCHEME.match(spec)
    if not match:
        return spec
    scheme, rest = match.groups()
    rest = _without_userinfo(rest)
    base, question, query = rest.partition("?")
    if not question:
        return scheme + rest
    query, hash_mark, fragment = query.partition("#")
    kept = [piece for piece in query.split("&") if piece and not _secret(piece.partition("=")[0])]
    return scheme + base + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment


def _without_userinfo(rest: str) -> str:
    """``rest`` (what follows ``scheme://``) from its host on."""
    for position in reversed([index for index, character in enumerate(rest) if character == "@"]):
        before, after = rest[:position], rest[position + 1:]
        if "/" not in before and HOST.match(after):
            return after
    return rest


def _secret(name: str) -> bool:
    name = unquote(name)
    words = [name, *re.split(r"[^A-Za-z0-9]+", name), *_WORDS.findall(name)]
    return any(SECRET_NAME.fullmatch(word) for word in words if word)
