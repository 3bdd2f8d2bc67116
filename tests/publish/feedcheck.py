"""The main checks of the W3C feed validator, for Atom 1.0, RSS 2.0 and JSON Feed 1.1.

Not the validator itself (it is a web service): the rules it reports as errors that a
generator can get wrong, each returning a message naming the element. `check_feed`
returns the list of problems; an empty list means valid.

Checked: well-formed XML; the root and namespace; required elements (Atom feed id,
title, updated, author at feed level or in every entry; entry id, title, updated,
content or alternate link; RSS channel title, link, description; item title or
description); dates (RFC 3339 in Atom and JSON Feed, RFC 822 with a four-digit year
in RSS); absolute http(s) URLs everywhere a URL goes; ids that are absolute URIs and
unique; a self link equal to the URL the feed is published at, with the right type;
RFC 5005 links; and entry HTML free of script, style, iframes, event handlers and
non-http(s) links.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} ([+-]\d{4}|GMT|UT)$"
)
MIME = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
ARCHIVE_RELS = {"current", "prev-archive", "next-archive"}
FORBIDDEN_TAGS = {"script", "style", "iframe", "object", "embed", "form", "meta", "link", "base"}


def is_absolute_web_url(url: str | None) -> bool:
    """An absolute http(s) URL with a host."""
    if not url:
        return False
    if re.search(r'[\s<>"{}|\\^`]', url):
        return False  # not allowed in a URI (RFC 3986)
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def is_uri(value: str | None) -> bool:
    """An absolute URI (tag:, urn:, http...) as Atom ids must be."""
    return bool(value) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value or "") is not None


def check_rfc3339(value: str | None, where: str) -> list[str]:
    """RFC 3339 with a time zone, and a real date."""
    if not value or not RFC3339.match(value):
        return [f"{where}: {value!r} is not an RFC 3339 date-time"]
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return [f"{where}: {value!r} is not a real date"]
    return []


def check_rfc822(value: str | None, where: str) -> list[str]:
    """RFC 822 (as the validator reads it: four-digit year, English names, a zone)."""
    if not value or not RFC822.match(value):
        return [f"{where}: {value!r} is not an RFC 822 date"]
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return [f"{where}: {value!r} is not a real date"]
    if parsed.strftime("%a") != value[:3]:
        return [f"{where}: {value!r} names the wrong day of the week"]
    return []


class _HtmlCheck(HTMLParser):
    def __init__(self, where: str) -> None:
        super().__init__(convert_charrefs=True)
        self.where = where
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"{self.where}: <{tag}> in entry HTML")
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"{self.where}: event handler {name} in entry HTML")
            if name.lower() in {"href", "src", "action", "formaction", "xlink:href"} and not is_absolute_web_url(value):
                self.problems.append(f"{self.where}: {name}={value!r} is not an absolute http(s) URL")


def check_html(fragment: str, where: str) -> list[str]:
    """Entry HTML: no active content, only absolute http(s) links."""
    checker = _HtmlCheck(where)
    checker.feed(fragment)
    checker.close()
    # A "javascript:" written as text is harmless; attributes are what matter (checked above).
    return checker.problems


def _links(parent: etree._Element, tag: str) -> list[etree._Element]:
    return list(parent.iterchildren(tag))


def _check_archive_links(links: list[etree._Element], kind: str, where: str, is_archive: bool) -> list[str]:
    problems: list[str] = []
    rels = [ln.get("rel") for ln in links]
    for rel in ARCHIVE_RELS:
        if rels.count(rel) > 1:
            problems.append(f"{where}: more than one rel={rel} link")
    for ln in links:
        if ln.get("rel") in ARCHIVE_RELS:
            if not is_absolute_web_url(ln.get("href")):
                problems.append(f"{where}: rel={ln.get('rel')} href {ln.get('href')!r} is not absolute")
            if ln.get("type") not in (None, MIME[kind]):
                problems.append(f"{where}: rel={ln.get('rel')} has type {ln.get('type')!r}")
    if is_archive and "current" not in rels:
        problems.append(f"{where}: an archive document (fh:archive) needs a rel=current link")
    if not is_archive and "current" in rels:
        problems.append(f"{where}: rel=current on a document that is not fh:archive")
    return problems


def check_atom(root: etree._Element, self_url: str) -> list[str]:
    """The validator's Atom 1.0 errors."""
    problems: list[str] = []
    if root.tag != ATOM + "feed":
        return [f"root is {root.tag}, not atom:feed"]
    for name in ("id", "title", "updated"):
        if len(root.findall(ATOM + name)) != 1:
            problems.append(f"feed: needs exactly one atom:{name}")
    if not is_uri(root.findtext(ATOM + "id")):
        problems.append(f"feed: id {root.findtext(ATOM + 'id')!r} is not an absolute URI")
    problems += check_rfc3339(root.findtext(ATOM + "updated"), "feed/updated")
    links = _links(root, ATOM + "link")
    self_links = [ln for ln in links if ln.get("rel") == "self"]
    if len(self_links) != 1:
        problems.append("feed: needs exactly one rel=self link")
    else:
        if self_links[0].get("href") != self_url:
            problems.append(f"feed: self link {self_links[0].get('href')!r} is not where it is published ({self_url})")
        if self_links[0].get("type") != MIME["atom"]:
            problems.append(f"feed: self link type {self_links[0].get('type')!r}")
    for ln in links:
        if not is_absolute_web_url(ln.get("href")):
            problems.append(f"feed: link href {ln.get('href')!r} is not absolute")
    alternates = [(ln.get("type"), ln.get("hreflang")) for ln in links if ln.get("rel", "alternate") == "alternate"]
    if len(alternates) != len(set(alternates)):
        problems.append("feed: two alternate links with the same type and hreflang")
    problems += _check_archive_links(links, "atom", "feed", root.find(FH + "archive") is not None)
    feed_author = root.find(ATOM + "author") is not None and bool(root.findtext(ATOM + "author/" + ATOM + "name"))
    ids: set[str] = set()
    for index, entry in enumerate(root.iterfind(ATOM + "entry")):
        where = f"entry {index}"
        for name in ("id", "title", "updated"):
            if len(entry.findall(ATOM + name)) != 1:
                problems.append(f"{where}: needs exactly one atom:{name}")
        entry_id = entry.findtext(ATOM + "id") or ""
        if not is_uri(entry_id):
            problems.append(f"{where}: id {entry_id!r} is not an absolute URI")
        if entry_id in ids:
            problems.append(f"{where}: duplicate id {entry_id}")
        ids.add(entry_id)
        problems += check_rfc3339(entry.findtext(ATOM + "updated"), f"{where}/updated")
        if entry.find(ATOM + "published") is not None:
            problems += check_rfc3339(entry.findtext(ATOM + "published"), f"{where}/published")
        if not feed_author and entry.find(ATOM + "author/" + ATOM + "name") is None:
            problems.append(f"{where}: no author (none at feed level either)")
        entry_links = _links(entry, ATOM + "link")
        for ln in entry_links:
            if not is_absolute_web_url(ln.get("href")):
                problems.append(f"{where}: link href {ln.get('href')!r} is not absolute")
        alternates = [
            (ln.get("type"), ln.get("hreflang")) for ln in entry_links if ln.get("rel", "alternate") == "alternate"
        ]
        if len(alternates) != len(set(alternates)):
            problems.append(f"{where}: two alternate links with the same type and hreflang")
        content = entry.find(ATOM + "content")
        if content is None and not alternates:
            problems.append(f"{where}: neither content nor an alternate link")
        for tag in ("content", "summary", "title"):
            element = entry.find(ATOM + tag)
            if element is None:
                continue
            kind = element.get("type", "text")
            if kind not in ("text", "html", "xhtml"):
                problems.append(f"{where}/{tag}: type {kind!r}")
            if kind == "html":
                problems += check_html(element.text or "", f"{where}/{tag}")
        for category in entry.iterfind(ATOM + "category"):
            if not category.get("term"):
                problems.append(f"{where}: category without a term")
            scheme = category.get("scheme")
            if scheme is not None and not is_uri(scheme):
                problems.append(f"{where}: category scheme {scheme!r} is not a URI")
    return problems


