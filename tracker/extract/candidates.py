"""Candidate launches, the features that describe them, and the choice among them.

The marker rules of announce.py find the launches their authors wrote the way the rules
expect. Writers use many other forms: a heading per launch, a list of bold or linked names
with a description, "Announcing X - ..." without emphasis, a plain list under "New
announcements", a keynote transcript ("we are announcing the new X"). Every such form is
enumerated here as a *candidate*, described by features (which forms found it, the block it
stands in, the section above it, the shape of its name, the services it names, its link, how
many of its siblings are candidates too) and scored by a logistic model fitted on hand-labelled
documents (model.py; fitted by learn.py). The candidates the model accepts are the launches.

Everything here is linear in the length of the document: no regular expression is searched
over a growing prefix, and each block is visited a bounded number of times.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

from tracker.extract.blocks import BULLET, HEADING, PARAGRAPH, ROW, Block, LinkSpan, children
from tracker.extract.rules import Rules
from tracker.extract.text import (
    collapse,
    detect_status,
    is_launch_url,
    norm_words,
    strip_site_name,
    strip_trailing_punct,
    truncate,
)
from tracker.items import Announcement, ServicesNamed

log = logging.getLogger(__name__)

# Forms of the marker rules (announce.py) other than the markers themselves.
_RULE_FAMILIES = {"marker-label", "link-list", "roundup:link", "roundup:label"}


@dataclass
class Candidate:
    """A possible launch: where it stands, what it would be, and its features."""

    block: int
    offset: int
    announcement: Announcement
    generators: set[str] = field(default_factory=set)
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    spoken: bool = False  # a speaker's "today I'm excited to announce X"
    forced: bool = False  # taken whatever its score: a marker the model does not weigh


@dataclass(frozen=True)
class DocContext:
    """What a candidate's features need to know of its document."""

    post: bool = False  # the body of a post that is itself one launch
    roundup: bool = False


# From this many blocks with a marker-rule launch on, a document "marks" its launches.
MARKED_DOC_MIN = 3

# A recorder the learner sets to see every candidate with its features (contextvars, so that
# extraction stays a pure function for every other caller).
RECORDER: contextvars.ContextVar[list[Candidate] | None] = contextvars.ContextVar("candidate_recorder", default=None)


# --- cleaning ----------------------------------------------------------------------------------

_EMOJI = re.compile("^[\\s\u2600-\u27bf\U0001f000-\U0001faff\u2b00-\u2bff\ufe0f\u200d*•·▪►▶✅✔☑→⇒>#-]+")
# What a scraper leaves before a text (the "]", "," and an unclosed "[" of a list it printed): a
# closing bracket, a separator, or an opening bracket never closed, never starts a name.
_LEFT_OVER = " \t\n]),;"


def _left_over(title: str) -> str:
    title = title.lstrip(_LEFT_OVER)
    if title[:1] == "[" and title[1:2].isspace() and "]" not in title:
        title = title[1:].lstrip(_LEFT_OVER)
    return title


# "1. X", "a) X", "(2) X", a section's number "2.1 X", a digest's rank "[2]X", and a ranking:
# "Top 3 - X", "No. 2 – X".
_NUMBERING = re.compile(
    r"^\s*(?:\d{1,3}[.)]|[a-z][.)]|\(\d{1,3}\)|\d{1,2}(?:\.\d{1,2}){1,3}\.?)\s+|^\s*\[\d{1,3}\]\s*"
    r"|^\s*(?i:top|no\.?)\s*\d{1,3}\s*[-–—:.)]\s+"
)
# What joins two names that lead a paragraph together: "[X] and [Y]", "**X**, **Y**".
_JOINED = re.compile(r"^\s*(?:,|&|\+|and|or)?\s*$")
# "Finally! Amazon X announces …": one exclaimed word before the headline is the writer's, not the name's.
_INTERJECTION = re.compile(r"^[A-Z][a-z]{1,11}!\s+(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z0-9][\w'’.+/&-]*")


def _pattern(rules: Rules, name: str) -> re.Pattern[str] | None:
    return rules.candidate_patterns.get(name)


# Cleaned titles, by text and rules: the same names recur across a backfill's documents (a recap
# lists the titles What's New gave them, a roundup repeats its bullets' links), and a cleaning
# runs a dozen patterns; four in five cleanings of a backfill were of a text cleaned before.
# Keyed by the rules' id (`Rules` is not hashable), with the rules kept in the entry so that an
# id reused by other rules is never taken for theirs. Bounded: short texts only, cleared when full.
_CLEANED: dict[tuple[str, int], tuple[Rules, tuple[str, str | None]]] = {}
_CLEANED_TEXT = 300  # characters: names and link texts, not paragraphs
_CLEANED_SIZE = 32_768  # texts


def clean_title(text: str, rules: Rules) -> tuple[str, str | None]:
    """A launch's name from the text that carries it, and the status the text gave it.

    Leading numbering, emoji and launch words go ("Announcing", "New service:"), a closing
    status tag goes ("(preview)", "NEW", "is now generally available") and a description after
    the name goes ("Amazon Foo: faster widgets" is "Amazon Foo").
    """
    if len(text) > _CLEANED_TEXT:
        return _clean_title(text, rules)
    key = (text, id(rules))
    known = _CLEANED.get(key)
    if known is not None and known[0] is rules:
        return known[1]
    cleaned = _clean_title(text, rules)
    if len(_CLEANED) >= _CLEANED_SIZE:
        _CLEANED.clear()
    _CLEANED[key] = (rules, cleaned)
    return cleaned


