"""HTML documents: News Blog post pages, What's New listing pages and generic pages.

HTML is read (BeautifulSoup + lxml) into the same block tree as markdown, so the same
announcement rules apply to a post page, a feed item's content and a recap.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from bs4 import BeautifulSoup, Comment, Tag, XMLParsedAsHTMLWarning
from bs4.element import Declaration, Doctype, ProcessingInstruction
from lxml import etree

from tracker.extract import announce
from tracker.extract.blocks import HEADING, Block, InlineBuilder, LinkSpan, TreeBuilder, select
from tracker.extract.markdown import byline_post, find_byline, post_document
from tracker.extract.rules import Rules
from tracker.extract.text import (
    absolute_url,
    collapse,
    detect_event,
    detect_status,
    event_from_categories,
    is_launch_url,
    parse_date,
    unescape,
)
from tracker.items import Announcement, Document, DocumentKind

log = logging.getLogger(__name__)

_SKIP = {"script", "style", "noscript", "template", "svg", "head", "button", "select", "option", "textarea", "audio"}
_CHROME = {"nav", "header", "footer", "aside", "form"}
_BLOCK = {
    "p", "div", "section", "article", "main", "blockquote", "pre", "table", "thead", "tbody", "tfoot",
    "tr", "td", "th", "figure", "figcaption", "dl", "dt", "dd", "hr", "body", "html", "center",
    "details", "summary", "caption", "address",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")


def soup_of(text: str) -> BeautifulSoup:
    """Parse HTML leniently (lxml)."""
    with warnings.catch_warnings():
        # Fragments of feeds and XHTML are read as HTML on purpose.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(text, "lxml")


class _Node:
    """An element of a light DOM: what the walker reads of a bs4 Tag (name, attributes, children)."""

    __slots__ = ("attrs", "children", "name")

    def __init__(self, name: str, attrs: dict[str, str]) -> None:
        self.name = name
        self.attrs = attrs
        self.children: list[str | _Node] = []

    def get(self, key: str) -> str | None:
        """An attribute's value, like Tag.get."""
        return self.attrs.get(key)


class _LightTarget:
    """lxml parser events into a light DOM, built as BeautifulSoup's lxml tree builder builds its tree.

    A feed has thousands of small HTML fragments, and building a BeautifulSoup object for each costs
    more than parsing it (about 60 µs of bookkeeping against 3 µs in lxml). The same libxml2 push
    parser is fed the same way (`feed` then `close`), and the tree follows BeautifulSoup's rules:
    text between two events is one string, a string of ASCII whitespace only becomes "\n" or " "
    outside <pre> and <textarea>, an end tag closes up to the most recent open element of its name,
    and comments, doctypes and processing instructions end a string (the walker skips them).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new document."""
        self.root = _Node("[document]", {})
        self.stack: list[_Node] = [self.root]
        self.open: dict[str, int] = {}
        self.preserve: list[_Node] = []
        self.data_parts: list[str] = []

    def _end_data(self) -> None:
        if not self.data_parts:
            return
        text = "".join(self.data_parts)
        self.data_parts = []
        if not self.preserve and not text.strip(_ASCII_SPACES):
            text = "\n" if "\n" in text else " "
        self.stack[-1].children.append(text)

    def start(self, tag: str, attrib: Any) -> None:
        """An element opens."""
        self._end_data()
        node = _Node(tag, dict(attrib))
        self.stack[-1].children.append(node)
        self.stack.append(node)
        self.open[tag] = self.open.get(tag, 0) + 1
        if tag in ("pre", "textarea"):
            self.preserve.append(node)

    def end(self, tag: str) -> None:
        """An element closes: pop up to the most recent open element of that name."""
        self._end_data()
        while len(self.stack) > 1 and self.open.get(tag):
            node = self.stack.pop()
            self.open[node.name] -= 1
            if self.preserve and self.preserve[-1] is node:
                self.preserve.pop()
            if node.name == tag:
                break

    def data(self, data: str) -> None:
        """Text."""
        self.data_parts.append(data)

    def comment(self, text: str) -> None:
        """A comment ends the string before it."""
        self._end_data()

    def pi(self, target: str, data: str | None = None) -> None:
        """A processing instruction ends the string before it."""
        self._end_data()

    def doctype(self, name: str, pubid: str, system: str) -> None:
        """A doctype ends the string before it."""
        self._end_data()

    def close(self) -> _Node:
        """The document's root."""
        self._end_data()
        return self.root


