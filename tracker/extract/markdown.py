"""Markdown documents: recaps (keynote notes, link lists) and News Blog posts converted to markdown."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from tracker.extract import announce
from tracker.extract.blocks import BULLET, HEADING, PARAGRAPH, ROW, Block, TreeBuilder, has_video_tag, md_inline, select
from tracker.extract.rules import Rules
from tracker.extract.text import (
    collapse,
    detect_event,
    event_from_categories,
    parse_date,
    strip_trailing_punct,
)
from tracker.items import Document, DocumentKind

log = logging.getLogger(__name__)

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)(?:[*+-]|\d{1,3}[.)])\s+(.*)$")
_PSEUDO_BULLET = re.compile(r"^(\s*)([^\w\s*_\[\]<>`!#|{&(\"'“‘$~\\/.,:;=-])\s+(\S.*)$")
_HR = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_IAL = re.compile(r"^\s*\{:.*\}\s*$|^\s*\{%.*%\}\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# Raw HTML lists inside markdown (<ul><li>...</li></ul>, one tag a line): their items are bullets.
_HTML_LIST = re.compile(r"^\s*<(/?)(?:ul|ol)\b[^>]*>\s*$", re.IGNORECASE)
_HTML_ITEM = re.compile(r"^\s*<li\b[^>]*>\s*(.*?)\s*(?:</li>)?\s*$", re.IGNORECASE)
_HTML_ITEM_END = re.compile(r"^\s*</li>\s*$", re.IGNORECASE)
# "##Heading" without its space: written often enough to be read as the heading it means.
_TIGHT_HEADING = re.compile(r"^\s{0,3}(#{2,6})([A-Z].*?)\s*#*\s*$")
_DATE_IN_URL = re.compile(r"(?:^|/)(\d{4}-\d{2}-\d{2})-[^/]*$")


def _indent(ws: str) -> int:
    return len(ws.replace("\t", "    "))


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """YAML-like front matter (key: value lines between --- fences) and the rest of the text."""
    m = re.match(r"^\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", text, re.DOTALL)
    if not m:
        return {}, text
    meta: dict[str, str] = {}
    for line in m.group(1).splitlines():
        kv = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$", line)
        if kv:
            value = kv.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            meta[kv.group(1).lower()] = value
    return meta, text[m.end() :]


_QUOTE = re.compile(r"^(\s*)>\s?(.*)$")


# Reference-style links: "[Amazon Q][q]" with "[q]: https://..." on a line of its own.
_LINK_DEFINITION = re.compile(r"^ {0,3}\[([^\]\n]{1,100})\]:[ \t]*<?(\S+?)>?(?:[ \t]+[\"'(].*)?[ \t]*$", re.MULTILINE)
_REFERENCE_LINK = re.compile(r"\[([^\[\]\n]{1,500})\]\[([^\[\]\n]{0,100})\]")


def _inline_references(text: str) -> str:
    """Reference-style links written as inline ones, their definitions removed."""
    definitions: dict[str, str] = {}

    def define(m: re.Match[str]) -> str:
        definitions.setdefault(" ".join(m.group(1).lower().split()), m.group(2))
        return ""

    text = _LINK_DEFINITION.sub(define, text)
    if not definitions:
        return text

    def resolve(m: re.Match[str]) -> str:
        label = " ".join((m.group(2) or m.group(1)).lower().split())
        url = definitions.get(label)
        return f"[{m.group(1)}]({url})" if url else m.group(0)

    return _REFERENCE_LINK.sub(resolve, text)


def parse_blocks(text: str) -> list[Block]:
    """Markdown to a block tree: headings, nested bullets, paragraphs, table rows."""
    text = _inline_references(_COMMENT.sub("", text))
    tree = TreeBuilder()
    pending: list[str] = []  # raw lines of the open paragraph or bullet
    pending_kind: str | None = None
    pending_indent = 0
    in_fence = False
    prev_blank = True
    html_depth = 0  # open raw-HTML lists

    def flush() -> Block | None:
        nonlocal pending, pending_kind
        if pending_kind is None:
            return None
        if not pending:
            pending_kind = None
            return None
        block = md_inline("\n".join(pending)).build(PARAGRAPH)
        kind, indent = pending_kind, pending_indent
        pending, pending_kind = [], None
        if kind == BULLET:
            return tree.bullet(block, indent)
        if kind == ROW:
            return tree.paragraph(block, indent, kind=ROW)
        return tree.paragraph(block, indent)

    for raw in text.splitlines():
        line = raw.rstrip()
        if _FENCE.match(line):
            flush()
            in_fence = not in_fence
            prev_blank = True
            continue
        if in_fence:
            continue
        if not line.strip():
            flush()
            prev_blank = True
            continue
        if _IAL.match(line) and not has_video_tag(line):
            continue
        setext = _SETEXT.match(line)
        if setext and pending_kind == PARAGRAPH and not prev_blank and len(pending) == 1:
            level = 1 if setext.group(1).startswith("=") else 2
            block = md_inline(pending[0]).build(HEADING)
            pending, pending_kind = [], None
            tree.heading(block, level)
            prev_blank = False
            continue
        if _HR.match(line):
            flush()
            prev_blank = True
            continue
        html = _HTML_LIST.match(line)
        if html or _HTML_ITEM_END.match(line):
            flush()
            if html:
                html_depth = max(0, html_depth - 1) if html.group(1) else html_depth + 1
            prev_blank = True
            continue
        m = _HTML_ITEM.match(line) if html_depth else None
        if m:
            flush()
            pending, pending_kind, pending_indent = ([m.group(1)] if m.group(1) else []), "bullet", html_depth
            prev_blank = False
            continue
        m = _HEADING.match(line) or _TIGHT_HEADING.match(line)
        if m:
            flush()
            tree.heading(md_inline(m.group(2)).build(HEADING), len(m.group(1)))
            prev_blank = False
            continue
        if _TABLE_ROW.match(line):
            flush()
            if not _TABLE_SEP.match(line):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                pending, pending_kind, pending_indent = [" | ".join(c for c in cells if c)], ROW, 0
                flush()
            prev_blank = False
            continue
        quote = _QUOTE.match(line)
        if quote:
            line = quote.group(1) + quote.group(2)
            if not line.strip():
                continue
        m = _BULLET.match(line)
        if m:
            flush()
            pending, pending_kind, pending_indent = [m.group(2)], BULLET, _indent(m.group(1)) + 1
            prev_blank = False
            continue
        m = _PSEUDO_BULLET.match(line)
        if m and (pending_kind == BULLET or not prev_blank) and _indent(m.group(1)) > 0:
            # "§ New **X**" under a bullet: its own item, nested by indentation.
            flush()
            pending, pending_kind, pending_indent = [m.group(3)], BULLET, _indent(m.group(1)) + 1
            prev_blank = False
            continue
        stripped = line.strip()
        ind = _indent(line[: len(line) - len(line.lstrip())])
        if pending_kind in (BULLET, PARAGRAPH) and not prev_blank:
            pending.append(stripped)
        else:
            flush()
            pending, pending_kind, pending_indent = [stripped], PARAGRAPH, ind
        prev_blank = False
    flush()
    return tree.blocks


def find_byline(blocks: list[Block], rules: Rules) -> tuple[int, re.Match[str]] | None:
    """The News Blog byline near the top ("by AUTHOR on 08 JUL 2025 in CATEGORIES"), with its block's index."""
    if rules.byline is None:
        return None
    for block in blocks[:80]:
        if block.kind in (PARAGRAPH, HEADING):
            m = rules.byline.match(block.text)
            if m:
                return block.index, m
    return None