def _clean_title(text: str, rules: Rules) -> tuple[str, str | None]:
    status = detect_status([text], rules)
    title = strip_site_name(collapse(text))
    title = _left_over(title)
    title = _EMOJI.sub("", title)
    title = _NUMBERING.sub("", title)
    title = _INTERJECTION.sub("", title)
    lead = _pattern(rules, "lead_marker")
    led = False
    for _ in range(2):  # "New: Announcing X"
        if lead is None:
            break
        m = lead.match(title)
        if not m or m.end() >= len(title):
            break
        title = title[m.end() :]
        led = True
    keep_first_end = False
    new_for = _pattern(rules, "new_for")
    m = new_for.match(title) if led and new_for is not None else None
    if m:
        # "New for AWS Lambda – Container Image Support": the product and its feature.
        title = title[m.end() :]
        keep_first_end = True
    headline = _pattern(rules, "company_headline")
    m = headline.match(title) if headline is not None else None
    if m and m.end() < len(title):
        # "AWS announces DevOps Guru to find operational issues": the object, without its purpose.
        title = title[m.end() :]
        purpose = _pattern(rules, "purpose_clause")
        p = purpose.search(title) if purpose is not None else None
        if p and p.start() > 0:
            title = title[: p.start()]
    end = _pattern(rules, "name_end")
    if end is not None:
        m = end.search(title)
        if m and keep_first_end:
            m = end.search(title, m.end())
        if m and m.start() > 0:
            title = title[: m.start()]
    tag = _pattern(rules, "trailing_tag")
    if tag is not None:
        m = tag.search(title)
        if m and m.start() > 0:
            title = title[: m.start()]
    title = strip_trailing_punct(title.strip(" *_`'\"“”‘’-–—:|"))
    return title, status


# "Lambda: Provisioned Concurrency": after a service's bare name and a colon, a short name in
# capitals, and nothing more.
# Words apart only where spaces part them: pieces of one word tried every way were exponential.
_FEATURE_AFTER = re.compile(r"\s*:\s+([A-Z0-9][\w.'’/&+-]*(?:\s+[A-Z0-9][\w.'’/&+-]*){0,4})\s*$")
# "Amazon S3: Batch data verification in S3 Batch Operations for large-scale checks": in a list
# item, after a service's bare name and a colon, a capitalised phrase of a few words up to the
# word that starts its description ("to", "for", "with", "that", a dash, a comma).
_FEATURE_PHRASE = re.compile(
    r"\s*:\s+([A-Z0-9][\w'’/&+-]*(?:\.\w+)*(?:\s+[\w'’/&+-]+(?:\.\w+)*){0,7}?)"
    r"(?:\s+(?:to|for|that|which|so|with|without|by|across|from|on)\s|\s*[,;–—(]|\s+-\s|\.(?:\s|$))"
)
_SPELLED_AS_NAME = 0.99  # the share of a title the service's name covers: all of it


def _service_and_feature(title: str, text: str, rules: Rules, described: bool = False) -> str:
    """The title of "Service: Feature Name" as that whole, not the service's bare name alone
    (which `clean_title` leaves, cutting at the colon as it cuts "Amazon Foo: faster widgets");
    `described`: an item may go on with the feature's description after its name."""
    if ":" not in text:
        return title
    flat = collapse(text)
    start = flat.find(title)
    if start == -1:
        return title
    after = flat[start + len(title) :].rstrip(" *_`")
    m = _FEATURE_AFTER.match(after)
    if m is None and described:
        m = _FEATURE_PHRASE.match(after)
        definition = _pattern(rules, "definition_phrase")
        if m is not None and definition is not None and definition.search(m.group(1)):
            return title
    if m is None:
        return title
    named = _default_services_in()(title)
    if named.services != 1 or named.coverage < _SPELLED_AS_NAME:
        return title
    feature, _ = clean_title(m.group(1), rules)
    return f"{title}: {feature}" if feature and usable(feature, rules) else title


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


# Chinese and Japanese do not space their words: a run of their characters counts a word per two.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def _length_in_words(text: str) -> int:
    """How many words a title holds in any script: "STS는 Pod의 SDK에게 임시 자격증명을 전달한다" is a
    sentence of six, not a name of three (`_words` counts Latin words, a CJK run as part of one)."""
    count = 0
    for token in text.split():
        unspaced = len(_UNSPACED.findall(token))
        if unspaced:
            count += len(_WORD.findall(_UNSPACED.sub(" ", token))) + (unspaced + 1) // 2
        elif _LETTER_OR_DIGIT.search(token):
            count += max(1, len(_WORD.findall(token)))
    return count


# A word shaped like part of a product's name: an inner capital ("SageMaker", "DynamoDB"), an
# acronym of three letters or more ("EKS", "IAM"; "ML" and "AI" are words), or a digit ("M8a", "gp3", "1.34").
_PRODUCT_WORD = re.compile(r"^(?:[A-Za-z][a-z]+[A-Z][\w]*|[A-Z]{3,}[a-z]?s?|\w*\d\w*)$")


def names_something(title: str, services: int) -> bool:
    """Whether a title names a product at all: a known service, a brand, or a word shaped like a name."""
    words = _words(title)
    if services or (words and words[0].lower() in ("amazon", "aws")):
        return True
    return any(_PRODUCT_WORD.match(w.strip(".'’")) for w in words)


# From this many words on, a title ending as a Korean sentence is one; shorter, it may be a name
# that ends on the same syllable, and the model weighs `sentence_end`.
SENTENCE_MIN_WORDS = 4


# The end of a title that end-anchored patterns ("… Developer Guide", "EKS 관련") need to see.
_TAIL_CHARS = 48


