"""Small pure helpers shared by the extractors: decoding, whitespace, URLs, dates, events."""

from __future__ import annotations

import codecs
import html
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import parse_qs, urljoin, urlsplit

from tracker.extract.rules import Rules
from tracker.textutil import slugify as slugify  # one definition for every stage

log = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHARSET_CT = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_CHARSET_XML = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([\w.:-]+)["']""", re.IGNORECASE)
_CHARSET_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_YT_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(body: bytes | str, content_type: str | None = None) -> str:
    """Bytes to text: BOM, then the content type's charset, then an XML/HTML declaration, then UTF-8."""
    if isinstance(body, str):
        return body.lstrip("\ufeff")
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    candidates: list[str] = []
    if content_type:
        m = _CHARSET_CT.search(content_type)
        if m:
            candidates.append(m.group(1))
    head = body[:4096]
    for pattern in (_CHARSET_XML, _CHARSET_META):
        declared = pattern.search(head)
        if declared:
            candidates.append(declared.group(1).decode("ascii", errors="replace"))
    for name in candidates:
        codec = _codec(name)
        if codec is None:
            continue
        try:
            return body.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        # A declared charset that lied, or none: keep what can be read.
        return body.decode("utf-8", errors="replace")


def collapse(text: str | None) -> str:
    """Whitespace runs to one space, zero-width characters removed, trimmed."""
    if not text:
        return ""
    # str.split() splits on exactly what `\s` matches (str.isspace), and is several times faster
    # than a substitution on text with many spaces (every launch's summary window is collapsed).
    return " ".join(_ZERO_WIDTH.sub("", text).split())


def unescape(text: str) -> str:
    """HTML entities decoded, twice when the source escaped them twice (&amp;nbsp;)."""
    once = html.unescape(text)
    if "&" in once and re.search(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});", once):
        once = html.unescape(once)
    return once.replace("\xa0", " ")


@lru_cache(maxsize=65536)
def norm_words(text: str) -> str:
    """Lower-case alphanumeric words joined by single spaces: how titles are compared."""
    # Cached: each title is compared several times (merge, describe, choose).
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def strip_trailing_punct(text: str) -> str:
    """A title without the punctuation that closed its sentence or label."""
    text = text.strip().rstrip(" .,:;!?-–—").strip()
    for left, right in (('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’")):
        if len(text) > 2 and text.startswith(left) and text.endswith(right):
            text = text[1:-1].strip()
    return text


# A page title's site name after a bar: "Amazon Kelp DB is now available | AWS News Blog".
_SITE_SUFFIX = re.compile(r"\s+[|｜]\s+[^|｜]*\b(?:blog|news|aws|amazon web services)\b[^|｜]*$", re.IGNORECASE)


def strip_site_name(title: str) -> str:
    """A link text copied from a page title, without the site's name after its bar."""
    stripped = _SITE_SUFFIX.sub("", title)
    return stripped if stripped.strip() else title


def truncate(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + "…"


def absolute_url(href: str | None, base: str | None) -> str | None:
    """A link resolved against the document URL when that is a web URL."""
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:")):
        return None
    if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.IGNORECASE):
        return href
    if href.startswith("//"):
        return "https:" + href
    if base and re.match(r"^https?://", base, re.IGNORECASE):
        try:
            return urljoin(base, href)
        except ValueError:
            return href
    if href.startswith("/") and base is None:
        return href
    return href


def youtube_id(url: str | None) -> str | None:
    """The video id of a YouTube watch/short/embed URL, or None (a playlist is not a video)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = parts.netloc.lower().split(":")[0]
    for prefix in ("www.", "m.", "music."):
        host = host.removeprefix(prefix)
    candidate: str | None = None
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/")[0]
    elif host in ("youtube.com", "youtube-nocookie.com"):
        path = parts.path.rstrip("/")
        if path == "/watch":
            candidate = (parse_qs(parts.query).get("v") or [""])[0]
        else:
            m = re.match(r"^/(?:embed|live|shorts|v)/([^/?#]+)", path)
            candidate = m.group(1) if m else None
    if candidate and _YT_ID.match(candidate):
        return candidate
    return None


def youtube_url(video_id: str) -> str:
    """The canonical watch URL of a video."""
    return f"https://www.youtube.com/watch?v={video_id}"


def parse_date(text: str | None) -> datetime | None:
    """An aware UTC datetime from RFC 822, ISO 8601 or a day-month-year text; None when unreadable."""
    if not text:
        return None
    text = collapse(text)
    if not text:
        return None
    try:
        dt = parsedate_to_datetime(text)
        if dt is not None:
            return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        pass
    iso = text.replace("Z", "+00:00") if text.endswith("Z") else text
    try:
        dt = datetime.fromisoformat(iso)
        return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    except ValueError:
        pass
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        try:
            return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
        except ValueError:
            return None
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text).replace(",", " ")
    cleaned = collapse(cleaned)
    for fmt in ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%Y/%m/%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(cleaned.title() if "%b" in fmt or "%B" in fmt else cleaned, fmt).replace(
                tzinfo=UTC
            )
        except ValueError:
            continue
    return None


def _year(raw: str) -> str:
    return raw if len(raw) == 4 else "20" + raw[-2:]


def detect_event(texts: list[str], rules: Rules) -> str | None:
    """The first event a text names, by the rules' event patterns (texts in priority order)."""
    for text in texts:
        if not text:
            continue
        for named in rules.event_patterns:
            m = named.pattern.search(text)
            if not m:
                continue
            groups = {k: (v or "") for k, v in m.groupdict().items()}
            if "year" in groups and groups["year"]:
                groups["year"] = _year(groups["year"])
            try:
                return named.value.format(**groups)
            except (KeyError, IndexError, ValueError):
                return named.value
    return None


def event_from_categories(categories: tuple[str, ...], published: datetime | None, rules: Rules) -> str | None:
    """An event category without a year ("AWS re:Invent"), dated by the post."""
    if published is None:
        return None
    for cat in categories:
        for named in rules.event_categories:
            if named.pattern.search(cat):
                try:
                    return named.value.format(year=published.year)
                except (KeyError, IndexError, ValueError):
                    return named.value
    return None


def detect_status(texts: list[str], rules: Rules) -> str | None:
    """'preview' / 'ga' from the first text that says so."""
    for text in texts:
        if not text:
            continue
        for named in rules.statuses:
            if named.pattern.search(text):
                return named.value
    return None


def matches_any(text: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    """Whether any pattern is found in the text."""
    return any(p.search(text) for p in patterns)


def is_launch_url(url: str | None, rules: Rules) -> bool:
    """Whether a link points at a launch (a News Blog post or a What's New item), not a roundup."""
    if not url:
        return False
    if not matches_any(url, rules.launch_urls):
        return False
    return not (rules.roundup_url and rules.roundup_url.search(url))


def split_terms(terms: Iterable[str]) -> tuple[str, ...]:
    """Category terms, each comma-joined element split (What's New puts every tag in one), in order, once each."""
    out: list[str] = []
    for term in terms:
        for piece in term.split(","):
            piece = collapse(piece)
            if piece:
                out.append(piece)
    return tuple(dict.fromkeys(out))
