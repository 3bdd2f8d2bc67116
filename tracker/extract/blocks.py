"""The block tree both markdown and HTML are read into: headings, bullets and paragraphs
with their plain text, the offsets of their emphasised spans and their links.

One announcement-rule engine (announce.py) then works on blocks, so a recap in markdown, a
post page in HTML and a feed item's HTML are judged by the same rules.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

HEADING = "heading"
BULLET = "bullet"
PARAGRAPH = "paragraph"
ROW = "row"
LABEL_LEVEL = 7  # a bold-only paragraph acts as a heading below every real one


@dataclass
class LinkSpan:
    """A link inside a block's text: [start, end) and its target."""

    start: int
    end: int
    text: str
    url: str


@dataclass
class Block:
    """One heading, bullet, paragraph or table row."""

    kind: str
    text: str
    level: int = 0  # heading level (1-6, 7 for a label) or bullet depth (0 = top)
    strong: list[tuple[int, int]] = field(default_factory=list)
    em: list[tuple[int, int]] = field(default_factory=list)
    links: list[LinkSpan] = field(default_factory=list)
    index: int = 0
    parent: int | None = None  # enclosing bullet
    headings: tuple[int, ...] = ()  # enclosing headings, innermost first
    label: bool = False
    breaks: list[int] = field(default_factory=list)  # where a line ended in the source (its space)

    def emphasis(self, forms: tuple[str, ...]) -> list[tuple[int, int]]:
        """The emphasised spans of the configured forms, in text order."""
        spans: list[tuple[int, int]] = []
        if "strong" in forms:
            spans.extend(self.strong)
        if "em" in forms:
            spans.extend(self.em)
        return sorted(set(spans))


_TAG_NAME = re.compile(r"</?([a-zA-Z0-9]+)")


class InlineBuilder:
    """Accumulates inline text with collapsed whitespace and records span offsets."""

    def __init__(self) -> None:
        self.chars: list[str] = []
        self._len = 0
        self.pending_space = False
        self.strong: list[tuple[int, int]] = []
        self.em: list[tuple[int, int]] = []
        self.links: list[LinkSpan] = []
        self.breaks: list[int] = []
        self.pending_break = False

    def add(self, text: str) -> None:
        """Append text, collapsing whitespace runs (where a run held a line end is kept in `breaks`)."""
        if "\n" in text:
            self._add_lines(text)
            return
        # str.split() breaks at exactly the runs `\s+` matches; the words go in as one piece.
        words = text.split()
        if not words:
            if text and self.chars:
                self.pending_space = True
            return
        if text[0].isspace() and self.chars:
            self.pending_space = True
        joined = " ".join(words)
        if self.pending_space:
            if self.pending_break:
                self.breaks.append(self._len)
            self.chars.append(" ")
            self._len += 1
            self.pending_space = self.pending_break = False
        self.chars.append(joined)
        self._len += len(joined)
        if text[-1].isspace():
            self.pending_space = True

    def _add_lines(self, text: str) -> None:
        for line_no, line in enumerate(text.split("\n")):
            if line_no and self.chars:
                self.pending_space = self.pending_break = True
            if line:
                self.add(line)

    def space(self) -> None:
        """A soft break (<br>, a line join)."""
        if self.chars:
            self.pending_space = True

    def mark(self) -> int:
        """Where the next visible character will start."""
        return self.length + (1 if self.pending_space else 0)

    @property
    def length(self) -> int:
        return self._len

    def text(self) -> str:
        """The collapsed text so far."""
        return "".join(self.chars)

    def close(self, start: int) -> tuple[int, int] | None:
        """The span from start to here, or None if empty."""
        end = self.length
        return (start, end) if end > start else None

    def build(self, kind: str, level: int = 0) -> Block:
        """A block of this inline content, spans trimmed to its text."""
        # Flatten to one string so offsets are cheap from here on.
        text = self.text()
        self.chars = [text]

        def trim(span: tuple[int, int]) -> tuple[int, int] | None:
            s, e = max(0, span[0]), min(len(text), span[1])
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            return (s, e) if e > s else None

        strong = [t for t in (trim(s) for s in self.strong) if t]
        em = [t for t in (trim(s) for s in self.em) if t]
        links = []
        for link in self.links:
            s, e = max(0, link.start), min(len(text), link.end)
            links.append(LinkSpan(s, max(s, e), text[s:e].strip(), link.url))
        return Block(kind=kind, text=text, level=level, strong=strong, em=em, links=links, breaks=list(self.breaks))