def usable(title: str, rules: Rules) -> bool:
    """Whether a cleaned title can be a name at all."""
    if not title or not re.search(r"[A-Za-z]", title):
        return False
    generic = _pattern(rules, "generic_title")
    if generic is not None and generic.match(title):
        return False
    # Each pattern reads only what it can match: the end of the title for the end-anchored ones,
    # and not at all where the title lacks what they need (a comma, a non-ASCII letter).
    tail = title[-_TAIL_CHARS:]
    for name, text in (
        ("report_title", title),
        ("reference_title", tail),
        ("glossary_title", title if title[:4].lower() == "what" or not title.isascii() else ""),
        ("person_title", title if "," in title else ""),
        ("topic_title", "" if tail.isascii() else tail),
    ):
        pattern = _pattern(rules, name)
        if text and pattern is not None and pattern.search(text):
            return False
    last = title.rsplit(None, 1)[-1]
    fragment = _pattern(rules, "fragment_end")
    if fragment is not None and fragment.fullmatch(last):
        return False
    ending = _pattern(rules, "sentence_end")
    if ending is not None and ending.search(last) and _length_in_words(title) >= SENTENCE_MIN_WORDS:
        return False  # a Korean sentence ("… 자격증명을 전달한다"), not a name
    words = _words(title)
    return 0 < len(words) <= rules.candidate_max_words


# --- generators ----------------------------------------------------------------------------------


def _candidate(
    block: Block,
    offset: int,
    title: str,
    status: str | None,
    generator: str,
    *,
    summary: str = "",
    url: str | None = None,
    rules: Rules,
    event: str | None,
    marker: str | None = None,
) -> Candidate:
    return Candidate(
        block=block.index,
        offset=offset,
        announcement=Announcement(
            title=title,
            summary=truncate(collapse(summary).lstrip(" -–—:.,;)").strip(), rules.summary_max_chars),
            url=url,
            rule=f"candidate:{generator}",
            marker=marker,
            excerpt=block.text,
            status=status,
            event=event,
        ),
        generators={generator},
    )


def _next_text(blocks: list[Block], block: Block) -> str:
    nxt = blocks[block.index + 1] if block.index + 1 < len(blocks) else None
    return nxt.text if nxt is not None and nxt.kind in (PARAGRAPH, BULLET) else ""


def _first_launch_url(block: Block, rules: Rules) -> str | None:
    return next((lk.url for lk in block.links if is_launch_url(lk.url, rules)), None)


def _launch_url_below(blocks: list[Block], index: int, rules: Rules) -> str | None:
    """The launch link right under a title block that has none of its own (`_link_below`)."""
    url = _link_below(blocks, index)
    return url if url and is_launch_url(url, rules) else None


def generate(
    blocks: list[Block], rules: Rules, *, event: str | None, read: frozenset[tuple[int, int]] = frozenset()
) -> list[Candidate]:
    """Every candidate of the forms the marker rules do not cover, in document order.

    `read` holds the (block, offset) where the marker rules took a name: a launch sentence whose
    name starts there ("Announcing **X**") is that reading again, and is not read twice.
    """
    out: list[Candidate] = []
    sentence = _pattern(rules, "announce_sentence")
    status_verb = _pattern(rules, "status_sentence")
    lead = _pattern(rules, "lead_marker")
    h1_count = sum(1 for b in blocks if b.kind == HEADING and b.level == 1)
    named: set[str] = set()  # the names written in prose so far: each is a candidate once
    for block in blocks:
        text = block.text
        if not text:
            continue
        if len(text) > 2000:
            # A wall of text (a transcript, a long paragraph): only sentences can hold a launch.
            if sentence is not None:
                out.extend(_sentences(block, sentence, rules, event, read))
            if status_verb is not None:
                out.extend(_status_sentences(block, status_verb, rules, event))
            out.extend(_inline_launch_links(block, None, rules, event))
            out.extend(_prose_names(block, rules, event, named))
            continue
        if block.kind == HEADING:
            if block.level <= 1 and h1_count <= 1:
                continue  # the document's own title
            title, status = clean_title(text, rules)
            title = _service_and_feature(title, text, rules)
            if usable(title, rules):
                gen = "label" if block.label else "heading"
                out.append(
                    _candidate(
                        block,
                        0,
                        title,
                        status,
                        gen,
                        summary=_next_text(blocks, block),
                        url=_first_launch_url(block, rules) or _launch_url_below(blocks, block.index, rules),
                        rules=rules,
                        event=event,
                    )
                )
            continue
        if block.kind not in (BULLET, PARAGRAPH, ROW):
            continue
        body = _NUMBERING.sub("", _EMOJI.sub("", text))
        skipped = len(text) - len(body)
        marker_word = None
        if lead is not None:
            m = lead.match(body)
            if m and m.end() < len(body):
                marker_word = body[: m.end()].strip(" :-–—")
        spans = sorted(set(block.strong) | {(lk.start, lk.end) for lk in block.links})
        opening = next(
            (
                sp
                for sp in spans
                if sp[0] <= skipped + (len(marker_word or "") + 2 if marker_word else 0)
                and not text[: sp[0]].strip(" -–—:*•|#>0123456789.)(")[len(text) - len(body) :].strip()
            ),
            None,
        )
        if opening is None and spans and spans[0][0] <= skipped + 1:
            opening = spans[0]
        if opening is not None:
            s, e = opening
            link = next((lk for lk in block.links if lk.start <= s < lk.end or s <= lk.start < e), None)
            strong = any(a <= s < b or s <= a < e for a, b in block.strong)
            kind = (
                "lead:strong-link"
                if link is not None and strong
                else "lead:link"
                if link is not None
                else "lead:strong"
            )
            raw = text[s:e]
            title, status = clean_title(raw, rules)
            if not usable(title, rules) and link is not None:
                title, status = clean_title(link.text, rules)
            status = status or detect_status([text[e : e + 60]], rules)
            if usable(title, rules):
                rest = text[e:]
                summary = rest
                if block.kind == BULLET:
                    below = [c.text for c in children(blocks, block.index)[:3]]
                    summary = "; ".join(p for p in [rest.strip(" -–—:"), *below] if p)
                # "[Control Tower] and [Security Hub] - …": names joined at the head of one
                # paragraph lead it together, each of the same form as the first.
                heads = [(s, title, status, link)]
                for s2, e2 in spans:
                    if s2 < e:
                        continue  # the first name itself, or a span inside it
                    if not _JOINED.match(text[e:s2]):
                        break
                    link2 = next((lk for lk in block.links if lk.start <= s2 < lk.end), None)
                    title2, status2 = clean_title(text[s2:e2], rules)
                    if (link2 is None) != (link is None) or not usable(title2, rules):
                        break
                    heads.append((s2, title2, status2, link2))
                    e = e2
                for at, name, stage, linked in heads:
                    out.append(
                        _candidate(
                            block,
                            at,
                            name,
                            stage,
                            kind,
                            summary=summary,
                            url=linked.url if linked is not None else _first_launch_url(block, rules),
                            rules=rules,
                            event=event,
                            marker=marker_word,
                        )
                    )
        else:
            title, status = clean_title(body, rules)
            title = _service_and_feature(title, body, rules, described=block.kind == BULLET)
            # A name cut from what follows it ("Amazon Foo: faster widgets"), not a sentence
            # that merely lost its full stop ("Some prose about it.").
            if usable(title, rules) and collapse(body).rstrip(" .!?") not in (title, ""):
                gen = "plain-marker" if marker_word else "colon"
                rest = body[len(title) :] if body.startswith(title) else ""
                out.append(
                    _candidate(
                        block,
                        skipped,
                        title,
                        status,
                        gen,
                        summary=rest,
                        url=_first_launch_url(block, rules),
                        rules=rules,
                        event=event,
                        marker=marker_word,
                    )
                )
            elif (
                usable(title, rules)
                and block.kind == PARAGRAPH
                and (link_below := _launch_url_below(blocks, block.index, rules))
            ):
                # A headline standing alone with its launch link on the next line (a digest
                # page of "title / Link: …/whats-new/… / summary" panels).
                out.append(
                    _candidate(block, skipped, title, status, "titled-link", url=link_below, rules=rules, event=event)
                )
            elif usable(title, rules) and block.kind == BULLET:
                out.append(
                    _candidate(
                        block,
                        skipped,
                        title,
                        status,
                        "item",
                        url=_first_launch_url(block, rules),
                        rules=rules,
                        event=event,
                    )
                )
        if sentence is not None and block.kind in (PARAGRAPH, BULLET) and len(text) > 40:
            out.extend(_sentences(block, sentence, rules, event, read))
        if status_verb is not None and block.kind in (PARAGRAPH, BULLET):
            out.extend(_status_sentences(block, status_verb, rules, event))
        out.extend(_inline_launch_links(block, opening, rules, event))
        if block.kind in (PARAGRAPH, BULLET) and len(text) > 40:
            out.extend(_prose_names(block, rules, event, named))
    return out


