"""The announcement-rule engine over a block tree, and session detection in recaps.

Rules (all configured in extract.toml):
- marker + emphasis: "Announcing **X**", "New **X** EC2 instance", "**X** is now available",
  a marker opening the span ("Amazon SageMaker **now supports Geospatial ML**") or the
  description after it ("**Redshift Multi-AZ**: new ..."); weak markers, which also describe
  the features of one launch, do not count in the body of a launch post;
- an emphasised launch word opening a line: "**New:** Amazon X - ...";
- link lists: one bullet per launch linking to a News Blog post or a What's New item;
- roundups: every launch link in the launch sections of a roundup post;
- post level: a post whose title, categories or opening "Today ..." paragraph say it is a launch.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from tracker.extract import candidates as cands
from tracker.extract.blocks import BULLET, HEADING, PARAGRAPH, ROW, Block, LinkSpan, ancestors, children
from tracker.extract.rules import Marker, NamedPattern, Rules
from tracker.extract.text import (
    collapse,
    detect_event,
    detect_status,
    is_launch_url,
    matches_any,
    norm_words,
    strip_site_name,
    strip_trailing_punct,
    truncate,
    youtube_id,
    youtube_url,
)
from tracker.items import Announcement, ConferenceSession, SessionKind

log = logging.getLogger(__name__)


@dataclass
class Found:
    """An announcement found in a block, before positions are assigned."""

    block: int
    offset: int
    announcement: Announcement


# --- sessions ----------------------------------------------------------------------------


_TALK_TITLE = re.compile(r"(?i)\b(?:session|talk|breakout|presentation|webinar|transcript)\b")


def _is_talk(text: str, rules: Rules) -> bool:
    """Whether a title names a talk (a keynote, a session, its code), not a recap of many."""
    return bool(_kind_from([text], rules.kind_titles) or _code_in(text, rules) or _TALK_TITLE.search(text))


# Words that tie a link's title to a heading: a name in capitals ("IAM", "EKS") or a long word.
_TIE_WORD = re.compile(r"\b(?:[A-Z][A-Z0-9]+|\w{5,})\b")
_OWN_TITLE_WORDS = 4


def _a_video_of_its_own(link_text: str, heading: str, rules: Rules) -> bool:
    """Whether a video's link text is a title of its own subject: words enough to be a title, no
    talk or event named, and nothing in common with the heading above it."""
    if len(link_text.split()) < _OWN_TITLE_WORDS or _is_talk(link_text, rules):
        return False
    if detect_event([link_text], rules) is not None:
        return False
    ties = {w.lower() for w in _TIE_WORD.findall(link_text)}
    return not ties & {w.lower() for w in _TIE_WORD.findall(heading)}


def _names_the_document(heading: Block, top: list[Block], title: str) -> bool:
    """Whether a heading is the document's own title (its only top heading, or the title's text)."""
    return (heading.level <= 1 and len(top) == 1) or collapse(heading.text) == collapse(title or "")


def _kind_from(texts: list[str], patterns: tuple[NamedPattern, ...]) -> str | None:
    for text in texts:
        for named in patterns:
            if text and named.pattern.search(text):
                return str(named.value)
    return None


# Words of a talk's title that do not tell one talk from another.
_COMMON_TALK_WORDS = frozenset(
    "aws amazon keynote reinvent re:invent invent summit session talk video the and with from".split()
)


def _the_documents_talk(
    blocks: list[Block], heading: Block, where: dict[str, tuple[Block, LinkSpan]], rules: Rules
) -> bool:
    """Whether the one video of a section that names no talk is introduced as a keynote (a talk
    of many launches, not one about the section's): in a document with no other video, the
    document's talk, which the section merely closes."""
    if len(where) != 1 or _is_talk(heading.text, rules):
        return False
    block, link = next(iter(where.values()))
    return _kind_from([_introduction(blocks, block, link, rules)], rules.kind_titles) is not None


def _lead(blocks: list[Block]) -> list[str]:
    """The paragraphs before the first section heading (the document's own title may stand first)."""
    lead: list[str] = []
    for block in blocks:
        if block.kind == HEADING and not block.label and (block.level > 1 or lead):
            break
        if block.kind == PARAGRAPH:
            lead.append(block.text)
    return lead


def _lead_names(blocks: list[Block], talk: str) -> bool:
    """Whether the text before the first section heading names a talk by at least two of its own
    words (a speaker's names, the talk's subject), beyond the event and "keynote"."""
    words = {w.lower() for w in re.findall(r"[^\W\d_][\w:'’-]{3,}", talk) if w.lower() not in _COMMON_TALK_WORDS}
    if len(words) < 2:
        return False
    found = {w.lower() for w in re.findall(r"[\w:'’-]+", " ".join(_lead(blocks))[:1500])}
    return len(words & found) >= 2


def _lead_calls(blocks: list[Block], kind: str, rules: Rules) -> bool:
    """Whether the text before the first section heading speaks of a talk of this kind (the
    keynote whose launches the document reports)."""
    return any(_kind_from([text], rules.kind_titles) == kind for text in _lead(blocks))


def _link_words(link: LinkSpan, rules: Rules) -> str:
    """A link's text when it says what it links to: not a generic word, not the address itself."""
    text = link.text.strip()
    generic = rules.generic_link_texts
    if not text or (generic and generic.match(text)) or _ADDRESS.match(text):
        return ""
    return text


_ADDRESS = re.compile(r"(?i)^(?:https?://|www\.)\S*$")


def _introduction(blocks: list[Block], block: Block, link: LinkSpan, rules: Rules) -> str:
    """What a document calls a link: its own words, else the words before it in its block, else
    the paragraph just before that leads into it ("Watch the whole keynote here:" over a bare
    video address)."""
    words = _link_words(link, rules)
    if words:
        return words
    before = collapse(block.text[: link.start])
    if before:
        return before
    if block.index > 0:
        previous = blocks[block.index - 1]
        if previous.kind == PARAGRAPH and previous.text.rstrip().endswith((":", "：")):
            return previous.text
    return ""


def _without_link_words(heading: Block, rules: Rules) -> str:
    """A heading's text without the words of its generic links ("Keynote (link)" is "Keynote")."""
    text = heading.text
    generic = rules.generic_link_texts
    for link in heading.links:
        if link.text and generic and generic.match(link.text):
            text = re.sub(rf"\s*[(\[]?\s*{re.escape(link.text)}\s*[)\]]?\s*$", "", text)
    return collapse(text) or heading.text


def _video_links(blocks: list[Block], rules: Rules) -> list[tuple[Block, LinkSpan, str]]:
    out = []
    for block in blocks:
        for link in block.links:
            if rules.video_url.search(link.url):
                vid = youtube_id(link.url)
                if vid:
                    out.append((block, link, vid))
    return out


def _session_link(link: LinkSpan, rules: Rules) -> tuple[str | None, str, str] | None:
    """(video id, canonical url, url as written) of a link to a session: a video, or an event
    site's session page."""
    if rules.video_url.search(link.url):
        vid = youtube_id(link.url)
        if vid:
            return vid, youtube_url(vid), link.url
    if rules.session_url is not None and rules.session_url.search(link.url):
        return None, link.url, link.url
    return None


def _written(url: str | None, written: str | None) -> str | None:
    """The link as written, kept only where it is not the canonical one."""
    return written if written and written != url else None


def _code_in(text: str, rules: Rules) -> str | None:
    """The session code written in a text ("DAT342-R" is DAT342)."""
    if rules.prose_code is None:
        return None
    m = rules.prose_code.search(text)
    return m.group("code") if m else None


def sessions_from_blocks(
    blocks: list[Block], rules: Rules, *, title: str, event: str | None
) -> tuple[list[ConferenceSession], dict[int, str], str | None]:
    """Sessions of a recap: headings whose own section links a session (a video, an event
    site's session page) or that name a session code; and sessions named by code or linked in
    list items elsewhere.

    Returns the sessions, heading index -> session key (a session governs the launches of its
    own section only), and the key of a document-level session: a keynote recap whose only
    session link is its one video (a list of several videos governs nothing by position).
    """
    sessions: list[ConferenceSession] = []
    by_heading: dict[int, str] = {}
    seen: set[str] = set()

    def add(key: str, conf: ConferenceSession) -> None:
        if key not in seen:
            seen.add(key)
            sessions.append(conf)

    # The videos of the whole document, found once: a heading's rule and the document's read them.
    videos = _video_links(blocks, rules)
    distinct = {vid for _, _, vid in videos}
    real_headings = [b for b in blocks if b.kind == HEADING and not b.label]
    top = [h for h in real_headings if h.level <= 1]
    for h in real_headings:
        if rules.reference_headings and rules.reference_headings.search(h.text):
            continue
        if _names_the_document(h, top, title) and not _is_talk(h.text, rules):
            # The document's own title heads the whole document: a video under it is one the
            # document links, which makes the title a session only when it names a talk.
            continue
        # The distinct sessions its section links, by video or URL; over one, the section is a
        # list of talks and the heading is none of them. By index: slicing blocks[h.index + 1 :]
        # copied the rest of the list per heading.
        linked: dict[str, tuple[str | None, str, str]] = {}
        where: dict[str, tuple[Block, LinkSpan]] = {}
        # A heading that links its talk itself ("### CEO Keynote ([link](…watch?v=…))").
        for link in h.links:
            if session_link := _session_link(link, rules):
                linked.setdefault(session_link[0] or session_link[1], session_link)
        for i in range(h.index + 1, len(blocks)):
            block = blocks[i]
            if (block.kind == HEADING and not block.label) or len(linked) > 1:
                break
            for link in block.links:
                if session_link := _session_link(link, rules):
                    linked.setdefault(session_link[0] or session_link[1], session_link)
                    where.setdefault(session_link[0] or session_link[1], (block, link))
        found = next(iter(linked.values())) if len(linked) == 1 else None
        if (
            found is not None
            and found[0] is not None
            and len(distinct) == 1
            and _the_documents_talk(blocks, h, where, rules)
        ):
            # The last section of a keynote's report ends on "Watch the whole keynote:" and its
            # video: the document's talk, not one about the section's launch.
            continue
        code = _code_in(h.text, rules) or next(
            (c for lk in h.links if (c := _code_in(lk.text + " " + lk.url, rules))), None
        )
        spot = where.get(found[0] or found[1]) if found is not None else None
        if code is None and spot is not None and _a_video_of_its_own(spot[1].text, h.text, rules):
            # "To start with permissions, watch [What is IAM, in five minutes](…)": a video the
            # section recommends, titled as its own subject, is not a talk about the section.
            continue
        if found is None and code is None:
            continue
        vid, url, written = found if found else (None, None, None)
        parents = [blocks[i].text for i in h.headings]
        kind = _kind_from([h.text], rules.kind_titles) or _kind_from(parents, rules.kind_headings) or "session"
        speakers: tuple[str, ...] = ()
        if rules.speaker_heading:
            m = rules.speaker_heading.search(h.text)
            if m:
                speakers = (m.group("name").strip(),)
        if not speakers and rules.speaker_by:
            m = rules.speaker_by.search(h.text)
            if m:
                speakers = (m.group("name").strip(),)
        key = code or vid or url or h.text
        by_heading[h.index] = key
        add(
            key,
            ConferenceSession(
                key=key,
                title=_without_link_words(h, rules),
                kind=kind,
                url=url,
                written_url=_written(url, written),
                code=code,
                speakers=speakers,
                event=event,
            ),
        )
    # Sessions named in list items or paragraphs: a code with its title, a session page link.
    for block in blocks:
        if block.kind not in (BULLET, PARAGRAPH, ROW):
            continue
        for link in block.links:
            hit = _session_link(link, rules)
            code = _code_in(link.text, rules) or _code_in(link.url, rules)
            if (hit is None or hit[0] is not None) and code is None:
                continue  # plain videos in lists stay as they were: a reference list, not sessions
            url = hit[1] if hit else None
            key = code or url or link.text
            add(
                key,
                ConferenceSession(
                    key=key,
                    title=link.text or block.text[:200],
                    kind=SessionKind.SESSION,
                    url=url,
                    written_url=_written(url, hit[2] if hit else None),
                    code=code,
                    event=event,
                ),
            )
        if not block.links:
            code = _code_in(block.text, rules)
            if code and len(block.text) <= 300:
                add(
                    code,
                    ConferenceSession(key=code, title=block.text, kind=SessionKind.SESSION, code=code, event=event),
                )
    doc_key = None
    first = next((b for b in blocks if b.text.strip()), None)
    if first is not None and first.index in by_heading and first.level <= 1 and _code_in(first.text, rules):
        # The document's own title names a session by its code ("Summary of … (AIM398-NEW)"):
        # the document is about that session, whatever headings follow its title.
        doc_key = by_heading[first.index]
    if not by_heading:
        if len(distinct) == 1:
            block, link, vid = videos[0]
            link_text = _link_words(link, rules)
            introduced = _introduction(blocks, block, link, rules)
            session_title = link_text or title or vid
            headings = [b.text for b in blocks if b.kind == HEADING]
            kind = (
                _kind_from([link_text, title], rules.kind_titles)
                or _kind_from([title, *headings], rules.kind_titles)
                or _kind_from([introduced], rules.kind_titles)
                or "session"
            )
            speakers = ()
            if rules.speaker_by:
                for text in [link_text, title, *headings]:
                    m = rules.speaker_by.search(text or "")
                    if m:
                        speakers = (m.group("name").strip(),)
                        break
            # The one video covers every launch only in a document about that talk ("Keynote:
            # Adam Selipsky"); a recap, a post or a podcast page that merely links a video has
            # no session of its own.
            if title and _is_talk(title, rules):
                doc_key = vid
            elif link_text and _is_talk(link_text, rules) and _lead_names(blocks, link_text):
                # A post whose opening says it summarises that talk ("the keynote of Dr. Swami
                # Sivasubramanian … here is a summary"), the video linked in its references.
                doc_key = vid
            elif not link_text and _is_talk(introduced, rules) and _lead_calls(blocks, kind, rules):
                # A report whose opening says the launches came in a keynote and that ends on
                # "Watch the whole keynote:" over the bare video address.
                doc_key = vid
            add(
                vid,
                ConferenceSession(
                    key=vid,
                    title=session_title,
                    kind=kind,
                    url=youtube_url(vid),
                    written_url=_written(youtube_url(vid), link.url),
                    speakers=speakers,
                    event=event,
                ),
            )
        else:
            # Several videos listed with no section of their own: each is a session, none
            # covers a launch by its position.
            for block, link, vid in videos:
                generic = rules.generic_link_texts
                text = link.text if link.text and not (generic and generic.match(link.text)) else block.text[:200]
                kind = _kind_from([text], rules.kind_titles) or "session"
                url = youtube_url(vid)
                add(
                    vid,
                    ConferenceSession(
                        key=vid, title=text or vid, kind=kind, url=url, written_url=_written(url, link.url), event=event
                    ),
                )
    return _named_as_watched(sessions, blocks), by_heading, doc_key


def _named_as_watched(sessions: list[ConferenceSession], blocks: list[Block]) -> list[ConferenceSession]:
    """Sessions whose video the document also links by its watch or short link keep no other
    written link: that is how the document names it (an embed player above a transcript's
    timestamped watch links is the same video)."""
    if not any(s.written_url for s in sessions):
        return sessions
    watched = {
        vid for block in blocks for link in block.links if _WATCH_FORM.match(link.url) and (vid := youtube_id(link.url))
    }
    return [
        replace(s, written_url=None) if s.written_url and youtube_id(s.written_url) in watched else s for s in sessions
    ]


_WATCH_FORM = re.compile(r"(?i)^https?://(?:(?:www\.|m\.)?youtube\.com/watch\?|youtu\.be/)")


# --- marker + emphasis ---------------------------------------------------------------------


def _gap_ok(gap: str, rules: Rules) -> bool:
    if any(c in rules.boundary_chars for c in gap):
        return False
    words = gap.split()
    if len(words) > rules.max_gap_words:
        return False
    return not any(w.lower().strip(":") in rules.gap_stop_words for w in words)


def _marker_before(window: str, rules: Rules) -> tuple[Marker, str, int] | None:
    best: tuple[Marker, str, int] | None = None
    for marker in rules.markers:
        if marker.position != "before":
            continue
        for m in marker.pattern.finditer(window):
            gap = window[m.end() :]
            if not _gap_ok(gap, rules):
                continue
            distance = len(gap.split())
            if best is None or distance < best[2]:
                best = (marker, m.group(0).strip(), distance)
    return best


def _marker_after(after: str, rules: Rules) -> tuple[Marker, str] | None:
    for marker in rules.markers:
        if marker.position != "after":
            continue
        m = marker.pattern.match(after)
        if m:
            return marker, m.group(0).strip()
    return None


def _marker_inside(span: str, rules: Rules) -> tuple[Marker, str] | None:
    """A marker that opens the emphasised span itself ("X **now supports Y**")."""
    for marker in rules.markers:
        if marker.position != "inside":
            continue
        m = marker.pattern.match(span)
        if m:
            return marker, m.group(0).strip()
    return None


_MAX_SUBJECT_WORDS = 8


def _clause_start(text: str, s: int, rules: Rules) -> int:
    """Where the clause holding offset s starts: after the last boundary character (or ':'),
    at most a few words back, so a title keeps its subject ("Amazon AppFlow now offers ...")."""
    start = 0
    for i in range(s - 1, -1, -1):
        if text[i] in rules.boundary_chars or text[i] == ":":
            start = i + 1
            break
    words = text[start:s].split()
    if len(words) > _MAX_SUBJECT_WORDS:
        return s  # a long lead-in is prose, not the launch's subject
    return start + len(text[start:s]) - len(text[start:s].lstrip())


_PREFIX_WORD_MAX = 40  # no brand word is longer: the backward scan never reads further


def _prefix_start(text: str, s: int, rules: Rules) -> int:
    """Extend a name left over the brand words written before its emphasis ("Amazon **X**").

    A backward scan over at most one short word at a time: searching the whole prefix with a
    regular expression was quadratic on long text before a span.
    """
    start = s
    while True:
        end = start
        while end > 0 and text[end - 1].isspace():
            end -= 1
        if end == start:
            return start  # the span is glued to what precedes it
        begin = end
        while begin > 0 and not text[begin - 1].isspace() and end - begin <= _PREFIX_WORD_MAX:
            begin -= 1
        if end - begin > _PREFIX_WORD_MAX or text[begin:end].lower() not in rules.title_prefix_words:
            return start
        start = begin


# A full stop: ".", "!" or "?" followed by white space or the end of the text.
_FULL_STOP = re.compile(r"[.!?](?=\s|$)")


class _Sentences:
    """The sentences of one block's text, by the offsets of its full stops (found once: the
    many spans of one long block each searching the text for theirs was quadratic)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.stops = [m.start() for m in _FULL_STOP.finditer(text)]

    def around(self, s: int, e: int) -> str:
        """The sentence that holds the span [s, e)."""
        text = self.text
        after = bisect.bisect_left(self.stops, e)
        end = self.stops[after] if after < len(self.stops) else len(text)
        return text[self._start(s) : end].strip()

    def _start(self, s: int) -> int:
        # After the last stop before s (a stop right before s ends a sentence there too)
        # and the white space after it.
        if s > 0 and self.text[s - 1] in ".!?":
            return s
        before = bisect.bisect_left(self.stops, s - 1)
        if before == 0:
            return 0
        begin = self.stops[before - 1] + 1
        while begin < s and self.text[begin].isspace():
            begin += 1
        return begin


_ALNUM = re.compile(r"[A-Za-z0-9]")


def _is_stop(title: str, rules: Rules) -> bool:
    low = title.lower()
    if not title or low in rules.stop_phrases or len(title) > 160:
        return True
    if low.startswith(rules.stop_prefixes):
        return True
    return not _ALNUM.search(title)


_LABEL_END = re.compile(r"\s[-–—]\s|[:;]\s|[.!?](?:\s|$)|\s\(")


def _label_launch(text: str, s: int, e: int, rules: Rules) -> tuple[str, str, str] | None:
    """'**New:** Amazon X - summary' at the start of a line: (marker, title, rest)."""
    if rules.label_marker is None or text[:s].strip(" -–—*•"):
        return None
    word = strip_trailing_punct(text[s:e]).strip("*_ ")
    if not rules.label_marker.fullmatch(word):
        return None
    after = text[e:]
    lead = len(after) - len(after.lstrip(" :–—-"))
    body = after[lead:]
    m = _LABEL_END.search(body)
    name = strip_trailing_punct(body[: m.start()] if m else body)
    if not name or not (name[0].isupper() or name[0].isdigit()) or len(name.split()) > rules.label_max_words:
        return None
    return word, name, body[len(name) :]


def _clean_summary(text: str) -> str:
    return collapse(text).lstrip(" -–—:.,;)").strip()


def _summary_head(text: str, start: int, limit: int) -> str:
    """`_clean_summary(text[start:]).rstrip(" :;")`, or a prefix of it longer than limit + 1
    characters, which is all a summary cut at limit characters can show.

    A prefix of the text cleans to a prefix of the cleaned text, so growing windows are read
    until one is long enough: the many launches of one long block each read about a summary's
    length, not the rest of the block (which was quadratic).
    """
    size = limit + 64  # block text is collapsed already: one window is nearly always enough
    while True:
        end = start + size
        head = _clean_summary(text[start:end]).rstrip(" :;")
        if end >= len(text) or len(head) > limit + 1:
            return head
        size *= 2


def _context(blocks: list[Block], block: Block, *own: str) -> tuple[str, ...]:
    """Service evidence around a launch, innermost first: its own sentence and sub-bullets
    (when given), then the enclosing bullets, then the enclosing headings."""
    texts = list(own)
    texts += [b.text for b in ancestors(blocks, block)]
    texts += [blocks[i].text for i in block.headings]
    return tuple(dict.fromkeys(t for t in texts if t))


# Characters either side of a name that stand for "its own sentence" in a long block: a transcript
# pasted as one paragraph names every service of a keynote, which says nothing of one launch.
OWN_TEXT_REACH = 300


def _around(text: str, offset: int) -> str:
    """The part of a block's text around a name at offset (the whole text when it is short)."""
    if len(text) <= 2 * OWN_TEXT_REACH:
        return text
    return text[max(0, offset - OWN_TEXT_REACH) : offset + OWN_TEXT_REACH]


def _block_sessions(block: Block, session_of_heading: dict[int, str], doc_session: str | None) -> tuple[str, ...]:
    for i in block.headings:
        if i in session_of_heading:
            return (session_of_heading[i],)
    return (doc_session,) if doc_session else ()


def _summary_with_children(rest: str, blocks: list[Block], block: Block, rules: Rules, start: int = 0) -> str:
    """The summary of a launch from rest[start:], its block's text after the name, and the
    block's sub-bullets."""
    first = _summary_head(rest, start, rules.summary_max_chars)
    parts = [first] if first else []
    if block.kind == BULLET:
        parts += [c.text.rstrip(" :;") for c in children(blocks, block.index) if c.text]
    return truncate("; ".join(p.rstrip(";") for p in parts), rules.summary_max_chars)


def marker_announcements(
    blocks: list[Block],
    rules: Rules,
    *,
    event: str | None = None,
    session_of_heading: dict[int, str] | None = None,
    doc_session: str | None = None,
    base_url: str | None = None,
) -> list[Found]:
    """Emphasised spans governed by a launch marker."""
    session_of_heading = session_of_heading or {}
    found: list[Found] = []
    for block in blocks:
        if block.kind not in (BULLET, PARAGRAPH, ROW, HEADING) or block.label:
            continue
        spans = block.emphasis(rules.emphasis)
        if not spans:
            continue
        text = block.text
        text_status: list[str | None] = []  # the block's own status, read once for all its spans
        sentences: _Sentences | None = None
        for n, (s, e) in enumerate(spans):
            title = strip_trailing_punct(text[s:e])
            labelled = _label_launch(text, s, e, rules) if n == 0 else None
            if labelled is not None:
                word, name, rest = labelled
                below = [c.text for c in children(blocks, block.index)] if block.kind == BULLET else []
                found.append(
                    Found(
                        block.index,
                        s,
                        Announcement(
                            title=name,
                            summary=_summary_with_children(rest, blocks, block, rules),
                            url=next((lk.url for lk in block.links if is_launch_url(lk.url, rules)), None),
                            context=_context(blocks, block, text, "; ".join(below[:3])),
                            sessions=_block_sessions(block, session_of_heading, doc_session),
                            rule="marker-label+emphasis",
                            marker=word,
                            excerpt=text,
                            status=detect_status([word, name, text], rules),
                            event=event,
                        ),
                    )
                )
                continue
            if _is_stop(title, rules):
                continue
            prev_end = spans[n - 1][1] if n else 0
            window = text[prev_end:s]
            hit = _marker_before(window, rules)
            marker_word = None
            marker: Marker | None = None
            if hit:
                marker, marker_word, _ = hit
            else:
                next_start = spans[n + 1][0] if n + 1 < len(spans) else len(text)
                after_hit = _marker_after(text[e:next_start], rules) or _marker_inside(text[s:e], rules)
                if after_hit:
                    marker, marker_word = after_hit
            if marker is None:
                continue
            if marker.title == "clause" or marker.position == "inside":
                # The clause may begin with an earlier emphasised name: it is the subject
                # ("**AWS ML University** now provides **educator training**").
                start = _clause_start(text, s, rules)
            else:
                start = max(prev_end, _prefix_start(text, s, rules))
            title = strip_trailing_punct(text[start:e])
            url = next((lk.url for lk in block.links if is_launch_url(lk.url, rules)), None)
            status = marker.status or detect_status([title], rules)
            if status is None:
                # detect_status([title, text]): the block's text is the same for every span.
                if not text_status:
                    text_status.append(detect_status([text], rules))
                status = text_status[0]
            below = [c.text for c in children(blocks, block.index)] if block.kind == BULLET else []
            if sentences is None:
                sentences = _Sentences(text)
            ann = Announcement(
                title=title,
                summary=_summary_with_children(text, blocks, block, rules, start=e),
                url=url,
                context=_context(blocks, block, sentences.around(s, e), "; ".join(below[:3])),
                sessions=_block_sessions(block, session_of_heading, doc_session),
                rule=f"marker:{marker.name}+emphasis",
                marker=marker_word,
                excerpt=text,
                status=status,
                event=event,
            )
            found.append(Found(block.index, s, ann))
    return found


# --- link lists and roundups ---------------------------------------------------------------


def _type_marker(text: str, rules: Rules) -> tuple[str, str] | None:
    stripped = text.lstrip()
    for symbol, status in rules.type_markers:
        if stripped.startswith(symbol):
            return symbol, status
    return None


def _link_title(text: str, link: LinkSpan) -> str:
    """A link's text as a title, with a word fragment glued before it ("s[tatement-level]")."""
    start = link.start
    if 0 < start < len(text) and text[start].isalnum():
        while start > 0 and text[start - 1].isalnum():
            start -= 1
    return strip_trailing_punct(strip_site_name(text[start : link.end] if start < link.start else link.text))


def _usable_link(link: LinkSpan, rules: Rules) -> bool:
    text = strip_trailing_punct(link.text)
    if not text or not re.search(r"[A-Za-z]", text):
        return False
    return not (rules.generic_link_titles and rules.generic_link_titles.match(text))


def link_list_announcements(
    blocks: list[Block],
    rules: Rules,
    *,
    event: str | None = None,
    skip_blocks: set[int] | None = None,
    session_of_heading: dict[int, str] | None = None,
    doc_session: str | None = None,
) -> list[Found]:
    """Bullets that are one launch each: an optional type emoji, then a launch link."""
    skip_blocks = skip_blocks or set()
    session_of_heading = session_of_heading or {}
    found: list[Found] = []
    for block in blocks:
        if block.kind not in (BULLET, PARAGRAPH) or block.index in skip_blocks or not block.links:
            continue
        typed = _type_marker(block.text, rules)
        lead = len(block.text) - len(block.text.lstrip())
        if typed:
            lead += len(typed[0])
        link = block.links[0]
        if block.text[lead : link.start].strip(" -–—:*•"):
            continue  # the link does not open the bullet: prose, not a list of launches
        if block.kind == PARAGRAPH and not typed:
            continue
        if not _usable_link(link, rules) or not (typed or is_launch_url(link.url, rules)):
            continue
        # A launch link's text is its headline: "Introducing X" names X, as in a roundup.
        title = headline_title(_link_title(block.text, link), rules)
        status = (typed[1] if typed and typed[1] else None) or detect_status([title], rules)
        found.append(
            Found(
                block.index,
                link.start,
                Announcement(
                    title=title,
                    summary=truncate(_clean_summary(block.text[link.end :]), rules.summary_max_chars),
                    url=link.url,
                    context=_context(blocks, block),
                    sessions=_block_sessions(block, session_of_heading, doc_session),
                    rule="link-list" + (f":{typed[0]}" if typed else ""),
                    marker=typed[0] if typed else None,
                    excerpt=block.text,
                    status=status,
                    event=event,
                ),
            )
        )
    return found


def _section_texts(blocks: list[Block], block: Block) -> list[str]:
    return [blocks[i].text for i in block.headings]


def roundup_announcements(
    blocks: list[Block], rules: Rules, *, event: str | None = None, skip_blocks: set[int] | None = None
) -> list[Found]:
    """Every launch link listed in a roundup's bullets or link-only paragraphs."""
    skip_blocks = skip_blocks or set()
    found: list[Found] = []
    for block in blocks:
        if block.index in skip_blocks or block.kind not in (BULLET, PARAGRAPH, HEADING):
            continue
        sections = _section_texts(blocks, block)
        if sections and rules.roundup_skip_sections and rules.roundup_skip_sections.search(sections[0]):
            continue
        if block.kind == HEADING:
            if block.label and _labelled_launch(block.text, rules):
                title = _labelled_launch(block.text, rules)
                assert title is not None
                nxt = blocks[block.index + 1] if block.index + 1 < len(blocks) else None
                summary = nxt.text if nxt is not None and nxt.kind == PARAGRAPH else ""
                found.append(
                    Found(
                        block.index,
                        0,
                        Announcement(
                            title=title,
                            summary=truncate(summary, rules.summary_max_chars),
                            context=_context(blocks, block),
                            rule="roundup:label",
                            excerpt=block.text,
                            status=detect_status([block.text], rules),
                            event=event,
                        ),
                    )
                )
            continue
        links = [lk for lk in block.links if is_launch_url(lk.url, rules) and _usable_link(lk, rules)]
        opening = block.links[0] if block.links and not block.text[: block.links[0].start].strip(" -–—:*•") else None
        if not links and block.kind == BULLET and opening is not None and _usable_link(opening, rules):
            # "[Amazon Quick Suite](product page) – what it does. [Read more](post)": with no
            # launch link of its own, an item led by a product's page names its launch there.
            product = rules.candidate_patterns.get("product_link")
            if product is not None and product.search(opening.url):
                links = [opening]
        if not links:
            continue
        if block.kind == PARAGRAPH:
            # A paragraph led by a launch link ("**[X is now available](post)** to ...") is an
            # item of the roundup: its first link only, the rest is prose. A paragraph that
            # mentions a post in passing is not an item.
            if opening is None or opening is not links[0]:
                continue
            links = links[:1]
        service_tags: tuple[str, ...] = ()
        if block.strong and block.strong[0][0] <= 1:
            s, e = block.strong[0]
            if not any(lk.start <= s < lk.end for lk in block.links):
                service_tags = (strip_trailing_punct(block.text[s:e]),)
        if not service_tags and opening is not None and opening not in links:
            # "[Amazon EC2](ec2/) – new [M8a instances](post)": the item's label is its service.
            service_tags = (strip_trailing_punct(opening.text),)
        for i, link in enumerate(links):
            title = headline_title(_link_title(block.text, link), rules)
            if len(links) == 1:
                summary = _clean_summary(block.text[link.end :])
                if not summary and block.kind == PARAGRAPH:
                    nxt = blocks[block.index + 1] if block.index + 1 < len(blocks) else None
                    if nxt is not None and nxt.kind == PARAGRAPH and not nxt.links:
                        summary = nxt.text
            else:
                summary = ""
            tail = block.text[link.end : links[i + 1].start] if i + 1 < len(links) else block.text[link.end :]
            found.append(
                Found(
                    block.index,
                    link.start,
                    Announcement(
                        title=title,
                        summary=truncate(summary, rules.summary_max_chars),
                        url=link.url,
                        service_tags=service_tags,
                        context=_context(blocks, block),
                        rule="roundup:link",
                        excerpt=block.text,
                        status=detect_status([title, tail[:40]], rules),
                        event=event,
                    ),
                )
            )
    return found


_HEADLINE_REPEAT = re.compile(r"\s+[—–]\s+(?P<name>[^—–]+)$")


def headline_title(title: str, rules: Rules) -> str:
    """A roundup's launch headline as the launch's title: its leading "Announcing"/"Introducing"
    and a closing repeat of the name ("X for Y — Y", as some copies of roundups write links) go;
    the rest of the headline stays whole (it is the News Blog's or What's New's own title)."""
    m = _HEADLINE_REPEAT.search(title)
    if m and m.start() > 0:
        name = norm_words(m.group("name"))
        if name and name in norm_words(title[: m.start()]):
            title = title[: m.start()]
    lead = rules.candidate_patterns.get("headline_lead")
    m = lead.match(title) if lead is not None else None
    if m and m.end() < len(title):
        title = title[m.end() :]
    return title


def _labelled_launch(text: str, rules: Rules) -> str | None:
    """'**Kiro is now generally available**': a label that names a launch, the name."""
    m = re.match(
        r"^(?P<name>.+?)\s+(?:is|are)\s+now\s+(?:generally\s+)?available(?:\s+in\s+preview)?\b", text, re.IGNORECASE
    )
    if not m:
        return None
    name = strip_trailing_punct(m.group("name"))
    return None if _is_stop(name, rules) else name


# --- post level ------------------------------------------------------------------------------


def is_roundup(title: str, rules: Rules) -> bool:
    """A post that lists many launches (weekly roundup, top announcements)."""
    return matches_any(title, rules.roundup_titles)


def is_roundup_page(titles: Iterable[str], rules: Rules, blocks: Iterable[Block] = ()) -> bool:
    """A saved page that is a weekly roundup, by its title or its top headings, and that links
    launches as a roundup does (a summary of one written without its links is read as any recap)."""
    if not any(matches_any(t, rules.roundup_page_titles) for t in titles):
        return False
    return any(is_launch_url(link.url, rules) for block in blocks for link in block.links)


def _today_paragraph(blocks: list[Block], rules: Rules) -> Block | None:
    paragraphs = [b for b in blocks if b.kind == PARAGRAPH and b.text][: rules.today_window]
    if rules.today_paragraph is None:
        return None
    for p in paragraphs:
        if rules.today_paragraph.search(p.text):
            return p
    return None


# Words that any title and any opening may share: they name nothing in particular.
_UNNAMING = frozenset("amazon aws the and for with new now your you from into what how".split())


def _shares_a_name(title: str, text: str) -> bool:
    """Whether a title and a paragraph share a word that names something (not "Amazon", "new")."""
    words = {w for w in norm_words(title).split() if len(w) > 2 and w not in _UNNAMING}
    return bool(words & set(norm_words(text).split()))


def _announced_name(title: str, today: Block, rules: Rules, event: str | None) -> str | None:
    """The name a post's opening announces ("Today, we're announcing X …"), when the title is about it."""
    sentence = rules.candidate_patterns.get("announce_sentence")
    if sentence is None:
        return None
    for c in cands.sentence_candidates(today, sentence, rules, event):
        if _shares_a_name(c.announcement.title, title):
            return c.announcement.title
    return None


def post_announcement(
    *,
    title: str,
    categories: tuple[str, ...],
    blocks: list[Block],
    url: str | None,
    published_at: datetime | None,
    rules: Rules,
    event: str | None,
) -> Announcement | None:
    """The post itself as one launch, when its title, categories or opening say so."""
    if not title or matches_any(title, rules.stop_titles) or is_roundup(title, rules):
        return None
    today = _today_paragraph(blocks, rules)
    rule = None
    if matches_any(title, rules.title_markers):
        rule = "post:title"
    elif any(matches_any(c, rules.launch_categories) for c in categories):
        rule = "post:category"
    elif today is not None and _shares_a_name(title, today.text):
        # "Today we launch X" opens a launch post only when X is what the title is about: a
        # newsletter whose first story says "today at re:Invent, Y was announced" is a digest.
        rule = "post:today"
    if rule is None:
        return None
    name = title
    if rule != "post:title" and today is not None:
        # A headline that sells the launch ("Accelerate serverless testing with LocalStack
        # integration in VS Code IDE") is not its name; the opening that announces it gives it.
        name = _announced_name(title, today, rules, event) or title
    first = today or next((b for b in blocks if b.kind == PARAGRAPH and len(b.text) > 40), None)
    summary = first.text if first is not None else ""
    if first is not None and len(summary) < 200:
        nxt = next((b for b in blocks[first.index + 1 :] if b.kind == PARAGRAPH), None)
        if nxt is not None and nxt.kind == PARAGRAPH and not nxt.label:
            summary = f"{summary} {nxt.text}"
    tags = tuple(c for c in categories if c.lower() not in rules.ignore_categories)
    return Announcement(
        title=name,
        summary=truncate(summary, rules.summary_max_chars),
        url=url,
        published_at=published_at,
        service_tags=tags,
        rule=rule,
        excerpt=title,
        # What names its services when the title and the categories name none: its opening.
        context=(summary,) if summary else (),
        status=detect_status([title, summary[:300]], rules),
        event=event,
    )


# --- assembly --------------------------------------------------------------------------------


def body_announcements(
    blocks: list[Block],
    rules: Rules,
    *,
    event: str | None,
    roundup: bool = False,
    session_of_heading: dict[int, str] | None = None,
    doc_session: str | None = None,
    link_lists: bool = True,
    post: bool = False,
) -> list[Announcement]:
    """Every launch of the blocks, one per name, in document order.

    The marker rules and the generic candidate forms (candidates.py) both propose; with a
    fitted model (rules.model) every proposal is scored and the model decides; without one
    only the marker rules' proposals count.
    """
    session_of_heading = session_of_heading or {}
    found = marker_announcements(
        blocks, rules, event=event, session_of_heading=session_of_heading, doc_session=doc_session
    )
    used = {f.block for f in found}
    if roundup:
        found += roundup_announcements(blocks, rules, event=event, skip_blocks=used)
    elif link_lists:
        found += link_list_announcements(
            blocks,
            rules,
            event=event,
            skip_blocks=used,
            session_of_heading=session_of_heading,
            doc_session=doc_session,
        )
    weak = {m.name for m in rules.markers if m.weak}
    proposed = [
        cands.Candidate(f.block, f.offset, f.announcement, {_generator_of(f.announcement.rule, weak)}) for f in found
    ]
    recorder = cands.RECORDER.get()
    # In a post's body or a roundup the generic forms are in the "post" regime, which the model
    # never accepts (the rules read such documents by structure): they are enumerated only for
    # someone who looks at them (fitting, --explain), not for every document of a backfill.
    hopeless = (post or roundup) and rules.model is not None and rules.model.never_accepts("post")
    if (rules.model is not None and not hopeless) or recorder is not None:
        ruled: dict[int, set[str]] = {}
        for f in found:
            ruled.setdefault(f.block, set()).add(norm_words(f.announcement.title))
        read = frozenset((f.block, f.offset) for f in found)
        for c in cands.generate(blocks, rules, event=event, read=read):
            if c.block in session_of_heading:
                continue  # a session's own heading names the session, not a launch
            if c.block in ruled and norm_words(c.announcement.title) not in ruled[c.block]:
                continue  # the marker rules have read this block: another reading of it is noise
            proposed.append(c)
    merged = cands.merge(proposed)
    cands.describe(merged, blocks, rules, cands.DocContext(post=post, roundup=roundup))
    for c in merged:
        if rules.model is not None:
            c.score = rules.model.score(c.features)
        else:
            c.score = 0.0 if c.announcement.rule.startswith("candidate:") else 1.0
    if recorder is not None:
        recorder.extend(merged)
    model = rules.model
    if model is not None:
        chosen = cands.choose(merged, lambda c: c.forced or c.score >= model.threshold_for(c.features), blocks)
    else:
        chosen = cands.choose(merged, lambda c: c.score >= 0.5, blocks)
    for c in chosen:
        if c.announcement.rule.startswith("candidate:"):
            # Context and sessions of the generic forms, for the chosen ones only: nothing
            # before the choice reads them, and most candidates are not chosen.
            block = blocks[c.block]
            c.announcement = replace(
                c.announcement,
                context=_context(blocks, block, _around(block.text, c.offset)),
                sessions=_block_sessions(block, session_of_heading, doc_session),
            )
    return [cands.to_announcement(c) for c in chosen]


def _generator_of(rule: str, weak: set[str]) -> str:
    """The form a marker rule's proposal came from: "marker:announcing", "link-list", ..."""
    head = rule.split("+")[0]
    if head.startswith("link-list"):
        return "link-list"
    if head.startswith("marker:") and head.removeprefix("marker:") in weak:
        return "marker-weak:" + head.removeprefix("marker:")
    return head


def number(announcements: list[Announcement]) -> tuple[Announcement, ...]:
    """Positions 0..n-1 in document order."""
    from dataclasses import replace

    return tuple(replace(a, position=i) for i, a in enumerate(announcements))


def drop_covered_by(title: str, announcements: list[Announcement]) -> list[Announcement]:
    """Body announcements already named by the post's own title."""
    norm_title = norm_words(title)
    return [a for a in announcements if not (norm_words(a.title) and norm_words(a.title) in norm_title)]


def drop_weak(announcements: list[Announcement], rules: Rules) -> list[Announcement]:
    """Body announcements of a launch post found only by a weak marker: features of that launch."""
    weak = {m.name for m in rules.markers if m.weak}
    # A line opened by "**Now available**" in a launch post describes that launch too.
    weak.add("marker-label")
    return [a for a in announcements if a.rule.removeprefix("marker:").split("+")[0] not in weak]
