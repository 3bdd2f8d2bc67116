"""The extraction rules, read from tracker/data/extract.toml: markers, stop-phrases, patterns.

The rules are data so that a user can teach the extractor a new marker or section label
without touching Python; this module only reads, checks and compiles them.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError
from tracker.extract.model import CandidateModel, load_model

log = logging.getLogger(__name__)

MODEL_FILE = "extract_model.json"


@dataclass(frozen=True)
class Marker:
    """A word or phrase that says the emphasised span next to it is a launch."""

    name: str
    pattern: re.Pattern[str]
    position: str = "before"  # before | after | inside (at the start of) the span
    status: str | None = None
    # "span": the emphasised text is the title; "clause": the title runs from the start of
    # the clause (its subject, "Amazon SageMaker now supports ...") to the end of the span.
    title: str = "span"
    # A weak marker ("now provides", ": a new ...") also describes the features of a launch:
    # it counts in recaps and roundups, not in the body of a post that is itself one launch.
    weak: bool = False


@dataclass(frozen=True)
class NamedPattern:
    """A pattern with the value it stands for (a kind, a status, an event name)."""

    pattern: re.Pattern[str]
    value: str


def _name_table(data: dict[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A TOML table of field -> name or [names] as (field, names) pairs."""
    return tuple((k, tuple(v) if isinstance(v, list) else (str(v),)) for k, v in data.items())


def _names_for(table: tuple[tuple[str, tuple[str, ...]], ...], name: str) -> tuple[str, ...]:
    """The names a field may go by in a (field, names) table; the field's own name when absent."""
    for key, names in table:
        if key == name:
            return names
    return (name,)


@dataclass(frozen=True)
class Rules:
    """Everything the extractors decide by: compiled from extract.toml."""

    version: str = "1"
    # announcements: marker + emphasis
    markers: tuple[Marker, ...] = ()
    max_gap_words: int = 4
    emphasis: tuple[str, ...] = ("strong",)
    summary_max_chars: int = 500
    stop_phrases: frozenset[str] = frozenset()
    stop_prefixes: tuple[str, ...] = ()
    gap_stop_words: frozenset[str] = frozenset()
    boundary_chars: str = ".!?;,()"
    # Words right before an emphasised name that belong to it ("Amazon **Redshift Multi-AZ**").
    title_prefix_words: tuple[str, ...] = ()
    # An emphasised launch word opening a line ("**New:** Amazon X - ..."): the plain name after it is the launch.
    label_marker: re.Pattern[str] | None = None
    label_max_words: int = 12
    statuses: tuple[NamedPattern, ...] = ()
    # events
    event_patterns: tuple[NamedPattern, ...] = ()
    event_categories: tuple[NamedPattern, ...] = ()
    # sessions
    video_url: re.Pattern[str] = field(default_factory=lambda: re.compile(r"youtu"))
    kind_headings: tuple[NamedPattern, ...] = ()
    kind_titles: tuple[NamedPattern, ...] = ()
    kind_types: tuple[NamedPattern, ...] = ()
    code_pattern: re.Pattern[str] = field(default_factory=lambda: re.compile(r"(?P<code>[A-Z]{2,5}\d{2,4})"))
    code_suffix_kinds: tuple[tuple[str, str], ...] = ()
    speaker_heading: re.Pattern[str] | None = None
    speaker_by: re.Pattern[str] | None = None
    reference_headings: re.Pattern[str] | None = None
    session_url: re.Pattern[str] | None = None
    prose_code: re.Pattern[str] | None = None
    generic_link_texts: re.Pattern[str] | None = None
    title_event_prefix: re.Pattern[str] | None = None
    title_tags: re.Pattern[str] | None = None
    title_channel_suffix: re.Pattern[str] | None = None
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # news items kept as JSON (JSON Feed, What's New dumps): field names, first present wins
    news_fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # links
    launch_urls: tuple[re.Pattern[str], ...] = ()
    generic_link_titles: re.Pattern[str] | None = None
    roundup_url: re.Pattern[str] | None = None
    type_markers: tuple[tuple[str, str], ...] = ()
    # posts
    title_markers: tuple[re.Pattern[str], ...] = ()
    launch_categories: tuple[re.Pattern[str], ...] = ()
    stop_titles: tuple[re.Pattern[str], ...] = ()
    roundup_titles: tuple[re.Pattern[str], ...] = ()
    # A saved page (not a News Blog post) is read as a roundup only on these titles.
    roundup_page_titles: tuple[re.Pattern[str], ...] = ()
    roundup_sections: re.Pattern[str] | None = None
    roundup_skip_sections: re.Pattern[str] | None = None
    today_paragraph: re.Pattern[str] | None = None
    today_window: int = 6
    ignore_categories: frozenset[str] = frozenset()
    end_markers: tuple[re.Pattern[str], ...] = ()
    byline: re.Pattern[str] | None = None
    published_line: re.Pattern[str] | None = None
    # What's New
    whats_new_url: re.Pattern[str] | None = None
    product_tag: re.Pattern[str] | None = None
    # candidates (candidates.py): patterns that enumerate and clean them, and the fitted model
    candidate_patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)
    candidate_prose_words: frozenset[str] = frozenset()
    candidate_advice_verbs: frozenset[str] = frozenset()
    candidate_max_words: int = 16
    model: CandidateModel | None = None

    def news_field(self, name: str) -> tuple[str, ...]:
        """The accepted field names of a news item kept as JSON."""
        return _names_for(self.news_fields, name)

    def column(self, name: str) -> tuple[str, ...]:
        """The accepted column names for a session-listing field."""
        return _names_for(self.columns, name)