def _split_categories(raw: str, block: Block) -> tuple[str, ...]:
    linked = [lk.text for lk in block.links if "/category/" in lk.url and lk.text]
    if linked:
        return tuple(dict.fromkeys(linked))
    parts: list[str] = []
    for piece in [p.strip() for p in raw.split(",")]:
        if not piece:
            continue
        if parts and piece.startswith("&"):
            parts[-1] = f"{parts[-1]}, {piece}"
        else:
            parts.append(piece)
    return tuple(dict.fromkeys(parts))


def _body_end(blocks: list[Block], start: int, rules: Rules) -> int:
    for block in blocks[start:]:
        if any(p.search(block.text) for p in rules.end_markers):
            return block.index
    return len(blocks)


# A whole document fenced as markdown ("```markdown … ```", as a language model answers), with no
# fence of its own inside that would end it.
_WHOLE_FENCE = re.compile(
    r"\A\s*(?P<fence>`{3,}|~{3,})[ \t]*(?:markdown|md)[ \t]*\n(?P<inner>.*?)\n?(?P=fence)\s*\Z", re.I | re.S
)


def unfenced(body: str) -> str:
    """The document inside a fence that wraps all of it as markdown; the body itself otherwise."""
    m = _WHOLE_FENCE.match(body)
    if m is None:
        return body
    inner = m.group("inner")
    if re.search(rf"^[ \t]*{re.escape(m.group('fence'))}[ \t]*$", inner, re.M):
        return body  # a fence inside would have closed it: not one wrapped document
    return inner


