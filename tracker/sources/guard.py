"""Checks on fetched bytes before anything parses them: hostile XML and wrong content.

`check_document(raw, kind)` raises `ContentError` (an `ExtractError` with a `kind`) when

* the document's DOCTYPE declares entities (``<!ENTITY``): entity expansion ("billion laughs")
  and external entities (XXE) are refused outright, whatever the parsers downstream would do;
  feeds and pages never need them;
* a source configured as a feed (`feed`, `whats-new`, `news-blog`) answers with something
  else, typically a 200 with an HTML error or login page (kind `content`);
* such a feed is not well-formed XML (kind `malformed`): a truncated or garbled feed is refused
  whole, so no half-read item is stored; the data of earlier runs stays and the next run, which
  fetches the source again, recovers.

It returns the document, with one correction: a Content-Type declaring a legacy single-byte
charset (ISO-8859-1, Windows-1252, ASCII) on a body that is valid UTF-8 with non-ASCII bytes is
taken to be wrong (a misconfigured server; real Latin-1 text is almost never valid UTF-8) and
the charset parameter is replaced by utf-8, so "Café" is not stored as "CafÃ©".

Only the document's prolog and root are sniffed here; the extractors do the real parsing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from lxml import etree

from tracker.config import SourceKind
from tracker.errors import ExtractError, FailureKind
from tracker.items import RawDocument

log = logging.getLogger(__name__)

FEED_KINDS = frozenset({SourceKind.FEED, SourceKind.WHATS_NEW, SourceKind.NEWS_BLOG})
_HEAD = 64 * 1024
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# The prolog: XML declaration, processing instructions, comments and whitespace.
_PROLOG_PART = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DOCTYPE = re.compile(rb"<!DOCTYPE\s[^\[>]*(\[(?P<subset>.*?)\]\s*)?>", re.DOTALL | re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_FEED_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF)\b")
_HTML_ROOT = re.compile(rb"<(?:!DOCTYPE\s+html|html|head|body)\b", re.IGNORECASE)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_LEGACY_CHARSET = re.compile(
    r"charset\s*=\s*[\"']?(?:iso[-_]?8859[-_]?1|latin[-_]?1|l1|windows[-_]?1252|cp1252|us[-_]?ascii|ascii)[\"']?",
    re.IGNORECASE,
)
_ENCODING_DECL = re.compile(rb"^(<\?xml[^>]*?)\sencoding\s*=\s*[\"'][^\"']*[\"']", re.IGNORECASE)


class ContentError(ExtractError):
    """A fetched document is refused before parsing; `kind` says why (hostile, content, malformed)."""

    def __init__(self, message: str, *, kind: str, source: str | None = None, url: str | None = None) -> None:
        super().__init__(message, source=source, url=url)
        self.kind = kind


def _strip_prolog(head: bytes) -> bytes:
    """The bytes from the first element or DOCTYPE on."""
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
        # UTF-16/32 without a BOM we removed: sniff the ASCII-compatible view.
        head = head.replace(b"\x00", b"")
    pos = 0
    while True:
        match = _PROLOG_PART.match(head, pos)
        if not match or match.end() == pos:
            return head[pos:]
        pos = match.end()


def hostile_xml(body: bytes) -> bool:
    """Whether the document's DOCTYPE declares entities (expansion bombs, external entities)."""
    rest = _strip_prolog(body[:_HEAD])
    doctype = _DOCTYPE.match(rest)
    if doctype and doctype.group("subset") and _ENTITY.search(doctype.group("subset")):
        return True
    # An unterminated internal subset that declares entities is just as hostile.
    return bool(rest[:9].upper() == b"<!DOCTYPE" and not doctype and _ENTITY.search(rest[:_HEAD]))


def well_formed(body: bytes) -> str | None:
    """None when the bytes are well-formed XML, else the parser's complaint.

    The structure is checked, not the encoding: a wrong charset declaration is the
    decoder's business (the extractor falls back), not a reason to refuse the feed.
    """
    data = _strip_prolog(body) if body[:3] in _BOMS or body[:1].isspace() else body
    data = _ENCODING_DECL.sub(rb"\1", data.lstrip(), count=1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        etree.fromstring(text.encode("utf-8"), parser=parser)
    except etree.XMLSyntaxError as exc:
        return str(exc)
    return None


def fix_charset(raw: RawDocument) -> RawDocument:
    """The document with a lying legacy charset in its Content-Type replaced by utf-8 (see above)."""
    content_type = raw.content_type or ""
    if not _LEGACY_CHARSET.search(content_type) or raw.body.isascii():
        return raw
    try:
        raw.body.decode("utf-8")
    except UnicodeDecodeError:
        return raw  # really a legacy encoding
    log.info("%s: %s declares %r but the body is UTF-8; reading it as UTF-8", raw.source, raw.url, content_type)
    return replace(raw, content_type=_LEGACY_CHARSET.sub("charset=utf-8", content_type))


def check_document(raw: RawDocument, kind: str) -> RawDocument:
    """Refuse a fetched document that is hostile or is not what its source's kind promises.

    Returns the document to extract from (its charset corrected when the server's was wrong).
    """
    if raw.not_modified or not raw.body:
        return raw
    if hostile_xml(raw.body):
        raise ContentError(
            "the document declares XML entities in its DOCTYPE (entity expansion or external entities); refused",
            kind=FailureKind.HOSTILE,
            source=raw.source,
            url=raw.url,
        )
    raw = fix_charset(raw)
    if kind not in FEED_KINDS:
        return raw
    rest = _strip_prolog(raw.body[:_HEAD]).lstrip()
    if rest.startswith(b"{"):
        return raw  # JSON Feed: the extractor validates it
    if _DOCTYPE.match(rest):
        rest = rest[_DOCTYPE.match(rest).end() :].lstrip()  # type: ignore[union-attr]
    if not _FEED_ROOT.match(rest):
        if _HTML_ROOT.match(rest) or _HTML_ROOT.search(rest[:2048]):
            title = _TITLE.search(raw.body[:_HEAD])
            named = f" (titled {title.group(1).decode('utf-8', 'replace').strip()[:80]!r})" if title else ""
            what = f"an HTML page{named}"
        else:
            what = f"{raw.content_type or 'no content type'}, starting {rest[:40]!r}"
        raise ContentError(
            f"expected a feed ({kind}), got {what}; the site may be failing or have moved the feed",
            kind=FailureKind.CONTENT,
            source=raw.source,
            url=raw.url,
        )
    problem = well_formed(raw.body)
    if problem is not None:
        raise ContentError(
            f"the feed is not well-formed XML ({problem}); refused whole, earlier data is kept",
            kind=FailureKind.MALFORMED,
            source=raw.source,
            url=raw.url,
        )
    return raw
