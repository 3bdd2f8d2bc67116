"""What may leave the process: URLs without their secrets, text without terminal controls.

One masking function serves logs, error messages, `tracker status`, feeds and the API, so a
secret removed in one place is removed in all. This module imports nothing of `tracker`: every
stage may use it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

# Query parameters that carry a secret: never published, never logged.
SECRET_PARAMS = re.compile(
    r"(?i)^(?:.*(?:token|secret|passw(?:or)?d|api[_-]?key|apikey|signature|credential|auth)|key|sig|code|session|"
    r"x-amz-.*)$"
)

# C0 and C1 controls (tab, newline and carriage return kept) and the bidirectional
# embeddings, overrides and isolates that can make a terminal or a reader show text that is
# not what is stored (U+202E turns "txt.exe" around).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def is_secret_param(name: str) -> bool:
    """Whether a query parameter's name says its value is a secret (token, key, password...)."""
    return bool(SECRET_PARAMS.match(name))


def mask_url(url: str | None) -> str:
    """The URL with user name, password and secret query values replaced by ***, for logs and errors."""
    text = str(url or "")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        # Unparseable: show no more than the scheme and what comes before any "@".
        return text.split("@", 1)[-1] if "@" in text else text
    netloc = parts.netloc
    if "@" in netloc and host is not None:
        shown = f"[{host}]" if ":" in host else host
        netloc = f"{MASK}@{shown}" + (f":{port}" if port is not None else "")
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, MASK if is_secret_param(k) else v) for k, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        # Nothing secret: the text as given (urlunsplit would fold "sqlite:////abs/path" to "sqlite://abs/path").
        return text
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# Whole escape sequences first (CSI "ESC [ ... final", OSC "ESC ] ... BEL or ESC \\"), so no
# "[2J" debris is left where a screen-clearing sequence was.
# The 8-bit forms too (C1 CSI U+009B, OSC U+009D), which some terminals still obey.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\|\x9c)?|\x1b[@-_]"
)


def strip_controls(text: str) -> str:
    """The text without escape sequences, C0/C1 controls (tab, newlines kept) and bidirectional overrides."""
    if not text:
        return text
    # Every character the two patterns remove is unprintable (Cc, Cf): a text printable but for
    # the tab and line breaks kept has none of them, and is found so in one pass in C instead
    # of two regex scans (every title and summary of a backfill goes through here).
    if text.replace("\n", "").replace("\r", "").replace("\t", "").isprintable():
        return text
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


# A URL inside free text (an error message, a redirect chain): a scheme, "://", then anything
# up to whitespace or a character that closes it in prose.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s'\"<>()\[\]{}]+")


def mask_text(text: str | None) -> str:
    """Free text (an error message) with every URL in it passed through `mask_url`."""
    if not text:
        return text or ""

    def masked(match: re.Match[str]) -> str:
        url = match.group(0)
        # Punctuation that ends the sentence is not part of the URL.
        trail = len(url) - len(url.rstrip(".,;:!?"))
        return mask_url(url[: len(url) - trail]) + url[len(url) - trail :]

    return _URL_IN_TEXT.sub(masked, text)