NEWS_CUE_REACH = 80  # characters either side of a name in prose where a launch word may call it news


def news_cues(text: str, start: int, end: int, cue: re.Pattern[str]) -> tuple[bool, bool]:
    """Whether a launch word stands just before the name text[start:end], and just after it."""
    return (
        bool(cue.search(text[max(0, start - NEWS_CUE_REACH) : start])),
        bool(cue.search(text[end : end + NEWS_CUE_REACH])),
    )


def _prose_names(block: Block, rules: Rules, event: str | None, named: set[str]) -> list[Candidate]:
    """Brand-led names written in prose ("One such service is Amazon Kelp Lake, which …"), each
    at its first mention in the document: whether it is a launch is the model's to say."""
    pattern = _pattern(rules, "prose_name")
    cue = _pattern(rules, "launch_word")
    if pattern is None or cue is None:
        return []
    out: list[Candidate] = []
    text = block.text
    for m in pattern.finditer(text):
        if any(
            lk.start <= m.start()
            and m.end() <= lk.end
            and (m.start(), m.end()) != (lk.start, lk.end)
            and _headline_of(lk, rules) is not None
            for lk in block.links
        ):
            # A headline linked into What's New ("[Amazon Foo now logs actions using AWS Bar](…)")
            # is read whole (`_inline_launch_links`): a name inside it is what the launch uses.
            continue
        title, status = clean_title(m.group(0), rules)
        key = norm_words(title)
        if key in named or not usable(title, rules):
            continue
        named.add(key)
        if not any(news_cues(text, m.start(), m.end(), cue)):
            continue  # a name in passing ("store it in Amazon S3"): nothing says it is news
        out.append(
            _candidate(
                block,
                m.start(),
                title,
                status,
                "prose-name",
                summary=text[m.end() : m.end() + 300],
                url=_first_launch_url(block, rules),
                rules=rules,
                event=event,
            )
        )
    return out


def _headline_of(link: LinkSpan, rules: Rules) -> tuple[str, str | None] | None:
    """A link into What's New whose text can be a name: that name and its status, else None."""
    whats_new = _pattern(rules, "whats_new_link")
    if whats_new is None or not whats_new.search(link.url):
        return None
    title, status = clean_title(link.text, rules)
    return (title, status) if usable(title, rules) else None


def _inline_launch_links(
    block: Block, opening: tuple[int, int] | None, rules: Rules, event: str | None
) -> list[Candidate]:
    """Links into What's New inside prose ("you can now use [Amazon EC2 M1 Mac instances](…)"):
    the link text, when it can be a name."""
    out: list[Candidate] = []
    if block.kind not in (PARAGRAPH, BULLET):
        return out
    for link in block.links:
        if opening is not None and link.start <= opening[0] < link.end:
            continue  # the block's own opening: read above
        headline = _headline_of(link, rules)
        if headline is not None:
            title, status = headline
            out.append(
                _candidate(
                    block,
                    link.start,
                    title,
                    status,
                    "inline:link",
                    summary=block.text[link.end : link.end + 300],
                    url=link.url,
                    rules=rules,
                    event=event,
                )
            )
    return out