# --- markdown inline --------------------------------------------------------------------

_MD_TOKEN = re.compile(
    r"""
    (?P<image>!\[[^\]]*\]\([^)]*\))
  | (?P<code>`+)
  | (?P<strong>\*\*|__)
  | (?P<em>\*|_)
  | (?P<lbr>\[)
  | (?P<comment><!--.*?-->)
  | (?P<tag></?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>)
  | (?P<ent>&(?:\#\d{1,7}|\#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});)
  | (?P<esc>\\[\\`*_{}\[\]()#+\-.!|<>~])
  | (?P<auto><https?://[^>\s]+>)
  | (?P<bare>(?<![\w/("'=\]>])https?://[^\s<>()\[\]"']+)
    """,
    re.VERBOSE,
)
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_LIQUID = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{:[^}]*\}")
# A site generator's video tag embeds a video as its rendered page does ("{{< youtube ID >}}" in
# Hugo, "{% youtube ID %}" or "{% include youtube.html id=ID %}" in Jekyll): read as the embed
# player the page shows, not dropped with the other template tags. Matched within one tag that
# _LIQUID has found, from its start: no scan of the text beyond it.
_VIDEO_TAG = re.compile(
    r"""(?i)\{(?:\{[<%]\s*youtube\s+(?:id\s*=\s*)?|%\s*youtube\s+|%\s*include\s+(?=\S*youtube)\S+\s(?:.*?\s)?id\s*=\s*)"""
    r"""["']?([\w-]{11})(?![\w-])"""
)


def _template_tag(m: re.Match[str]) -> str:
    video = _VIDEO_TAG.match(m.group(0))
    return f'<iframe src="https://www.youtube.com/embed/{video.group(1)}"></iframe>' if video else ""


def has_video_tag(text: str) -> bool:
    """Whether a text holds a site generator's video tag (`_VIDEO_TAG`)."""
    return "{" in text and any(_VIDEO_TAG.match(m.group(0)) for m in _LIQUID.finditer(text))


def _attrs(tag: str) -> dict[str, str]:
    return {
        m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "") for m in _ATTR.finditer(tag)
    }


def _link_end(s: str, i: int) -> tuple[int, int, str] | None:
    """For '[' at i: (end of text, end of link, url) when a [text](url) starts here."""
    depth = 0
    j = i
    n = len(s)
    while j < n:
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                break
        j += 1
    else:
        return None
    if j + 1 >= n or s[j + 1] != "(":
        return None
    k = j + 2
    paren = 1
    while k < n:
        if s[k] == "(":
            paren += 1
        elif s[k] == ")":
            paren -= 1
            if paren == 0:
                break
        k += 1
    else:
        return None
    target = s[j + 2 : k].strip()
    m = re.match(r'^<?([^\s>]*)>?(?:\s+["\'(].*)?$', target, re.DOTALL)
    url = m.group(1) if m else target
    return j, k + 1, html.unescape(url)