_ASCII_SPACES = "\x20\x0a\x09\x0c\x0d"  # BeautifulSoup.ASCII_SPACES
_light = threading.local()  # one reusable lxml parser per thread (a parser is not thread-safe)


def _light_body(text: str) -> _Node | None:
    """The <body> (else the root) of an HTML fragment as a light DOM, or None when lxml refuses the text."""
    state = getattr(_light, "parser", None)
    if state is None:
        target = _LightTarget()
        state = (etree.HTMLParser(target=target, recover=True), target)
        _light.parser = state
    parser, target = state
    target.reset()
    if text[:1] == "\ufeff":
        text = text[1:]  # as BeautifulSoup does before handing text to lxml
    try:
        parser.feed(text)
        root: _Node = parser.close()
    except Exception:  # noqa: BLE001 - BeautifulSoup then retries differently; so does the caller
        _light.parser = None
        return None
    return _find_body(root) or root


def _find_body(node: _Node) -> _Node | None:
    """The first <body> in document order (as `soup.body`)."""
    todo: list[_Node] = [node]
    while todo:
        cur = todo.pop()
        if cur is not node and cur.name == "body":
            return cur
        todo.extend(c for c in reversed(cur.children) if isinstance(c, _Node))
    return None


class _Walker:
    """Walks a DOM subtree into blocks."""

    def __init__(self, base_url: str | None, *, skip_chrome: bool) -> None:
        self.base = base_url
        self.skip_chrome = skip_chrome
        self.tree = TreeBuilder()
        self.cur: InlineBuilder | None = None
        self.cur_kind = "paragraph"
        self.cur_level = 0
        self.depth = 0  # list nesting
        self.in_li = 0

    def _inline(self) -> InlineBuilder:
        if self.cur is None:
            self.cur = InlineBuilder()
            self.cur_kind = "paragraph"
            self.cur_level = 0
        return self.cur

    def flush(self) -> None:
        if self.cur is None:
            return
        cur, kind, level = self.cur, self.cur_kind, self.cur_level
        self.cur = None
        block = cur.build("paragraph")
        if not block.text and not block.links:
            return
        if kind == HEADING:
            self.tree.heading(block, level)
        elif kind == "bullet":
            self.tree.bullet(block, level)
        else:
            self.tree.paragraph(block, self.depth + 1 if self.in_li else 0)

    def walk(self, node: Tag | _Node) -> None:
        for child in list(node.children):
            if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, str):  # a NavigableString or CData, or a light DOM's string
                s = str(child)
                if "&" in s and _ENTITY.search(s):
                    s = unescape(s)
                if s.strip() or self.cur is not None:
                    self._inline().add(s.replace("\xa0", " "))
                continue
            if not isinstance(child, (Tag, _Node)):
                continue
            name = (child.name or "").lower()
            if name in _SKIP or (self.skip_chrome and name in _CHROME):
                continue
            if name in _HEADINGS:
                self.flush()
                self.cur = InlineBuilder()
                self.cur_kind, self.cur_level = HEADING, _HEADINGS[name]
                self.walk_inline(child)
                self.flush()
            elif name == "li":
                self.flush()
                self.cur = InlineBuilder()
                self.cur_kind, self.cur_level = "bullet", max(1, self.depth)
                self.in_li += 1
                self.walk(child)
                self.flush()
                self.in_li -= 1
            elif name in ("ul", "ol", "menu"):
                self.flush()
                self.depth += 1
                self.walk(child)
                self.flush()
                self.depth -= 1
            elif name == "br":
                self.flush()
            elif name in _BLOCK:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk_inline(child)

    def walk_inline(self, node: Tag | _Node) -> None:
        """Inline content of node into the current builder (block children are read inline too)."""
        b = self._inline()
        name = (node.name or "").lower()
        if name == "a" and _is_permalink(node):
            return
        if name in ("strong", "b", "em", "i", "a"):
            start = b.mark()
            self._children_inline(node)
            b = self._inline()
            if name in ("strong", "b"):
                span = b.close(start)
                if span:
                    b.strong.append(span)
            elif name in ("em", "i"):
                span = b.close(start)
                if span:
                    b.em.append(span)
            else:
                raw_href = node.get("href")
                href = absolute_url(raw_href if isinstance(raw_href, str) else None, self.base)
                if href:
                    b.links.append(LinkSpan(start, b.length, "", href))
            return
        if name in ("iframe", "embed", "video", "source"):
            src = node.get("src")
            href = absolute_url(src if isinstance(src, str) else None, self.base)
            if href:
                b.links.append(LinkSpan(b.mark(), b.mark(), "", href))
            return
        if name == "img":
            return
        if name in ("ul", "ol", "li") or name in _HEADINGS:
            # A list or heading inside inline markup: read it as blocks.
            self.walk(node)
            return
        self._children_inline(node)

    def _children_inline(self, node: Tag | _Node) -> None:
        for child in list(node.children):
            if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, str):  # a NavigableString or CData, or a light DOM's string
                s = str(child)
                if "&" in s and _ENTITY.search(s):
                    s = unescape(s)
                self._inline().add(s.replace("\xa0", " "))
            elif isinstance(child, (Tag, _Node)):
                cname = (child.name or "").lower()
                if cname in _SKIP:
                    continue
                if cname == "br":
                    self._inline().space()
                elif cname in _BLOCK and cname not in ("div", "p"):
                    self._inline().space()
                    self.walk_inline(child)
                    self._inline().space()
                else:
                    self.walk_inline(child)