class _Reader:
    """Typed access to the TOML tree, raising ConfigError naming the key."""

    def __init__(self, data: dict[str, Any], file: str) -> None:
        self.data = data
        self.file = file

    def get(self, dotted: str, expected: type | tuple[type, ...], default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        if not isinstance(node, expected):
            raise ConfigError(f"expected {expected}, got {type(node).__name__}", file=self.file, key=dotted)
        return node

    def regex(self, dotted: str, value: Any = None, flags: int = 0) -> re.Pattern[str] | None:
        text = self.get(dotted, str) if value is None else value
        if text is None:
            return None
        try:
            return re.compile(text, flags)
        except re.error as exc:
            raise ConfigError(f"invalid regular expression {text!r}: {exc}", file=self.file, key=dotted) from None

    def regexes(self, dotted: str, flags: int = 0) -> tuple[re.Pattern[str], ...]:
        values = self.get(dotted, list, [])
        out = []
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise ConfigError("expected a string", file=self.file, key=f"{dotted}[{index}]")
            compiled = self.regex(f"{dotted}[{index}]", value, flags)
            assert compiled is not None
            out.append(compiled)
        return tuple(out)

    def named(self, dotted: str, value_key: str) -> tuple[NamedPattern, ...]:
        values = self.get(dotted, list, [])
        out = []
        for index, table in enumerate(values):
            where = f"{dotted}[{index}]"
            if not isinstance(table, dict) or not isinstance(table.get("pattern"), str):
                raise ConfigError("expected a table with a 'pattern' string", file=self.file, key=where)
            if not isinstance(table.get(value_key), str):
                raise ConfigError(f"expected a '{value_key}' string", file=self.file, key=where)
            compiled = self.regex(f"{where}.pattern", table["pattern"])
            assert compiled is not None
            out.append(NamedPattern(compiled, table[value_key]))
        return tuple(out)

    def strings(self, dotted: str) -> tuple[str, ...]:
        values = self.get(dotted, list, [])
        if not all(isinstance(v, str) for v in values):
            raise ConfigError("expected a list of strings", file=self.file, key=dotted)
        return tuple(values)


def _markers(reader: _Reader) -> tuple[Marker, ...]:
    out = []
    for index, table in enumerate(reader.get("announce.marker", list, [])):
        where = f"announce.marker[{index}]"
        if not isinstance(table, dict) or not isinstance(table.get("pattern"), str):
            raise ConfigError("expected a table with a 'pattern' string", file=reader.file, key=where)
        position = table.get("position", "before")
        if position not in ("before", "after", "inside"):
            raise ConfigError(
                "position must be 'before', 'after' or 'inside'", file=reader.file, key=f"{where}.position"
            )
        title = table.get("title", "span")
        if title not in ("span", "clause"):
            raise ConfigError("title must be 'span' or 'clause'", file=reader.file, key=f"{where}.title")
        flags = 0 if table.get("case_sensitive", False) else re.IGNORECASE
        pattern = table["pattern"]
        # A "before" marker must end the text it is searched in (a gap is checked separately).
        compiled = reader.regex(f"{where}.pattern", pattern, flags)
        assert compiled is not None
        out.append(
            Marker(
                name=str(table.get("name", pattern)),
                pattern=compiled,
                position=position,
                status=table.get("status") or None,
                title=title,
                weak=bool(table.get("weak", False)),
            )
        )
    return tuple(out)


def rules_from_dict(data: dict[str, Any], file: str = "<rules>") -> Rules:
    """Compile a parsed extract.toml tree into Rules."""
    r = _Reader(data, file)
    suffix_kinds = r.get("sessions.code_suffix_kinds", dict, {})
    columns = r.get("sessions.columns", dict, {})
    type_markers = []
    for index, table in enumerate(r.get("links.type_markers", list, [])):
        if not isinstance(table, dict) or not isinstance(table.get("symbol"), str):
            raise ConfigError("expected a table with a 'symbol'", file=file, key=f"links.type_markers[{index}]")
        type_markers.append((table["symbol"], str(table.get("status", ""))))
    default = Rules()
    return Rules(
        version=str(r.get("version", (str, int), "1")),
        markers=_markers(r),
        max_gap_words=r.get("announce.max_gap_words", int, default.max_gap_words),
        emphasis=r.strings("announce.emphasis") or default.emphasis,
        summary_max_chars=r.get("announce.summary_max_chars", int, default.summary_max_chars),
        stop_phrases=frozenset(s.lower() for s in r.strings("announce.stop_phrases")),
        stop_prefixes=tuple(s.lower() for s in r.strings("announce.stop_prefixes")),
        gap_stop_words=frozenset(s.lower() for s in r.strings("announce.gap_stop_words")),
        boundary_chars=r.get("announce.boundary_chars", str, default.boundary_chars),
        title_prefix_words=r.strings("announce.title_prefix_words"),
        label_marker=r.regex("announce.label_marker"),
        label_max_words=r.get("announce.label_max_words", int, default.label_max_words),
        statuses=r.named("status", "value"),
        event_patterns=r.named("events.pattern", "name"),
        event_categories=r.named("events.category", "name"),
        video_url=r.regex("sessions.video_url") or default.video_url,
        kind_headings=r.named("sessions.kind_headings", "kind"),
        kind_titles=r.named("sessions.kind_titles", "kind"),
        kind_types=r.named("sessions.kind_types", "kind"),
        code_pattern=r.regex("sessions.code_pattern") or default.code_pattern,
        code_suffix_kinds=tuple((str(k).upper(), str(v)) for k, v in suffix_kinds.items()),
        speaker_heading=r.regex("sessions.speaker_heading"),
        speaker_by=r.regex("sessions.speaker_by"),
        reference_headings=r.regex("sessions.reference_headings"),
        session_url=r.regex("sessions.session_url"),
        prose_code=r.regex("sessions.prose_code"),
        generic_link_texts=r.regex("sessions.generic_link_texts"),
        title_event_prefix=r.regex("sessions.title_event_prefix"),
        title_tags=r.regex("sessions.title_tags"),
        title_channel_suffix=r.regex("sessions.title_channel_suffix"),
        columns=_name_table(columns),
        news_fields=_name_table(r.get("whats_new.json_fields", dict, {})),
        launch_urls=r.regexes("links.launch_url"),
        generic_link_titles=r.regex("links.generic_texts"),
        roundup_url=r.regex("links.roundup_url"),
        type_markers=tuple(type_markers),
        title_markers=r.regexes("posts.title_markers"),
        launch_categories=r.regexes("posts.launch_categories"),
        stop_titles=r.regexes("posts.stop_titles"),
        roundup_titles=r.regexes("posts.roundup_titles"),
        roundup_page_titles=r.regexes("posts.roundup_page_titles"),
        roundup_sections=r.regex("posts.roundup_sections"),
        roundup_skip_sections=r.regex("posts.roundup_skip_sections"),
        today_paragraph=r.regex("posts.today_paragraph"),
        today_window=r.get("posts.today_window", int, default.today_window),
        ignore_categories=frozenset(s.lower() for s in r.strings("posts.ignore_categories")),
        end_markers=r.regexes("posts.end_markers", re.IGNORECASE),
        byline=r.regex("posts.byline", flags=re.IGNORECASE),
        published_line=r.regex("posts.published_line"),
        whats_new_url=r.regex("whats_new.feed_url"),
        product_tag=r.regex("whats_new.product_tag"),
        candidate_patterns=_candidate_patterns(r),
        candidate_prose_words=frozenset(s.lower() for s in r.strings("candidates.prose_words")),
        candidate_advice_verbs=frozenset(s.lower() for s in r.strings("candidates.advice_verbs")),
        candidate_max_words=r.get("candidates.max_words", int, default.candidate_max_words),
    )


_CANDIDATE_PATTERNS = (
    "lead_marker",
    "headline_lead",
    "new_for",
    "company_headline",
    "purpose_clause",
    "trailing_tag",
    "name_end",
    "generic_title",
    "fragment_end",
    "report_title",
    "reference_title",
    "glossary_title",
    "person_title",
    "topic_title",
    "definition_phrase",
    "launch_section",
    "skip_section",
    "keynote_section",
    "announce_sentence",
    "status_sentence",
    "spoken_announce",
    "recalled_launch",
    "whats_new_link",
    "blog_link",
    "video_link",
    "product_link",
    "launch_word",
    "prose_name",
    "sentence_end",
)
# Every candidate pattern is case-insensitive; a part that must not be says so with (?-i:...).
_CASE_SENSITIVE: tuple[str, ...] = ()


def _candidate_patterns(r: _Reader) -> dict[str, re.Pattern[str]]:
    out: dict[str, re.Pattern[str]] = {}
    for name in _CANDIDATE_PATTERNS:
        flags = 0 if name in _CASE_SENSITIVE else re.IGNORECASE
        compiled = r.regex(f"candidates.{name}", flags=flags)
        if compiled is not None:
            out[name] = compiled
    return out


def load_rules(path: Path | None = None) -> Rules:
    """Read extract.toml (default: the config folder's override, else the shipped one) into compiled Rules."""
    if path is None:
        from tracker.config import data_file, default_config_dir

        path = data_file(default_config_dir(), "extract.toml")
    try:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("extraction rules file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None
    rules = rules_from_dict(data, str(path))
    # The candidate model sits beside the rules it was fitted with (extract_model.json); rules
    # overridden without a model of their own are scored by the shipped one.
    beside = Path(path).with_name(MODEL_FILE)
    if not beside.is_file():
        from tracker.config import shipped_file

        beside = shipped_file(MODEL_FILE)
    model = load_model(beside)
    if model is not None:
        from dataclasses import replace

        rules = replace(rules, model=model)
    log.debug("loaded %d markers from %s", len(rules.markers), path)
    return rules
