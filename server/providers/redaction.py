"""Secrets and URL credentials out of text that came from elsewhere (error bodies, exception messages),
and `provider_says`, the one door for every string a provider supplies.

A provider's error body may echo a request header, and an exception's text may hold a value escaped
(`\\n` as backslash-n, JSON or repr quoting) or cut into pieces (a `key_id:secret` pair, a key pasted
over two lines). `redact` removes every such form of each secret, and the password of any
`scheme://user:pass@host` URL, before the text reaches a tool answer, a log line or the journal.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit, urlunsplit

REDACTED = "[redacted]"
# A piece of a secret shorter than this is not removed on its own: short runs ("key", "v1") occur in
# ordinary words, and a fragment this short says little about the secret.
MIN_PART_CHARS = 8

# Where a secret may be cut: whitespace, control characters, and the `:` of fal's `key_id:secret`.
_SPLIT = re.compile(r"[\s\x00-\x1f\x7f:]+")
# `scheme://userinfo@` at the start of a URL anywhere in a text.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]*@")
# Key shapes whoever's they are: an Authorization value (`Key ...`, `Bearer ...`, `Basic ...`) and fal's
# `<uuid>:<hex>` key pair. Long tokens only, so ordinary words after "key" stay.
_KEY_SHAPES = re.compile(
    r"(?i)\b(?:key|bearer|basic|token)(?:\s*[:=]\s*|\s+)[\"']?[A-Za-z0-9._~+/=:-]{16,}"
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9a-f]{16,}\b"
)
# What may pose as a new line or message: control characters and Unicode's line separators.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
PROVIDER_TEXT_CHARS = 300  # a log line or error detail: enough to act on, too short to pose as a message


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` without any form of any of `secrets`, without credentials in URLs, and without anything
    shaped like an Authorization value or a fal key pair."""
    for secret in secrets:  # first: the exact forms of our own keys, wherever they are cut
        for form in secret_forms(secret):
            text = text.replace(form, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, _URL_USERINFO.sub(r"\1", text))


def one_line(text: str, limit: int = PROVIDER_TEXT_CHARS) -> str:
    """`text` on one line (breaks and control characters become spaces), at most `limit` characters."""
    flat = " ".join(_BREAKS.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def provider_says(provider: str, text: str, secrets: Iterable[str] = ()) -> str:
    """A provider's own words as we show and store them, wherever they appear (progress, status, errors,
    the journal): redacted (our keys in every form, and any key shape), one line, bounded, in quotes,
    attributed, so no line of it can pass for ours or for a new message."""
    words = one_line(redact(text, secrets)).replace("“", '"').replace("”", '"')
    return f"{provider} says: “{words}”"


def provider_quote(text: str, secrets: Iterable[str] = ()) -> str:
    """A provider's words inside a sentence that already names the provider: redacted, one line, bounded,
    quoted."""
    words = one_line(redact(text, secrets)).replace("“", '"').replace("”", '"')
    return f"“{words}”"


@functools.lru_cache(maxsize=32)
def secret_forms(secret: str) -> tuple[str, ...]:
    """Every form of `secret` that may turn up in text, longest first (so no form is half-replaced)."""
    if not secret:
        return ()
    pieces = {secret} | {part for part in _SPLIT.split(secret) if len(part) >= MIN_PART_CHARS}
    forms: set[str] = set()
    for piece in pieces:
        forms |= {
            piece,
            json.dumps(piece)[1:-1],  # JSON-escaped: \n, \", \\, \uXXXX
            json.dumps(piece, ensure_ascii=False)[1:-1],
            repr(piece)[1:-1],  # Python-escaped, as in an exception's repr
            piece.encode("unicode_escape").decode("ascii"),
            quote(piece, safe=""),  # percent-encoded, as in a query string
        }
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def strip_credentials(url: str) -> str:
    """`url` without its `user:password@` part; any other text is returned unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _URL_USERINFO.sub(r"\1", url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))