def _is_permalink(node: Tag | _Node) -> bool:
    """Whether an anchor is a heading's permalink ("¶", "#", "🔗" pointing into the page): a
    site generator's marker, not part of the heading's words."""
    href = node.get("href")
    if not isinstance(href, str) or not href.startswith("#"):
        return False
    return not any(ch.isalnum() for ch in _all_text(node))


def _all_text(node: Tag | _Node) -> str:
    """The text inside an element of either DOM."""
    if isinstance(node, Tag):
        return node.get_text()
    return "".join(c if isinstance(c, str) else _all_text(c) for c in node.children)


def html_blocks(
    node: Tag | BeautifulSoup | _Node, base_url: str | None = None, *, skip_chrome: bool = False
) -> list[Block]:
    """A DOM subtree as a block tree."""
    walker = _Walker(base_url, skip_chrome=skip_chrome)
    walker.walk(node)
    walker.flush()
    return walker.tree.blocks


def fragment_blocks(html_text: str, base_url: str | None = None) -> list[Block]:
    """An HTML fragment (a feed item's content) as a block tree."""
    if not html_text or not html_text.strip():
        return []
    if "<" not in html_text:
        b = InlineBuilder()
        b.add(unescape(html_text))
        block = b.build("paragraph")
        return [block] if block.text else []
    body = _light_body(html_text)
    if body is not None:
        return html_blocks(body, base_url)
    soup = soup_of(html_text)
    return html_blocks(soup.body or soup, base_url)


