"""Pure text helpers of the normaliser: clean text, canonical URLs, dates, dedupe keys, slugs.

Nothing here reads the clock: a `now` is passed in where plausibility needs one.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tracker.redact import is_secret_param

# One definition for every stage (tracker.textutil); re-exported for the normaliser's callers.
from tracker.textutil import clean_text as clean_text
from tracker.textutil import fold as fold
from tracker.textutil import fold_spaced as fold_spaced
from tracker.textutil import slugify as slugify

log = logging.getLogger(__name__)

# --- URLs ------------------------------------------------------------------------------------

# Query parameters that only say where a click came from. Matched case-insensitively;
# a name ending in "*" is a prefix (AWS marketing links use many sc_* and trk* variants).
TRACKING_PARAMS: tuple[str, ...] = (
    "utm_*",
    "trk",
    "trk*",
    "sc_*",
    "si",
    "ref",
    "ref_",
    "ref_src",
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "s_kwcid",
    "ef_id",
    "cmpid",
    "wt.mc_id",
    "ncid",
    "spm",
    "_ga",
    "_gl",
)
_YOUTUBE_HOSTS = {
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
    "youtube-nocookie.com",
    "www.youtube-nocookie.com",
}
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    name = name.lower()
    for pattern in TRACKING_PARAMS:
        if pattern.endswith("*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


def _youtube_video(host: str, path: str, query: str) -> str | None:
    """The video id of a YouTube video URL (watch, youtu.be, embed, shorts, live), else None."""
    candidate: str | None = None
    if host == "youtu.be":
        candidate = path.strip("/").split("/")[0]
    elif host in _YOUTUBE_HOSTS:
        if path.rstrip("/") == "/watch":
            candidate = next((v for k, v in parse_qsl(query) if k == "v"), None)
        else:
            m = re.match(r"^/(?:embed|live|shorts|v)/([^/]+)", path)
            candidate = m.group(1) if m else None
    return candidate if candidate and _YOUTUBE_ID.match(candidate) else None


def canonical_url(url: str) -> str:
    """The canonical form of a URL: lower-case scheme and host, no fragment, no tracking
    parameters, other parameters sorted; YouTube videos as https://www.youtube.com/watch?v=ID."""
    url = (url or "").strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not scheme or not host:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    video = _youtube_video(host, parts.path, parts.query)
    if video:
        return f"https://www.youtube.com/watch?v={video}"
    netloc = host
    if parts.username or parts.password:
        netloc = f"{parts.username or ''}{':' + parts.password if parts.password else ''}@{host}"
    if port and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    if host in _YOUTUBE_HOSTS:
        params = [(k, v) for k, v in params if k not in {"feature", "pp", "t"}]
    query = urlencode(sorted(params))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


# --- dates -----------------------------------------------------------------------------------

_DATE_LABEL = re.compile(r"^\s*(?:posted|published|updated|last\s+updated|date)(?:\s+on)?\s*:?\s*", re.IGNORECASE)
_ORDINAL = re.compile(r"(?<=\d)(?:st|nd|rd|th)\b", re.IGNORECASE)
_DATE_FORMATS = (
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d %b %Y %H:%M",
    "%b %d %Y %H:%M",
    "%B %d %Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%b %Y",
    "%B %Y",
)


# Controls, DEL, spaces and the characters a published link must not carry.
_UNSAFE_URL_CHAR = re.compile(r'[\x00-\x1f\x7f<>"\s]')


def public_url(url: str | None) -> str | None:
    """A URL fit to publish: http(s) with a host, without credentials or secret parameters,
    in canonical form; None for anything else (a local path, file://, javascript:, mailto:)."""
    if not url:
        return None
    return _public_url(url)


# Every record read (a page of the API, a feed) passes its URLs here, and the same URLs come
# again and again (a listing page is the source of a hundred announcements): remembered.
@functools.lru_cache(maxsize=16384)
def _public_url(url: str) -> str | None:
    text = url.strip()
    if not text:
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if _UNSAFE_URL_CHAR.search(text):
        return None
    netloc = parts.hostname.lower()
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_secret_param(k)])
    return canonical_url(urlunsplit((parts.scheme.lower(), netloc, parts.path, query, parts.fragment)))