def extract_markdown(text: str, *, url: str, rules: Rules, event: str | None = None) -> list[Document]:
    """A recap or a converted News Blog post: one Document."""
    meta, body = front_matter(text)
    body = unfenced(body)
    blocks = parse_blocks(body)
    byline = find_byline(blocks, rules)
    if byline is not None:
        return [byline_post(blocks, byline, meta, url=url, rules=rules, event=event)]
    title = collapse(meta.get("title", ""))
    h1 = next((b.text for b in blocks if b.kind == HEADING and b.level == 1 and not b.label), "")
    if not title:
        title = h1 or next((b.text for b in blocks if b.kind == HEADING and not b.label), "")
    if not title and blocks and blocks[0].kind == PARAGRAPH and len(blocks[0].text) <= 150:
        # Plain text saved as markdown (a transcript): its first short line is its title.
        title = blocks[0].text
    headings = [b.text for b in blocks if b.kind == HEADING]
    doc_event = event or detect_event([title, *headings], rules)
    published, published_source = _recap_date(meta, url, blocks, rules)
    sessions, by_heading, doc_session = announce.sessions_from_blocks(blocks, rules, title=title, event=doc_event)
    categories = tuple(
        c.strip() for c in re.split(r"[,\[\]]", meta.get("categories", "") or meta.get("tags", "")) if c.strip()
    )
    # A markdown page whose title says it is one launch ("Introducing X", a saved News Blog
    # post) is a launch post, read as the News Blog's posts are: the post, then what its body
    # marks beyond it.
    # A weekly roundup saved as a page ("AWS Weekly Roundup: ..." as its heading, whatever the
    # front matter calls it) lists its launches as links, and its other sections are not launches.
    h1s = [b.text for b in blocks if b.kind == HEADING and b.level == 1 and not b.label][:3]
    roundup = not sessions and announce.is_roundup_page((title, *h1s), rules, blocks)
    anns = announce.body_announcements(
        blocks, rules, event=doc_event, session_of_heading=by_heading, doc_session=doc_session, roundup=roundup
    )
    marked = sum(1 for a in anns if not a.rule.startswith("candidate:"))
    post = None
    # Marked launches, or an event in its title, make it a recap whatever its title says.
    if not sessions and not roundup and marked == 0 and not detect_event([title], rules):
        post = announce.post_announcement(
            title=title, categories=(), blocks=blocks, url=None, published_at=published, rules=rules, event=doc_event
        )
    if post is not None:
        in_body = announce.body_announcements(blocks, rules, event=doc_event, link_lists=False, post=True)
        anns = [post, *announce.drop_weak(announce.drop_covered_by(title, in_body), rules)]
    return [
        Document(
            url=url,
            title=title,
            author=meta.get("author") or None,
            published_at=published,
            categories=categories,
            event=doc_event,
            announcements=announce.number(anns),
            sessions=tuple(sessions),
            kind=DocumentKind.RECAP,
            published_source=published_source,
            canonical_url=_canonical(meta),
        )
    ]