def _sentences(
    block: Block, sentence: re.Pattern[str], rules: Rules, event: str | None, read: frozenset[tuple[int, int]]
) -> list[Candidate]:
    """ "we are announcing the new X": X, with its sentence as summary."""
    out: list[Candidate] = []
    text = block.text
    spoken = _pattern(rules, "spoken_announce")
    recalled = _pattern(rules, "recalled_launch")
    for m in sentence.finditer(text):
        if (block.index, m.end()) in read:
            continue
        past = m.group(0).split()[0].lower().endswith("ed")
        if past and recalled is not None and recalled.search(text[max(0, m.start() - 60) : m.start()]):
            continue
        name = _name_after(text, m.end())
        head = text[m.end() : m.end() + 60]
        colon = head.find(": ")
        if colon != -1 and not _CLAUSE_END.search(head[:colon]):
            # "the launch of a new bucket type: S3 Table Buckets": the name is what the colon gives.
            name = _name_after(text, m.end() + colon + 2) or name
        if not name:
            continue
        title, status = clean_title(name, rules)
        if usable(title, rules):
            # The sentence around the name, bounded, as its summary (never the whole block).
            start = max(0, m.start() - 200)
            out.append(
                _candidate(
                    block,
                    m.end(),
                    title,
                    status,
                    "sentence",
                    summary=text[start : m.end() + 300],
                    url=_first_launch_url(block, rules),
                    rules=rules,
                    event=event,
                    marker=m.group(0).split()[0],
                )
            )
            if spoken is not None and not past and spoken.search(text[max(0, m.start() - 80) : m.start()]):
                # "Today I'm excited to announce X": a speaker's marker, as "Announcing **X**" is a writer's.
                out[-1].spoken = True
    return out


def sentence_candidates(block: Block, sentence: re.Pattern[str], rules: Rules, event: str | None) -> list[Candidate]:
    """The names a block's launch sentences announce ("we are announcing the new X": X)."""
    return _sentences(block, sentence, rules, event, frozenset())


def _status_sentences(block: Block, status: re.Pattern[str], rules: Rules, event: str | None) -> list[Candidate]:
    """ "SAM Accelerate is generally available", "Agents for Bedrock were launched": the name
    before the status verb, with its sentence as summary."""
    out: list[Candidate] = []
    text = block.text
    for m in status.finditer(text):
        if _RECALLED_AFTER.match(text, m.end()):
            continue  # "X was launched in 2019": recalled, not announced
        name = _name_before(text, m.start())
        if not name:
            continue
        title, state = clean_title(name, rules)
        if usable(title, rules):
            start = max(0, m.start() - len(name) - 100)
            out.append(
                _candidate(
                    block,
                    m.start() - len(name),
                    title,
                    state,
                    "status",
                    summary=text[start : m.end() + 300],
                    url=_first_launch_url(block, rules),
                    rules=rules,
                    event=event,
                )
            )
    return out


# After a status verb, a time that makes it history ("was launched in 2019", "last year").
_RECALLED_AFTER = re.compile(
    r"(?i)[^.!?]{0,30}\b(?:in (?:19|20)\d\d|last (?:year|month|week)|years? ago|months? ago|back in|before|earlier this year)\b"
)
# Words that may stand inside a name read backwards from its verb ("Lambda Powertools for TypeScript").
_NAME_JOINERS = frozenset(("for", "of", "on", "in", "with", "to", "and", "&", "-"))


def _name_before(text: str, end: int) -> str:
    """The name that ends at `end`, read backwards: capitalised words (or digits, or words with
    an inner capital) and the joiners between them, up to punctuation or a lower-case word, at
    most 8 words."""
    window = text[max(0, end - 160) : end]
    words: list[str] = []
    pos = len(window)
    for m in reversed(list(_NAME_WORD.finditer(window))):
        between = window[m.end() : pos]
        if between.strip(" *_`") or "\n" in between:
            break  # punctuation between two words ends the name
        word = m.group(0).rstrip(".")
        if not word or m.group(0).endswith(".") and words:
            break
        lower = word.lower()
        if lower in _NAME_STOP:
            break
        shaped = word[:1].isupper() or word[:1].isdigit() or any(ch.isupper() for ch in word[1:])
        if not shaped and lower not in _NAME_JOINERS:
            break
        words.append(word)
        pos = m.start()
        if len(words) >= 8:
            break
    words.reverse()
    while words and words[0].lower() in _NAME_JOINERS:
        words.pop(0)
    if not words or not (words[0][:1].isupper() or words[0][:1].isdigit()):
        return ""
    return " ".join(words)


_DIGIT = re.compile(r"\d")
_CLAUSE_END = re.compile(r"[.!?;]")
_TODAY = re.compile(r"\b(?:today|excited|pleased|happy|thrilled|proud|delighted)\b")
_NAME_WORD = re.compile(r"[\w'’.+/&-]+")
# Words that end a spoken or written name ("the new X that lets you ...").
_NAME_STOP = frozenset(
    "that which who where when so because to is are was were will can lets let allows allow enables enable "
    "helps help gives give makes make brings bring with from at by as but or than into you we our it this "
    "these those there here today now".split()
)


def _name_after(text: str, start: int) -> str:
    """The name that starts at `start` ("Amazon Foo for Bar", "P6 family of instances"): words
    up to a clause word or punctuation, at most 10, starting with a capital or a digit."""
    words: list[str] = []
    pos = start
    while len(words) < 10:
        while pos < len(text) and text[pos] == " ":
            pos += 1
        m = _NAME_WORD.match(text, pos)
        if not m:
            break
        word = m.group(0).rstrip(".")
        if word.lower() in _NAME_STOP:
            break
        words.append(word)
        if m.group(0).endswith(".") or (m.end() < len(text) and text[m.end()] in ',;:!?()"“”'):
            break
        pos = m.end()
    while words and (words[-1].lower() in ("for", "and", "of", "on", "in", "the", "a", "an", "&")):
        words.pop()
    while words and words[0].lower() in ("of", "the", "a", "an", "our", "new", "for", "and"):
        words.pop(0)
    if not words or not (words[0][:1].isupper() or words[0][:1].isdigit()):
        return ""
    return " ".join(words)


# --- features ------------------------------------------------------------------------------------