def check_rss(root: etree._Element, self_url: str) -> list[str]:
    """The validator's RSS 2.0 errors (and its warning about a missing atom:link self)."""
    problems: list[str] = []
    if root.tag != "rss" or root.get("version") != "2.0":
        return [f"root is {root.tag} version {root.get('version')}, not rss 2.0"]
    channel = root.find("channel")
    if channel is None:
        return ["rss: no channel"]
    for name in ("title", "link", "description"):
        if not (channel.findtext(name) or "").strip():
            problems.append(f"channel: missing {name}")
    if not is_absolute_web_url(channel.findtext("link")):
        problems.append(f"channel: link {channel.findtext('link')!r} is not absolute")
    for name in ("lastBuildDate", "pubDate"):
        if channel.find(name) is not None:
            problems += check_rfc822(channel.findtext(name), f"channel/{name}")
    links = _links(channel, ATOM + "link")
    self_links = [ln for ln in links if ln.get("rel") == "self"]
    if len(self_links) != 1:
        problems.append("channel: needs exactly one atom:link rel=self")
    else:
        if self_links[0].get("href") != self_url:
            problems.append(
                f"channel: self link {self_links[0].get('href')!r} is not where it is published ({self_url})"
            )
        if self_links[0].get("type") != MIME["rss"]:
            problems.append(f"channel: self link type {self_links[0].get('type')!r}")
    problems += _check_archive_links(links, "rss", "channel", channel.find(FH + "archive") is not None)
    guids: set[str] = set()
    for index, item in enumerate(channel.iterfind("item")):
        where = f"item {index}"
        if not (item.findtext("title") or item.findtext("description")):
            problems.append(f"{where}: needs a title or a description")
        link = item.findtext("link")
        if link is not None and not is_absolute_web_url(link):
            problems.append(f"{where}: link {link!r} is not absolute")
        guid = item.find("guid")
        if guid is None:
            problems.append(f"{where}: no guid")
        else:
            text = guid.text or ""
            if text in guids:
                problems.append(f"{where}: duplicate guid {text}")
            guids.add(text)
            permalink = guid.get("isPermaLink", "true") == "true"
            if permalink and not is_absolute_web_url(text):
                problems.append(f"{where}: guid {text!r} is a permalink but not a URL")
        if item.find("pubDate") is not None:
            problems += check_rfc822(item.findtext("pubDate"), f"{where}/pubDate")
        problems += check_html(item.findtext("description") or "", f"{where}/description")
        for category in item.iterfind("category"):
            if not (category.text or "").strip():
                problems.append(f"{where}: empty category")
    return problems