def md_inline(s: str, b: InlineBuilder | None = None) -> InlineBuilder:
    """Parse markdown inline markup (emphasis, links, inline HTML, entities) into a builder."""
    b = b or InlineBuilder()
    if "{" in s:
        s = _LIQUID.sub(_template_tag, s)
    strong_open: int | None = None
    em_open: int | None = None
    html_links: list[tuple[int, str]] = []
    html_strong: list[int] = []
    html_em: list[int] = []
    pos = 0
    n = len(s)
    while pos < n:
        m = _MD_TOKEN.search(s, pos)
        if not m:
            b.add(s[pos:])
            break
        if m.start() > pos:
            b.add(s[pos : m.start()])
        kind = m.lastgroup
        tok = m.group(0)
        nxt = m.end()
        before = s[m.start() - 1] if m.start() > 0 else " "
        after = s[nxt] if nxt < n else " "
        if kind == "image" or kind == "comment":
            pass
        elif kind == "code":
            close = s.find(tok, nxt)
            if close == -1:
                b.add(tok)
            else:
                b.add(s[nxt:close])
                nxt = close + len(tok)
        elif kind == "strong":
            if tok == "__" and strong_open is None and before.isalnum():
                b.add(tok)
            elif strong_open is None and not after.isspace():
                strong_open = b.mark()
            elif strong_open is not None and not before.isspace():
                span = b.close(strong_open)
                if span:
                    b.strong.append(span)
                strong_open = None
            else:
                b.add(tok)
        elif kind == "em":
            if tok == "_" and (before.isalnum() if em_open is None else after.isalnum()):
                b.add(tok)
            elif em_open is None and not after.isspace():
                em_open = b.mark()
            elif em_open is not None and not before.isspace():
                span = b.close(em_open)
                if span:
                    b.em.append(span)
                em_open = None
            else:
                b.add(tok)
        elif kind == "lbr":
            found = _link_end(s, m.start())
            if found is None:
                b.add(tok)
            else:
                text_end, link_end, url = found
                start = b.mark()
                md_inline(s[m.start() + 1 : text_end], b)
                if url:
                    b.links.append(LinkSpan(start, b.length, "", url))
                nxt = link_end
        elif kind == "tag":
            name_m = _TAG_NAME.match(tok)
            name = name_m.group(1).lower() if name_m else ""
            closing = tok.startswith("</")
            if name == "a":
                if closing:
                    if html_links:
                        start, url = html_links.pop()
                        b.links.append(LinkSpan(start, b.length, "", url))
                else:
                    href = _attrs(tok).get("href", "")
                    if href:
                        html_links.append((b.mark(), href))
            elif name in ("strong", "b"):
                if closing and html_strong:
                    span = b.close(html_strong.pop())
                    if span:
                        b.strong.append(span)
                elif not closing:
                    html_strong.append(b.mark())
            elif name in ("em", "i"):
                if closing and html_em:
                    span = b.close(html_em.pop())
                    if span:
                        b.em.append(span)
                elif not closing:
                    html_em.append(b.mark())
            elif name in ("iframe", "embed", "video", "source") and not closing:
                src = _attrs(tok).get("src", "")
                if src:
                    b.links.append(LinkSpan(b.mark(), b.mark(), "", src))
            elif name in ("br", "p", "div", "li", "td", "th", "tr"):
                b.space()
        elif kind == "ent":
            b.add(html.unescape(tok).replace("\xa0", " "))
        elif kind == "esc":
            b.add(tok[1])
        elif kind == "auto":
            url = tok[1:-1]
            start = b.mark()
            b.add(url)
            b.links.append(LinkSpan(start, b.length, "", url))
        elif kind == "bare":
            # A bare address is a link, as GitHub's markdown reads it; the punctuation that
            # closes the sentence is not part of it.
            url = tok.rstrip(".,;:!?*_~")
            nxt = m.start() + len(url)
            start = b.mark()
            b.add(url)
            b.links.append(LinkSpan(start, b.length, "", url))
        pos = max(nxt, m.start() + 1)
    return b


def is_label(block: Block) -> bool:
    """A short paragraph that is all one bold span: a section label such as **Now available**."""
    if block.kind != PARAGRAPH or not block.strong or len(block.text) > 120:
        return False
    s, e = block.strong[0]
    rest = (block.text[:s] + block.text[e:]).strip(" :.-–—")
    return not rest and len(block.strong) == 1


# An inline item number: "1)", "(2)", "（3）" at the start or after a space or separator.
_INLINE_NUMBER = re.compile(r"(?:^|(?<=[\s:：;；,，、.。]))[(（]?(\d{1,2})[)）]\s*")
_ITEM_TAIL = re.compile(r"(?:[\s;；,，、.。]+|\s+(?:and|or)\s*)+$")
MIN_INLINE_ITEMS = 3