def _bucket(value: int, edges: tuple[int, ...], name: str) -> str:
    for edge in edges:
        if value <= edge:
            return f"{name}<={edge}"
    return f"{name}>{edges[-1]}"


@lru_cache(maxsize=1)
def _default_services_in() -> Callable[[str], ServicesNamed]:
    # The taxonomy is data the extractor reads as a feature; normalize owns how it is matched.
    from tracker.normalize.taxonomy import Taxonomy

    taxonomy = Taxonomy.load()

    @lru_cache(maxsize=65536)
    def named(text: str) -> ServicesNamed:
        # Titles repeat across a document and a corpus: each is looked up once.
        return taxonomy.named(text)

    return named


def _leads_in(text: str, launch_word: re.Pattern[str]) -> bool:
    """Whether a text leads a list in as launches: it ends with a colon and speaks of launches."""
    lead = text[-300:]
    return lead.rstrip().endswith(":") and bool(launch_word.search(lead))


def _intros(blocks: list[Block], launch_word: re.Pattern[str] | None) -> set[int]:
    """The list items whose list is led in by a sentence about launches ("my top 5 announcements
    are:"), or by the item they are nested in ("* the keynote (and some announcements):")."""
    out: set[int] = set()
    if launch_word is None:
        return out
    led = False  # whether the list the current item belongs to is led in so
    # The items the current item is nested in, outermost first, each with whether it leads in
    # (read once per item, not once per child).
    parents: list[tuple[Block, bool]] = []
    for i, block in enumerate(blocks):
        if block.kind != BULLET:
            parents = []
            continue
        while parents and (parents[-1][0].level >= block.level or parents[-1][0].headings != block.headings):
            parents.pop()
        if parents and parents[-1][1]:
            out.add(i)
        parents.append((block, _leads_in(block.text, launch_word)))
        previous = blocks[i - 1] if i > 0 else None
        if previous is None or previous.kind != BULLET or previous.headings != block.headings:
            # The first item of a list: what stands right before it leads it in.
            led = (
                previous is not None
                and previous.kind == PARAGRAPH
                and previous.headings == block.headings
                and _leads_in(previous.text, launch_word)
            )
        if led:
            out.add(i)
    return out


LINK_BELOW_BLOCKS = 2


def _link_below(blocks: list[Block], index: int) -> str:
    """The first link of the blocks right under a title block, within its section (at most two)."""
    for b in blocks[index + 1 : index + 1 + LINK_BELOW_BLOCKS]:
        if b.kind == HEADING:
            break
        if b.links:
            return b.links[0].url
    return ""