# Front matter keys that hold a post's date, and its public address, by preference.
_DATE_KEYS = ("date", "publish_date", "published", "pubdate", "date_published", "created", "created_at")
_URL_KEYS = ("canonical_url", "canonical", "permalink", "url", "link", "original_url")


def _recap_date(
    meta: dict[str, str], url: str, blocks: list[Block], rules: Rules
) -> tuple[datetime | None, str | None]:
    """A recap's date and where it was read: front matter, its file name, a byline near the top."""
    for key in _DATE_KEYS:
        found = parse_date(meta.get(key))
        if found is not None:
            return found, "front-matter"
    m = _DATE_IN_URL.search(url.split("?", 1)[0])
    found = parse_date(m.group(1)) if m else None
    if found is not None:
        return found, "file-name"
    for block in blocks[:8]:
        for pattern in (rules.byline, rules.published_line):
            hit = pattern.match(block.text) if pattern is not None else None
            found = parse_date(hit.group("date")) if hit else None
            if found is not None:
                return found, "byline"
    return None, None


def _canonical(meta: dict[str, str]) -> str | None:
    """The public address the front matter gives (an absolute http(s) URL only)."""
    for key in _URL_KEYS:
        value = (meta.get(key) or "").strip()
        if value.lower().startswith(("http://", "https://")):
            return value
    return None


def byline_post(
    blocks: list[Block],
    byline: tuple[int, re.Match[str]],
    meta: dict[str, str],
    *,
    url: str,
    rules: Rules,
    event: str | None,
) -> Document:
    """A saved News Blog post read from its byline: the heading above it is its title."""
    index, m = byline
    title_block = next((b for b in reversed(blocks[:index]) if b.kind == HEADING and b.level == 1), None)
    title = title_block.text if title_block else collapse(meta.get("title", ""))
    author = strip_trailing_punct(m.group("author")) or None
    published: datetime | None = parse_date(m.group("date"))
    categories = _split_categories(m.group("cats") or "", blocks[index])
    end = _body_end(blocks, index + 1, rules)
    body = select(blocks, range(index + 1, end))
    permalink = next(
        (lk.url for lk in blocks[index].links if lk.text.lower() == "permalink" and lk.url.startswith("http")), None
    )
    doc_url = permalink or url
    doc_event = event or detect_event([title], rules) or event_from_categories(categories, published, rules)
    return post_document(
        title=title,
        url=doc_url,
        author=author,
        published=published,
        categories=categories,
        blocks=body,
        rules=rules,
        event=doc_event,
        published_source="byline",
    )


def post_document(
    *,
    title: str,
    url: str,
    author: str | None,
    published: datetime | None,
    categories: tuple[str, ...],
    blocks: list[Block],
    rules: Rules,
    event: str | None,
    kind: str = "post",
    published_source: str | None = None,
) -> Document:
    """One News Blog post (from markdown, a page or a feed item) with its launches."""
    roundup = announce.is_roundup(title, rules)
    post = announce.post_announcement(
        title=title,
        categories=categories,
        blocks=blocks,
        url=url,
        published_at=published,
        rules=rules,
        event=event,
    )
    body = announce.body_announcements(
        # Every News Blog post counts as a post here: unmarked text in a post describes the
        # post's own launch, or is not a launch at all.
        blocks,
        rules,
        event=event,
        roundup=roundup,
        link_lists=False,
        post=not roundup,
    )
    if post is not None:
        body = announce.drop_weak(announce.drop_covered_by(title, body), rules)
    anns = ([post] if post else []) + body
    from dataclasses import replace

    anns = [a if a.published_at else replace(a, published_at=published) for a in anns]
    return Document(
        url=url,
        title=title,
        author=author,
        published_at=published,
        categories=categories,
        event=event,
        announcements=announce.number(anns),
        kind=kind,
        published_source=published_source if published is not None else None,
    )