def _as_utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def _parse_text(text: str) -> datetime | None:
    text = _DATE_LABEL.sub("", clean_text(text)).strip()
    if not text:
        return None
    if re.search(r"[A-Za-z]{3},?\s+\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d", text) or re.search(
        r"\d{2}:\d{2}(:\d{2})?\s*(?:[+-]\d{4}|GMT|UT|UTC|[A-Z]{3})$", text
    ):
        # email.utils (with the email package) is imported here, not by every store query.
        from email.utils import parsedate_to_datetime

        try:
            dt = parsedate_to_datetime(text)
            if dt is not None:
                return _as_utc(dt)
        except (TypeError, ValueError, IndexError):
            pass
    iso = text[:-1] + "+00:00" if text[-1:] in "Zz" and re.match(r"^\d{4}-\d{2}-\d{2}", text) else text
    try:
        return _as_utc(datetime.fromisoformat(iso))
    except ValueError:
        pass
    m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})\b", text)
    if m:
        try:
            return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
        except ValueError:
            return None
    cleaned = " ".join(_ORDINAL.sub("", text).replace(",", " ").split())
    cleaned = re.sub(r"\s*(?:UTC|GMT|Z)$", "", cleaned)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned.title(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def parse_date(value: str | datetime | None, *, now: datetime | None = None) -> datetime | None:
    """An aware UTC datetime from RFC 822, ISO 8601 or a written date ("Posted On: Dec 23, 2019",
    "30 NOV 2025"); naive means UTC; None when unreadable, or more than a day after `now`."""
    if value is None:
        return None
    if isinstance(value, datetime):
        result: datetime | None = _as_utc(value)
    else:
        result = _parse_text(value)
    if result is not None and now is not None and result > _as_utc(now) + timedelta(days=1):
        # A date in the future is a typo or a placeholder, not a launch date.
        log.debug("implausible future date %s (now %s)", result, now)
        return None
    return result


# --- dedupe keys -----------------------------------------------------------------------------

_NUMBER_WORDS = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|all|more|additional|new|select|multiple|several)"
# Leading words that say "this is a launch" (or name the vendor) rather than what launched.
_LEAD = re.compile(
    r"^(?:announcing|announces|announced|introducing|introduces|launching|launches|launch of|unveiling|"
    r"new|now|today|the|amazon|aws|amazon web services|general availability of|availability of|preview of|"
    r"public preview of|ga of|welcome)\s+"
)
# Trailing words that say the launch's stage or reach rather than what launched.
_TAIL = re.compile(
    r"\s+(?:"
    r"(?:is|are)?\s*(?:now\s+)?(?:generally\s+available|available|ga|live|here|released|launched)"
    rf"(?:\s+(?:in|to|across)\s+(?:the\s+)?{_NUMBER_WORDS}(?:\s+(?:additional|more|new|aws|commercial))*\s+(?:aws\s+)?regions?)?"
    r"(?:\s+(?:in|as)\s+(?:a\s+)?(?:public\s+|limited\s+|gated\s+)?preview)?"
    rf"|(?:now\s+)?(?:available\s+)?(?:in|to|across)\s+(?:the\s+)?{_NUMBER_WORDS}(?:\s+(?:additional|more|new|aws|commercial))*\s+(?:aws\s+)?regions?"
    r"|(?:is\s+|are\s+)?(?:now\s+)?(?:in|enters|available\s+in)\s+(?:public\s+|limited\s+|gated\s+)?preview"
    r"|preview|launches|launched|ga|generally\s+available|now"
    r")$"
)
# The last word of every text `_TAIL` matches: a text ending otherwise is not searched (the
# search tries the pattern at each space of the text).
_TAIL_LAST = frozenset("available ga live here released launched region regions preview launches now".split())


# Remembered: dedupe compares each new launch's title with hundreds of stored ones, and
# normalising, keying and comparing a title each ask for its key.
@functools.lru_cache(maxsize=65536)
def title_key(title: str) -> str:
    """The dedupe text of a title: lower-case ASCII words without launch wording, so
    "Announcing Amazon X" and "Amazon X is now generally available" share a key."""
    text = fold(clean_text(title)).lower()
    text = re.sub(r"\((?:preview|public preview|ga|generally available)\)", " ", text)
    text = re.sub(r"(?<=[a-z0-9])['’:](?=[a-z0-9])", "", text)
    text = re.sub(r"(?<=\d)\.(?=\d)", "", text)  # "2.0" → "20", not "2 0"
    text = " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())
    full = text
    previous = None
    while previous != text:
        previous = text
        text = _LEAD.sub("", text + " ").strip() if _LEAD.match(text + " ") else text
        if text.rpartition(" ")[2] in _TAIL_LAST:
            text = _TAIL.sub("", text).strip()
    # A title that is nothing but launch wording keeps its own words as its key.
    return text or full


def announcement_key(title: str, services: Sequence[str] = ()) -> str:
    """The stable id of a launch: the first 16 hex digits of SHA-1 of its title_key with the
    spaces between words removed, so that one launch written with its words split or joined in
    different documents ("Code Catalyst" in a recap, "CodeCatalyst" in a post; "Graviton 4" and
    "Graviton4") gets one key.

    `services` is accepted but deliberately ignored: services come from a taxonomy that keeps
    improving, and a key that changed with it would re-publish every feed entry.
    """
    del services
    return hashlib.sha1(title_key(title).replace(" ", "").encode("utf-8")).hexdigest()[:16]