def describe(
    candidates: list[Candidate],
    blocks: list[Block],
    rules: Rules,
    ctx: DocContext,
    services_in: Callable[[str], ServicesNamed] | None = None,
) -> None:
    """Fill each candidate's features."""
    services_named = services_in or _default_services_in()
    launch_section = _pattern(rules, "launch_section")
    skip_section = _pattern(rules, "skip_section")
    keynote_section = _pattern(rules, "keynote_section")
    whats_new = _pattern(rules, "whats_new_link")
    blog = _pattern(rules, "blog_link")
    video = _pattern(rules, "video_link")
    product = _pattern(rules, "product_link")
    prose = rules.candidate_prose_words
    advice = rules.candidate_advice_verbs
    sentence_end = _pattern(rules, "sentence_end")
    launch_word = _pattern(rules, "launch_word")
    # Sibling agreement: of the blocks of one list (same section, parent and kind), how many
    # carry a candidate of the same form.
    groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for b in blocks:
        groups[(b.kind, b.parent, b.headings[:1], b.level if b.kind == BULLET else 0)].append(b.index)
    by_block: dict[int, set[str]] = defaultdict(set)
    for c in candidates:
        by_block[c.block] |= c.generators
    titles = Counter(norm_words(c.announcement.title) for c in candidates)
    group_stats: dict[tuple[object, ...], tuple[Counter[str], int]] = {}
    block_hits: dict[int, int] = {}  # services named near the start of a block, once per block
    rule_blocks = {c.block for c in candidates if _is_rule(c)}
    # A document whose author marks launches ("Announcing **X**"): unmarked forms are rarely
    # launches there. A list of launch links is a list, not a marking.
    # A weak marker ("now supports") describes as often as it launches: it does not make the
    # document one that marks its launches.
    marker_blocks = {
        c.block for c in candidates if any(g.startswith(("marker:", "marker-label")) for g in c.generators)
    }
    marked_doc = len(marker_blocks) >= MARKED_DOC_MIN
    # A talk whose speaker says "today I'm excited to announce X" again and again marks its
    # launches so: what else it names ("we launched Graviton years ago") is context.
    spoken_marks = not (marked_doc or ctx.post or ctx.roundup) and (
        sum(1 for c in candidates if c.spoken) >= MARKED_DOC_MIN
    )
    marked_doc = marked_doc or spoken_marks
    # Of the headings, how many name a product: in a recap with a heading per launch most do;
    # in an essay with headings "First impressions", "Recommendations" none do.
    heading_candidates = sum(
        1
        for c in candidates
        if c.generators & {"heading"}
        and names_something(c.announcement.title, services_named(c.announcement.title).services)
    )
    intros = _intros(blocks, launch_word)

    @cache
    def heading_is(index: int) -> tuple[bool, bool, bool]:
        text = blocks[index].text
        return (
            bool(launch_section and launch_section.search(text)),
            bool(skip_section and skip_section.search(text)),
            bool(keynote_section and keynote_section.search(text)),
        )

    @cache
    def launch_word_near(index: int) -> bool:
        return bool(launch_word and launch_word.search(blocks[index].text[:200]))

    headings_total = sum(1 for b in blocks if b.kind == HEADING and b.level > 1) or 1
    members: dict[tuple[object, ...], list[Candidate]] = defaultdict(list)
    for c in candidates:
        f: dict[str, float] = {}
        block = blocks[c.block]
        title = c.announcement.title
        words = _words(title)
        is_rule = _is_rule(c)
        if is_rule:
            f["rule"] = 1.0
        elif marked_doc:
            f["unmarked_in_marked_doc"] = 1.0
        # Sorted: the features' order is the order the model sums them in, and a set's order
        # changes with the hash seed (the last bits of a score would too).
        generators = sorted(c.generators)
        for g in generators:
            f[f"gen={_generator_family(g)}"] = 1.0
            if g.startswith("marker"):
                f[f"rule={g}"] = 1.0
        f["generators"] = min(len({_generator_family(g) for g in c.generators}), 3) / 3
        f[f"kind={block.kind}"] = 1.0
        if block.kind == HEADING:
            f[f"heading_level={min(block.level, 5) if not block.label else 'label'}"] = 1.0
        if block.kind == BULLET and block.level > 0:
            f["nested"] = 1.0
        if ctx.post:
            f["doc=post"] = 1.0
            for g in generators:
                f[f"post&gen={_generator_family(g)}"] = 1.0
        if ctx.roundup:
            f["doc=roundup"] = 1.0
        enclosing = block.headings
        if block.kind == HEADING and enclosing and enclosing[0] == block.index:
            enclosing = enclosing[1:]
        if not enclosing:
            f["section=none"] = 1.0
        else:
            # Each heading is matched once, however many candidates stand under it.
            if any(heading_is(i)[0] for i in enclosing):
                f["section=launch"] = 1.0
            if heading_is(enclosing[0])[1]:
                f["section=skip"] = 1.0
            if any(heading_is(i)[2] for i in enclosing):
                f["section=keynote"] = 1.0
        length = len(words) if title.isascii() else _length_in_words(title)
        f[_bucket(length, (1, 3, 6, 10), "words")] = 1.0
        if words and words[0].lower() in ("amazon", "aws"):
            f["brand_first"] = 1.0
            if 2 <= len(words) <= 6 and all(w[:1].isupper() or w[:1].isdigit() for w in words):
                # "Amazon Kelp DB": shaped like a product name, whether or not the taxonomy knows it.
                f["brand_name"] = 1.0
        capitals = sum(1 for w in words if w[:1].isupper() or w[:1].isdigit())
        if words:
            f["capitalised"] = capitals / max(length, len(words))
        if not prose.isdisjoint(w.lower() for w in words):
            f["prose_word"] = 1.0
        if sentence_end is not None and sentence_end.search(title):
            f["sentence_end"] = 1.0
        if words and words[0].lower() in advice:
            # "Evaluate Graviton5 for …", "Explored Amazon Q Developer": a to-do or a diary line
            # in a recap's list, where a News Blog headline ("Detect threats in …") is a launch.
            f["verb_first"] = 1.0
        if title.endswith("?") or title.endswith("!"):
            f["question"] = 1.0
        if _DIGIT.search(title):
            f["digit"] = 1.0
        named = services_named(title)
        hits, covered = named.services, named.coverage
        if not names_something(title, hits):
            f["names_nothing"] = 1.0
        if hits == 1 and covered >= 0.99:
            # "**Amazon EC2**: new M8a instances": a service's bare name labels what follows.
            f["bare_service"] = 1.0
        f["title_services"] = min(hits, 2) / 2
        if hits == 0:
            if c.block not in block_hits:
                block_hits[c.block] = services_named(block.text[:300]).services
            if block_hits[c.block]:
                f["block_services_only"] = 1.0
        if c.block in intros:
            f["intro=launch"] = 1.0
        if block.kind == HEADING and block.index + 1 < len(blocks):
            following = blocks[block.index + 1]
            if following.kind == HEADING and following.level > block.level:
                # A heading over headings groups launches (or anything else); it names none.
                f["heading_over_heading"] = 1.0
        if c.announcement.marker:
            f["lead_marker"] = 1.0
        if launch_word is not None:
            if launch_word_near(c.block):
                f["launch_word_near"] = 1.0
            if launch_word.search(title):
                f["launch_word_in_title"] = 1.0
        if skip_section is not None and skip_section.search(title):
            f["title_is_section_word"] = 1.0
        if "sentence" in c.generators and c.announcement.marker:
            # Spoken or written launches: "we are announcing" today, not "we launched" years ago.
            verb = c.announcement.marker.lower()
            f["sentence_verb=past" if verb.endswith("ed") else "sentence_verb=present"] = 1.0
            before = block.text[max(0, c.offset - 160) : c.offset].lower()
            if _TODAY.search(before):
                f["sentence_today"] = 1.0
        if "prose-name" in c.generators and launch_word is not None:
            # Is the name written as news ("the new Amazon X", "we launched Amazon X", "Amazon X,
            # now in preview") or as something known ("store it in Amazon S3")?
            cue_before, cue_after = news_cues(block.text, c.offset, c.offset + len(title), launch_word)
            if cue_before:
                f["prose_cue_before"] = 1.0
            if cue_after:
                f["prose_cue_after"] = 1.0
        if c.announcement.status:
            f["status_tag"] = 1.0
        own = next((lk.url for lk in block.links), "")
        below = "" if own or len(block.text) > 2 * max(len(title), 1) else _link_below(blocks, c.block)
        # link=…: the candidate's own link; one taken from the line below is link_below=….
        url = (c.announcement.url if c.announcement.url != below else "") or own
        if below:
            # A digest's headline with its link on the next line ("Link: …/whats-new/…").
            if whats_new and whats_new.search(below):
                f["link_below=whats_new"] = 1.0
            elif blog and blog.search(below):
                f["link_below=blog"] = 1.0
        if url:
            if whats_new and whats_new.search(url):
                f["link=whats_new"] = 1.0
            elif blog and blog.search(url):
                f["link=blog"] = 1.0
            elif video and video.search(url):
                f["link=video"] = 1.0
            elif product and product.search(url):
                f["link=product"] = 1.0
            else:
                f["link=other"] = 1.0
        if block.kind != HEADING and len(block.text) > 3 * max(len(title), 1):
            f["described"] = 1.0
        group_key = (block.kind, block.parent, block.headings[:1], block.level if block.kind == BULLET else 0)
        group = groups[group_key]
        if len(group) > 1:
            stats = group_stats.get(group_key)
            if stats is None:
                # Counted once per list: per form, the blocks carrying it, and the marked blocks.
                per_form: Counter[str] = Counter(g for i in group for g in by_block.get(i, set()))
                stats = group_stats[group_key] = (per_form, sum(1 for i in group if i in rule_blocks))
            per_form, marked_in_group = stats
            f["siblings_agree"] = min(1.0, max(per_form[g] for g in c.generators) / len(group))
            f["siblings_marked"] = marked_in_group / len(group)
            f[_bucket(len(group), (2, 5, 12), "list")] = 1.0
        if titles[norm_words(title)] > 1:
            f["repeated"] = 1.0
        if "heading" in c.generators:
            f["heading_share"] = heading_candidates / headings_total
        # The same evidence means different things in different documents: an unmarked list
        # item is a launch in a plain list of launches, rarely in a recap that marks its
        # launches, and seldom in the body of a launch post. The model weighs each feature in
        # the candidate's regime too (model.crossed).
        if is_rule:
            regime = "rule"
        elif ctx.post or ctx.roundup:
            # A News Blog post's body, or a roundup, whose launches the rules read by structure.
            regime = "post"
        elif marked_doc:
            regime = "marked"
        else:
            regime = "open"
        f[f"regime={regime}"] = 1.0
        c.features = f
        # A spoken announcement is the speaker's marker where the document has no other: taken
        # whatever the model says of its features (which stay those of a sentence, so the
        # model is fitted on the same evidence either way).
        c.forced = c.spoken and (regime == "open" or spoken_marks)
        if len(group) > 1:
            members[group_key].append(c)
    _describe_siblings(members)