def plain_text(html_text: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return collapse(" ".join(b.text for b in fragment_blocks(html_text)))


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if isinstance(tag, Tag):
            content = tag.get("content")
            if isinstance(content, str) and content.strip():
                return content.strip()
    return None


def _text(tag: object) -> str:
    return collapse(tag.get_text(" ")) if isinstance(tag, Tag) else ""


# The few CSS selectors a post page is read with, matched by hand as soupsieve matches them in an
# HTML document: a tag name (lower case, as lxml writes it), classes among the element's class
# tokens, an attribute by its name in any case with its value as written (a multi-valued one
# joined by spaces), and `A B` as B with an ancestor A anywhere above it (not only within the
# element searched). Soupsieve's general matcher cost a News Blog post a third of its reading.


def _attr(tag: Tag, name: str) -> str | None:
    value = tag.attrs.get(name)
    if value is None:
        for key, found in tag.attrs.items():
            if key.lower() == name:
                value = found
                break
        else:
            return None
    return value if isinstance(value, str) else " ".join(value)


def _has_class(tag: Tag, *names: str) -> bool:
    value = tag.attrs.get("class")
    if value is None:
        value = _attr(tag, "class")
        if value is None:
            return False
    classes = _NOT_WS.findall(value) if isinstance(value, str) else value
    return all(name in classes for name in names)


_NOT_WS = re.compile(r"[^ \t\r\n\f]+")


def _is(tag: Tag, name: str | None, *classes: str, **attrs: str | None) -> bool:
    """Whether a tag matches `name.class…[attr="value"]…` (a value None: the attribute is present)."""
    if name is not None and tag.name != name:
        return False
    if classes and not _has_class(tag, *classes):
        return False
    for key, value in attrs.items():
        found = _attr(tag, key)
        if found is None or (value is not None and found != value):
            return False
    return True


def _within(tag: Tag, test: Callable[[Tag], bool]) -> bool:
    """Whether an ancestor of the tag passes the test (CSS's descendant combinator)."""
    parent = tag.parent
    while parent is not None and not isinstance(parent, BeautifulSoup):
        if test(parent):
            return True
        parent = parent.parent
    return False


def _find_all(root: Tag, test: Callable[[Tag], bool], *, first: bool = False) -> list[Tag]:
    """The descendants of root that pass the test, in document order (`select`)."""
    out: list[Tag] = []
    for el in root.descendants:
        if isinstance(el, Tag) and test(el):
            out.append(el)
            if first:
                break
    return out


def _find(root: Tag, test: Callable[[Tag], bool]) -> Tag | None:
    """The first descendant of root that passes the test (`select_one`)."""
    found = _find_all(root, test, first=True)
    return found[0] if found else None


def whats_new_listing(soup: BeautifulSoup, *, url: str, rules: Rules, event: str | None) -> list[Document]:
    """A What's New listing page: one document per listed item."""
    docs: list[Document] = []
    for li in soup.select("li.directory-item"):
        link = li.select_one("h3 a[href]") or li.select_one("a[href]")
        if not isinstance(link, Tag):
            continue
        title = _text(link)
        href = link.get("href")
        item_url = absolute_url(href if isinstance(href, str) else None, url) or url
        date_text = _text(li.select_one(".date"))
        if rules.published_line:
            m = rules.published_line.match(date_text)
            if m:
                date_text = m.group("date")
        published = parse_date(date_text)
        desc = li.select_one(".description")
        summary = collapse(" ".join(b.text for b in html_blocks(desc, url))) if isinstance(desc, Tag) else ""
        docs.append(whats_new_document(title, item_url, summary, published, (), rules=rules, event=event))
    return docs


def whats_new_document(
    title: str,
    url: str,
    summary: str,
    published: datetime | None,
    tags: tuple[str, ...],
    *,
    rules: Rules,
    event: str | None,
) -> Document:
    """One What's New item: a document with exactly one announcement."""
    title = collapse(title)
    product_tags = tuple(t for t in tags if rules.product_tag and rules.product_tag.search(t))
    doc_event = event or detect_event([title], rules)
    ann = Announcement(
        title=title,
        summary=summary[: max(rules.summary_max_chars * 4, 2000)],
        url=url,
        published_at=published,
        service_tags=product_tags,
        rule="whats-new",
        excerpt=title,
        status=detect_status([title], rules),
        event=doc_event,
    )
    return Document(
        url=url,
        title=title,
        published_at=published,
        categories=tags,
        event=doc_event,
        announcements=(ann,),
        kind=DocumentKind.WHATS_NEW,
        published_source="feed" if published is not None else None,
    )


def _post_page(soup: BeautifulSoup, *, url: str, rules: Rules, event: str | None) -> Document:
    article = _find(soup, lambda t: _is(t, "article", "blog-post")) or soup
    title = _text(_find(article, lambda t: _is(t, "h1", "blog-post-title"))) or _text(
        _find(article, lambda t: _is(t, "h1", property="name headline"))
    )
    title = title or (_meta(soup, "og:title", "twitter:title") or "") or _text(article.find("h1"))
    meta_block = _find(article, lambda t: _is(t, "footer", "blog-post-meta")) or article
    authors = [
        _text(s)
        for s in _find_all(
            meta_block,
            lambda t: _is(t, "span", property="name") and _within(t, lambda a: _is(a, "span", property="author")),
        )
    ]
    if not authors:
        authors = [_text(s) for s in _find_all(meta_block, lambda t: _is(t, "span", property="author"))]
    published = None
    published_source = None
    time_tag = _find(meta_block, lambda t: _is(t, "time", property="datePublished")) or meta_block.find("time")
    if isinstance(time_tag, Tag):
        dt = time_tag.get("datetime")
        published = parse_date(dt if isinstance(dt, str) else None) or parse_date(_text(time_tag))
        published_source = "time" if published else None
    if published is None:
        published = parse_date(_meta(soup, "article:published_time"))
        published_source = "meta" if published else None
    cats = [
        _text(s)
        for s in _find_all(
            meta_block,
            lambda t: _is(t, "span", property="articleSection") and _within(t, _categories),
        )
    ]
    if not cats:
        cats = [_text(a) for a in _find_all(meta_block, lambda t: t.name == "a" and _within(t, _categories))]
    categories = tuple(dict.fromkeys(c for c in cats if c))
    canonical = soup.find("link", rel="canonical")
    doc_url = None
    if isinstance(canonical, Tag) and isinstance(canonical.get("href"), str):
        doc_url = absolute_url(str(canonical.get("href")), url)
    permalink = _find(meta_block, lambda t: _is(t, "a", property="url", href=None))
    if doc_url is None and isinstance(permalink, Tag) and isinstance(permalink.get("href"), str):
        doc_url = absolute_url(str(permalink.get("href")), url)
    doc_url = doc_url or _meta(soup, "og:url") or url
    body = _find(article, lambda t: _is(t, "section", "blog-post-content")) or _find(
        article, lambda t: _is(t, None, property="articleBody")
    )
    blocks = html_blocks(body if isinstance(body, Tag) else article, doc_url, skip_chrome=True)
    if body is None:
        blocks = select(blocks, {b.index for b in blocks if b.text != title})
    doc_event = event or detect_event([title], rules) or event_from_categories(categories, published, rules)
    return post_document(
        title=title,
        url=doc_url,
        author=", ".join(a for a in authors if a) or None,
        published=published,
        categories=categories,
        blocks=blocks,
        rules=rules,
        event=doc_event,
        published_source=published_source,
    )


def _categories(tag: Tag) -> bool:
    return _is(tag, "span", "blog-post-categories")


def _listing_marker(tag: Tag) -> bool:
    """`li.directory-item h3 a, li.directory-item.whats-new`: a What's New listing."""
    if tag.name == "a":
        return _within(tag, lambda h: h.name == "h3" and _within(h, lambda li: _is(li, "li", "directory-item")))
    return _is(tag, "li", "directory-item", "whats-new")


def _post_marker(tag: Tag) -> bool:
    """`h1.blog-post-title, section.blog-post-content`, or an `article.blog-post` holding the
    News Blog's title, body or meta block: a News Blog post page."""
    if _is(tag, "h1", "blog-post-title") or _is(tag, "section", "blog-post-content"):
        return True
    # "blog-post" alone is a common theme class (Hugo's Beautiful Hugo wraps every post in
    # article.blog-post): a personal recap so wrapped is not a News Blog post.
    return _is(tag, "article", "blog-post") and _find(tag, _post_part) is not None


def _post_part(tag: Tag) -> bool:
    return any(_has_class(tag, name) for name in ("blog-post-title", "blog-post-content", "blog-post-meta"))


# Blocks from a page's first top heading to a second one that is the page's own title.
_SITE_HEADING_GAP = 2


def _generic_page(soup: BeautifulSoup, *, url: str, rules: Rules, event: str | None) -> Document:
    root = soup.find("article") or soup.find("main") or soup.body or soup
    blocks = html_blocks(root, url, skip_chrome=True)
    byline = find_byline(blocks[:40], rules)
    if byline is not None and any(b.kind == HEADING and b.level == 1 for b in blocks[: byline[0]]):
        # A News Blog post saved inside another site's page (a translation, a study site): the
        # site's own heading ("Blog 1") comes first; the post is the heading above its byline.
        saved = byline_post(blocks, byline, {}, url=url, rules=rules, event=event)
        return replace(saved, canonical_url=saved.canonical_url or _canonical_of(soup, url))
    tops = [b for b in blocks if b.kind == HEADING and b.level == 1]
    h1 = tops[0] if tops else None
    if len(tops) > 1 and tops[1].index - tops[0].index <= _SITE_HEADING_GAP:
        # The site's own heading ("Blog 1") right over the page's: the page is the second.
        h1 = tops[1]
    title = (h1.text if h1 else "") or _meta(soup, "og:title") or _text(soup.find("title"))
    published = parse_date(_meta(soup, "article:published_time"))
    published_source = "meta" if published else None
    time_tag = root.find("time") if isinstance(root, Tag) else None
    if published is None and isinstance(time_tag, Tag):
        stamp = time_tag.get("datetime")
        published = parse_date(stamp if isinstance(stamp, str) else None) or parse_date(_text(time_tag))
        published_source = "time" if published else None
    body = select(blocks, {b.index for b in blocks if h1 is None or b.index > h1.index})
    if published is None and rules.published_line:
        for b in body[:5]:
            m = rules.published_line.match(b.text)
            if m:
                published = parse_date(m.group("date"))
                if published:
                    published_source = "byline"
                    break
    doc_url = url
    for b in body[:5]:
        # A saved copy that names its original ("Originally published at <url>").
        if re.match(r"(?i)^originally published at\b", b.text) and b.links:
            doc_url = b.links[0].url
    body = select(body, {b.index for b in body if not re.match(r"(?i)^(?:originally published at|published:)", b.text)})
    headings = [b.text for b in blocks if b.kind == HEADING]
    doc_event = event or detect_event([title, *headings], rules)
    sessions, by_heading, doc_session = announce.sessions_from_blocks(blocks, rules, title=title, event=doc_event)
    post = None
    # A weekly roundup saved as a page: its launch links are the launches (see markdown.py).
    h1s = [b.text for b in tops[:3]]
    roundup = not sessions and announce.is_roundup_page((title, *h1s), rules, blocks)
    if not sessions and not roundup:
        post = announce.post_announcement(
            title=title, categories=(), blocks=body, url=doc_url, published_at=published, rules=rules, event=doc_event
        )
    # A page that is itself a launch post lists related posts, not launches: no link lists then.
    anns = announce.body_announcements(
        blocks,
        rules,
        event=doc_event,
        session_of_heading=by_heading,
        doc_session=doc_session,
        link_lists=post is None,
        roundup=roundup,
        # A saved News Blog post is a post even when it is not a launch (a report, a story).
        post=not roundup and (post is not None or is_launch_url(doc_url, rules)),
    )
    if post is not None:
        anns = [post, *announce.drop_weak(announce.drop_covered_by(title, anns), rules)]
    return Document(
        url=doc_url,
        title=title,
        published_at=published,
        event=doc_event,
        announcements=announce.number(anns),
        sessions=tuple(sessions),
        kind=DocumentKind.RECAP if sessions else DocumentKind.PAGE,
        published_source=published_source,
        canonical_url=_canonical_of(soup, url),
    )


def _canonical_of(soup: BeautifulSoup, url: str) -> str | None:
    """The page's own public address: <link rel="canonical">, else og:url (absolute only)."""
    tag = soup.find("link", rel="canonical")
    href = tag.get("href") if isinstance(tag, Tag) else None
    candidate = absolute_url(href, url) if isinstance(href, str) else None
    candidate = candidate or _meta(soup, "og:url")
    if candidate and candidate.lower().startswith(("http://", "https://")):
        return candidate
    return None


def extract_html(text: str, *, url: str, rules: Rules, event: str | None = None) -> list[Document]:
    """An HTML page: a What's New listing, a News Blog post page or a generic page."""
    soup = soup_of(text)
    if _find(soup, _listing_marker):
        return whats_new_listing(soup, url=url, rules=rules, event=event)
    if _find(soup, _post_marker):
        return [_post_page(soup, url=url, rules=rules, event=event)]
    return [_generic_page(soup, url=url, rules=rules, event=event)]