def _slice(block: Block, start: int, end: int, kind: str) -> Block | None:
    """The part [start, end) of a block's text as a block of its own, its spans kept."""
    text = block.text
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end <= start:
        return None

    def inside(span: tuple[int, int]) -> tuple[int, int] | None:
        s, e = max(span[0], start), min(span[1], end)
        return (s - start, e - start) if e > s else None

    links = [
        LinkSpan(max(lk.start, start) - start, min(lk.end, end) - start, lk.text, lk.url)
        for lk in block.links
        if lk.start < end and lk.end > start
    ]
    return Block(
        kind=kind,
        text=text[start:end],
        strong=[t for t in map(inside, block.strong) if t],
        em=[t for t in map(inside, block.em) if t],
        links=links,
    )


# A line that a sentence or a clause goes on from: it ends in a comma, a dash or a small word.
_RUNS_ON = re.compile(r"(?:[,(\[–—-]|\b(?:and|or|the|a|an|of|to|in|for|with|by|on|at|from|as|is|are|was|that))$", re.I)
_SENTENCE_END = re.compile(r"[.:;!?。]$")
# A glyph that opens a line as a bullet where markdown has none: "・" (Japanese), "•", "●", "■", "◆", "▶", "➤", "✓".
_LINE_GLYPH = re.compile("^[\u30fb\u2022\u2023\u2043\u2219\u25a0-\u25ff\u27a2-\u27bf\u2713\u2714\u2192]\\s*")
MIN_LINES = 3
MAX_LINE_CHARS = 200


def split_lines(block: Block) -> list[Block] | None:
    """A paragraph written one item per line (each line a name, none running on into the next,
    few of them sentences): its lines, each a block of its own."""
    if len(block.breaks) + 1 < MIN_LINES:
        return None
    bounds = [0, *(b + 1 for b in block.breaks), len(block.text) + 1]
    lines = [(bounds[i], bounds[i + 1] - 1) for i in range(len(bounds) - 1)]
    texts = [block.text[a:b].strip() for a, b in lines]
    glyphs = [len(m.group()) if (m := _LINE_GLYPH.match(t)) else 0 for t in texts]
    if all(glyphs):
        # Lines each opened by a bullet glyph ("・[Name](url)", "• Name"): a list whatever
        # their first letter (a Japanese or Korean name, a link), the glyph left out.
        lines = [
            (a + (len(block.text[a:b]) - len(block.text[a:b].lstrip())) + g, b)
            for (a, b), g in zip(lines, glyphs, strict=True)
        ]
        texts = [t[g:].strip() for t, g in zip(texts, glyphs, strict=True)]
        if any(not t or len(t) > MAX_LINE_CHARS for t in texts):
            return None
    elif any(not t or len(t) > MAX_LINE_CHARS or not (t[0].isupper() or t[0].isdigit()) for t in texts):
        return None
    if any(_RUNS_ON.search(t) for t in texts[:-1]):
        return None
    if 3 * sum(1 for t in texts if _SENTENCE_END.search(t)) > len(texts):
        return None  # sentences, one to a line: prose
    items = [item for a, b in lines if (item := _slice(block, a, b, BULLET)) is not None]
    return items if len(items) >= MIN_LINES else None


def split_enumeration(block: Block) -> tuple[Block | None, list[Block]] | None:
    """A paragraph numbering at least three items inline (1, 2, 3 …): its lead-in and its items."""
    if ")" not in block.text and "）" not in block.text:
        return None  # most paragraphs: no item number, and no scan of their text for one
    marks: list[re.Match[str]] = []
    for m in _INLINE_NUMBER.finditer(block.text):
        if int(m.group(1)) == len(marks) + 1:
            marks.append(m)
    if len(marks) < MIN_INLINE_ITEMS:
        return None
    items: list[Block] = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(block.text)
        tail = _ITEM_TAIL.search(block.text, m.end(), end)
        item = _slice(block, m.end(), tail.start() if tail else end, BULLET)
        if item is not None:
            items.append(item)
    if len(items) < MIN_INLINE_ITEMS:
        return None
    return _slice(block, 0, marks[0].start(), PARAGRAPH), items