def check_json_feed(data: bytes, self_url: str) -> list[str]:
    """JSON Feed 1.1: required keys, URLs, dates, unique ids, content."""
    problems: list[str] = []
    try:
        feed = json.loads(data)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append(f"version {feed.get('version')!r}")
    if not isinstance(feed.get("title"), str) or not feed["title"]:
        problems.append("no title")
    if feed.get("feed_url") != self_url:
        problems.append(f"feed_url {feed.get('feed_url')!r} is not where it is published ({self_url})")
    for key in ("home_page_url", "next_url"):
        if key in feed and not is_absolute_web_url(feed[key]):
            problems.append(f"{key} {feed[key]!r} is not absolute")
    if not isinstance(feed.get("items"), list):
        return [*problems, "items is not a list"]
    ids: set[str] = set()
    for index, item in enumerate(feed["items"]):
        where = f"item {index}"
        if not isinstance(item.get("id"), str) or not item["id"]:
            problems.append(f"{where}: id must be a non-empty string")
        elif item["id"] in ids:
            problems.append(f"{where}: duplicate id {item['id']}")
        ids.add(item.get("id"))
        if not (item.get("content_html") or item.get("content_text")):
            problems.append(f"{where}: needs content_html or content_text")
        if "url" in item and not is_absolute_web_url(item["url"]):
            problems.append(f"{where}: url {item['url']!r} is not absolute")
        for key in ("date_published", "date_modified"):
            if key in item:
                problems += check_rfc3339(item[key], f"{where}/{key}")
        if "content_html" in item:
            problems += check_html(item["content_html"], f"{where}/content_html")
        if "tags" in item and not all(isinstance(t, str) and t for t in item["tags"]):
            problems.append(f"{where}: tags must be non-empty strings")
    return problems


def check_feed(path: str, data: bytes, base_url: str) -> list[str]:
    """Every problem the validator's main checks find in one published file."""
    self_url = base_url + path
    if path.endswith(".json"):
        return [f"{path}: {p}" for p in check_json_feed(data, self_url)]
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [f"{path}: not well-formed XML: {exc}"]
    if not data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>") and not data.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>'
    ):
        return [f"{path}: no UTF-8 XML declaration"]
    problems = check_atom(root, self_url) if path.endswith(".atom") else check_rss(root, self_url)
    return [f"{path}: {p}" for p in problems]