def _describe_siblings(members: dict[tuple[object, ...], list[Candidate]]) -> None:
    """Per candidate of a list, what the other items' candidates are: how many of the other
    items name a service, and how many link to a launch page. A list whose items name products
    and link to launches is a list of launches, whatever one item looks like alone."""
    for group in members.values():
        named: dict[int, bool] = defaultdict(bool)
        linked: dict[int, bool] = defaultdict(bool)
        for c in group:
            named[c.block] |= c.features.get("title_services", 0.0) > 0
            linked[c.block] |= bool(c.features.get("link=whats_new") or c.features.get("link=blog"))
        if len(named) < 2:
            continue
        # Totals once per list, each item's own block taken out: linear in the list's length.
        all_named, all_linked, others = sum(named.values()), sum(linked.values()), len(named) - 1
        for c in group:
            c.features["siblings_named"] = (all_named - named[c.block]) / others
            c.features["siblings_linked"] = (all_linked - linked[c.block]) / others


def _is_rule(c: Candidate) -> bool:
    return bool(c.generators & _RULE_FAMILIES) or any(g.startswith("marker") for g in c.generators)


def _generator_family(generator: str) -> str:
    if generator.startswith("marker:"):
        return "marker"
    if generator.startswith("marker-weak:"):
        return "marker-weak"
    return generator


# --- merging and choosing ------------------------------------------------------------------------


def merge(candidates: list[Candidate]) -> list[Candidate]:
    """One candidate per (block, name): the forms that found it are pooled; the marker rules'
    reading of a name wins over the generic one."""
    merged: dict[tuple[int, str], Candidate] = {}
    for c in candidates:
        key = (c.block, norm_words(c.announcement.title))
        have = merged.get(key)
        if have is None:
            merged[key] = c
            continue
        pooled = have.generators | c.generators
        keep = have if _rank(have) <= _rank(c) else c
        keep.generators = pooled
        merged[key] = keep
    return sorted(merged.values(), key=lambda c: (c.block, c.offset))


def _rank(c: Candidate) -> int:
    rule = c.announcement.rule
    return 0 if not rule.startswith("candidate:") else 1


def choose(candidates: list[Candidate], accepted: Callable[[Candidate], bool], blocks: list[Block]) -> list[Candidate]:
    """The accepted candidates, one per name, and where one block (or a heading and the block
    under it) yields two readings of one name, the better one."""
    kept = [c for c in candidates if accepted(c)]
    kept.sort(key=lambda c: -c.score)
    chosen: list[Candidate] = []
    names: set[str] = set()
    # The chosen names by block: a candidate can only overlap one of its own block, of the
    # block after it when it is a heading, or of the heading right before it (linear, not
    # a comparison with every chosen candidate).
    by_block: dict[int, list[str]] = defaultdict(list)
    for c in kept:
        name = norm_words(c.announcement.title)
        if not name or name in names:
            continue
        near = [c.block]
        if _heads(blocks, c.block, c.block + 1):
            near.append(c.block + 1)
        if c.block > 0 and _heads(blocks, c.block - 1, c.block):
            near.append(c.block - 1)
        if any(_overlaps(name, other) for b in near for other in by_block.get(b, ())):
            continue
        names.add(name)
        chosen.append(c)
        by_block[c.block].append(name)
    chosen.sort(key=lambda c: (c.block, c.offset))
    return chosen


def _overlaps(name_a: str, name_b: str) -> bool:
    return name_a in name_b or name_b in name_a


def _heads(blocks: list[Block], heading: int, other: int) -> bool:
    """Whether block `heading` is a heading and `other` the first block of its section."""
    if blocks[heading].kind != HEADING:
        return False
    return other == heading + 1


def to_announcement(c: Candidate) -> Announcement:
    """The announcement of an accepted candidate (its rule names the forms that found it)."""
    ann = c.announcement
    if ann.rule.startswith("candidate:"):
        forms = "+".join(sorted(_generator_family(g) for g in c.generators))
        ann = replace(ann, rule=f"candidate:{forms}")
    return ann