class TreeBuilder:
    """Assigns indices, enclosing bullets and enclosing headings as blocks are appended."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.heading_stack: list[int] = []
        self.bullet_stack: list[tuple[int, int]] = []  # (indent, block index)

    def heading(self, block: Block, level: int, *, label: bool = False) -> Block:
        """Append a heading (or a label) and make it the innermost heading."""
        block.kind = HEADING
        block.level = level
        block.label = label
        while self.heading_stack and self.blocks[self.heading_stack[-1]].level >= level:
            self.heading_stack.pop()
        self._append(block, parent=None)
        self.heading_stack.append(block.index)
        self.bullet_stack.clear()
        return block

    def bullet(self, block: Block, indent: int) -> Block:
        """Append a list item nested by its indentation."""
        while self.bullet_stack and self.bullet_stack[-1][0] >= indent:
            self.bullet_stack.pop()
        parent = self.bullet_stack[-1][1] if self.bullet_stack else None
        block.kind = BULLET
        block.level = len(self.bullet_stack)
        self._append(block, parent=parent)
        self.bullet_stack.append((indent, block.index))
        return block

    def paragraph(self, block: Block, indent: int = 0, *, kind: str = PARAGRAPH) -> Block:
        """Append a paragraph; an indented one belongs to the bullet above it; one written an
        item per line, or numbering its items inline ("… announced: 1) X; 2) Y; 3) Z"), is a list
        (after its lead-in)."""
        if block.kind == PARAGRAPH and kind == PARAGRAPH and is_label(block):
            return self.heading(block, LABEL_LEVEL, label=True)
        if kind == PARAGRAPH and indent == 0:
            lines = split_lines(block)
            if lines is not None:
                self.bullet_stack.clear()
                for item in lines:
                    self.bullet(item, 1)
                return lines[-1]
            split = split_enumeration(block)
            if split is not None:
                lead, items = split
                self.bullet_stack.clear()
                if lead is not None:
                    self._append(lead, parent=None)
                for item in items:
                    self.bullet(item, 1)
                return items[-1]
        parent = None
        if indent > 0:
            while self.bullet_stack and self.bullet_stack[-1][0] >= indent:
                self.bullet_stack.pop()
            parent = self.bullet_stack[-1][1] if self.bullet_stack else None
        else:
            self.bullet_stack.clear()
        block.kind = kind
        self._append(block, parent=parent)
        return block

    def _append(self, block: Block, parent: int | None) -> None:
        if not block.text and not block.links:
            block.index = -1
            return
        block.index = len(self.blocks)
        block.parent = parent
        block.headings = tuple(reversed(self.heading_stack))
        self.blocks.append(block)


def children(blocks: list[Block], index: int) -> list[Block]:
    """Every block nested under a bullet (descendants in document order)."""
    out: list[Block] = []
    wanted = {index}
    # A bullet's descendants follow it without a gap: the first block that is not one ends
    # them (scanning on to the next heading made a long flat list quadratic).
    for i in range(index + 1, len(blocks)):
        block = blocks[i]
        if block.parent is None or block.parent not in wanted:
            break
        out.append(block)
        wanted.add(block.index)
    return out


def ancestors(blocks: list[Block], block: Block) -> list[Block]:
    """The enclosing bullets, innermost first."""
    out: list[Block] = []
    seen: set[int] = set()
    parent = block.parent
    while parent is not None and parent not in seen and 0 <= parent < len(blocks):
        seen.add(parent)
        out.append(blocks[parent])
        parent = blocks[parent].parent
    return out


def select(blocks: list[Block], keep: set[int] | range) -> list[Block]:
    """A sub-list of blocks re-indexed, with links to dropped blocks removed."""
    from dataclasses import replace

    kept = [b for b in blocks if b.index in keep]
    mapping = {b.index: i for i, b in enumerate(kept)}
    out = []
    for i, b in enumerate(kept):
        out.append(
            replace(
                b,
                index=i,
                parent=mapping.get(b.parent) if b.parent is not None else None,
                headings=tuple(mapping[h] for h in b.headings if h in mapping),
            )
        )
    return out
