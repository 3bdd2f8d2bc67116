"""Session listings: YouTube playlist dumps (markdown), CSV exports and JSON catalogues."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tracker.errors import ExtractError
from tracker.extract.rules import NamedPattern, Rules
from tracker.extract.text import collapse, detect_event, parse_date, slugify, youtube_id, youtube_url
from tracker.items import ConferenceSession, Document, DocumentKind

log = logging.getLogger(__name__)

_MD_ROW = re.compile(r"^\s*\|\s*\[(?P<title>.+?)\]\((?P<url>[^)\s]+)\)\s*\|(?P<rest>.*)\|\s*$")
_MD_PLAYLIST = re.compile(r"^\s*#{1,6}\s*\[(?P<title>.+?)\]\((?P<url>[^)\s]+)\)")
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def _kind_of(texts: Iterable[str], patterns: tuple[NamedPattern, ...]) -> str | None:
    for text in texts:
        if not text:
            continue
        for named in patterns:
            if named.pattern.search(text):
                return str(named.value)
    return None


def parse_title(raw: str, rules: Rules) -> tuple[str, str | None, str | None, str | None]:
    """'AWS re:Invent 2023 - [LAUNCH] Title (STG228-R)' -> (title, event, code, code suffix)."""
    title = collapse(raw)
    event = None
    if rules.title_channel_suffix:
        title = rules.title_channel_suffix.sub("", title)
    if rules.title_event_prefix:
        m = rules.title_event_prefix.match(title)
        if m:
            event = collapse(m.group("event")).replace("re: Invent", "re:Invent")
            title = title[m.end() :]
    code = suffix = None
    # "Title (DAT342-R)", "Title | HYB207-INT", and the later "Title-CMP333-NEW" / "Title -AIM388".
    tail = re.search(r"[\s]*[(|\[]\s*(" + rules.code_pattern.pattern + r")\s*[)\]]?\s*$", title) or re.search(
        r"(?<=\S)\s*-\s*(" + rules.code_pattern.pattern + r")\s*$", title
    )
    if tail:
        cm = rules.code_pattern.fullmatch(tail.group(1))
        if cm:
            code = cm.group("code")
            suffix = cm.groupdict().get("suffix")
            title = title[: tail.start()]
    if rules.title_tags:
        title = rules.title_tags.sub("", title)
    title = collapse(title).strip(" -–—|:")
    return title or collapse(raw), event, code, suffix


def first_field(row: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """The value of the first of `names` that a row holds, not empty; None when none does."""
    for name in names:
        if name in row and row[name] not in (None, "", []):
            return row[name]
    return None


def _speakers(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(s.strip() for s in re.split(r"\s*[;,]\s*", value) if s.strip())
    out: list[str] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str) and item.strip():
                out.append(item.strip())
            elif isinstance(item, Mapping):
                name = item.get("fullName") or item.get("globalFullName") or item.get("name")
                if not name:
                    name = " ".join(str(item.get(k, "")).strip() for k in ("firstName", "lastName")).strip()
                if name:
                    out.append(collapse(str(name)))
    return tuple(dict.fromkeys(out))


def _text_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    text = collapse(str(value))
    return text or None


def session_from_row(
    row: Mapping[str, Any],
    rules: Rules,
    *,
    playlist_kind: str | None = None,
    event: str | None = None,
    default_event: str | None = None,
) -> ConferenceSession | None:
    """One session from a listing row (CSV row, JSON object, playlist line)."""
    raw_attrs = row.get("attributes")
    attrs: Mapping[str, Any] = raw_attrs if isinstance(raw_attrs, Mapping) else {}
    merged: dict[str, Any] = {**attrs, **{k: v for k, v in row.items() if v not in (None, "", [])}}
    raw_title = _text_value(first_field(merged, rules.column("title")))
    if not raw_title:
        return None
    title, title_event, title_code, suffix = parse_title(raw_title, rules)
    url = written = _text_value(first_field(merged, rules.column("url")))
    vid = youtube_id(url) if url else None
    if not vid:
        raw_id = _text_value(first_field(merged, rules.column("video_id")))
        vid = raw_id if raw_id and re.fullmatch(r"[A-Za-z0-9_-]{6,20}", raw_id) else None
    if vid:
        url = youtube_url(vid)
    code = title_code
    raw_code = _text_value(first_field(merged, rules.column("code")))
    if raw_code:
        cm = rules.code_pattern.match(raw_code.upper())
        if cm:
            code = cm.group("code")
            suffix = cm.groupdict().get("suffix") or suffix
    kind_value = _text_value(first_field(merged, rules.column("kind")))
    if not (vid or code or kind_value or merged.get("speakers") or merged.get("abstract")):
        return None  # a title and a web link alone do not make a session (e.g. a post's metadata)
    kind = (
        _kind_of([title, raw_title], rules.kind_titles)
        or (dict(rules.code_suffix_kinds).get((suffix or "").upper()))
        or (_kind_of([kind_value or ""], rules.kind_types) if kind_value else None)
        or playlist_kind
        or _kind_of(_playlists(merged, rules), rules.kind_headings)
        or "session"
    )
    year = _text_value(first_field(merged, rules.column("year")))
    row_event = _text_value(first_field(merged, rules.column("event")))
    session_event = (
        event
        or title_event
        or row_event
        or (f"AWS re:Invent {year}" if year and re.fullmatch(r"20\d\d", year) else None)
        or detect_event([str(merged.get("eventId", ""))], rules)
        or default_event
    )
    speakers = _speakers(first_field(merged, rules.column("speakers")))
    if not speakers and rules.speaker_by:
        m = rules.speaker_by.search(title)
        if m:
            speakers = (m.group("name").strip(),)
    published = parse_date(_text_value(first_field(merged, rules.column("published"))))
    level = _text_value(first_field(merged, rules.column("level")))
    track = _text_value(first_field(merged, rules.column("track")))
    abstract = _text_value(first_field(merged, rules.column("abstract")))
    return ConferenceSession(
        key=code or vid or slugify(title, 80) or "untitled",
        title=title,
        kind=kind,
        url=url if url and url.startswith("http") else None,
        written_url=written if written and written != url and written.startswith("http") else None,
        code=code,
        speakers=speakers,
        level=level,
        track=track,
        event=session_event,
        published_at=published,
        abstract=abstract,
    )


def _playlists(row: Mapping[str, Any], rules: Rules) -> list[str]:
    value = first_field(row, rules.column("playlists"))
    if not value:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [p.strip() for p in str(value).split(";") if p.strip()]


def listing_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    url: str,
    title: str = "",
    rules: Rules,
    event: str | None = None,
) -> Document:
    """A session-listing document; duplicate keys keep their first row."""
    playlist_kind = _kind_of([title], rules.kind_headings) if title else None
    list_event = event or (detect_event([title], rules) if title else None)
    sessions: dict[tuple[str | None, str], ConferenceSession] = {}
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        session = session_from_row(row, rules, playlist_kind=playlist_kind, event=event, default_event=list_event)
        if session is None:
            continue
        # The same code recurs across years (and repeats share it within one): one per event.
        sessions.setdefault((session.event, session.key), session)
    events = {s.event for s in sessions.values() if s.event}
    doc_event = list_event or (events.pop() if len(events) == 1 else None)
    return Document(
        url=url, title=title, event=doc_event, sessions=tuple(sessions.values()), kind=DocumentKind.SESSION_LISTING
    )


def looks_like_playlist_markdown(text: str) -> bool:
    """A markdown table of YouTube videos (a playlist dump)."""
    lines = [line for line in text.splitlines()[:400] if line.strip()]
    if not lines:
        return False
    video_rows = sum(1 for line in lines if (row := _MD_ROW.match(line)) and youtube_id(row.group("url")))
    if not video_rows:
        return False
    table_rows = sum(1 for line in lines if line.lstrip().startswith("|"))
    return bool(_MD_PLAYLIST.match(lines[0])) or table_rows * 10 >= len(lines) * 6


def extract_playlist_markdown(text: str, *, url: str, rules: Rules, event: str | None = None) -> list[Document]:
    """'#### [Playlist](url)' then '| [Video](watch?v=ID) | date |' rows; several playlists per file."""
    docs: list[Document] = []
    title = ""
    rows: list[dict[str, str]] = []
    for line in text.splitlines():
        head = _MD_PLAYLIST.match(line)
        if head:
            if rows:
                docs.append(listing_from_rows(rows, url=url, title=title, rules=rules, event=event))
                rows = []
            title = collapse(head.group("title"))
            continue
        m = _MD_ROW.match(line)
        if m:
            date = _DATE.search(m.group("rest"))
            rows.append({"title": m.group("title"), "url": m.group("url"), "published": date.group(1) if date else ""})
    if rows or not docs:
        docs.append(listing_from_rows(rows, url=url, title=title, rules=rules, event=event))
    if len(docs) > 1:
        # One document per file: merge playlists, each row keeping its own playlist's kind.
        merged = {(s.event, s.key): s for d in reversed(docs) for s in reversed(d.sessions)}
        ordered = [merged[k] for k in dict.fromkeys((s.event, s.key) for d in docs for s in d.sessions)]
        return [
            Document(
                url=url,
                title=docs[0].title,
                event=docs[0].event,
                sessions=tuple(ordered),
                kind=DocumentKind.SESSION_LISTING,
            )
        ]
    return docs


def looks_like_csv(text: str, rules: Rules) -> bool:
    """A CSV whose header names a title column."""
    first = text.lstrip().split("\n", 1)[0].strip()
    if "," not in first and ";" not in first and "\t" not in first:
        return False
    fields = [f.strip().strip('"').lower() for f in re.split(r"[,;\t]", first)]
    if len(fields) < 2 or not all(re.fullmatch(r"[a-z_][a-z0-9_ ]*", f) for f in fields if f):
        return False
    return any(f in rules.column("title") for f in fields)


def extract_csv(text: str, *, url: str, rules: Rules, event: str | None = None) -> list[Document]:
    """A CSV export of sessions (one row per video or session)."""
    header = text.lstrip().split("\n", 1)[0]
    # csv.Sniffer misreads doubled quotes in titles; the header's separator is enough.
    delimiter = max(",;\t", key=header.count)
    body = text.lstrip().replace("\r\n", "\n").replace("\r", "\n")
    try:
        reader = csv.DictReader(io.StringIO(body, newline=""), delimiter=delimiter)
        if not reader.fieldnames:
            raise ExtractError("CSV without a header row", url=url)
        rows = [
            {(k or "").strip().lower(): (v if isinstance(v, str) else "").strip() for k, v in row.items() if k}
            for row in reader
        ]
    except csv.Error as exc:
        raise ExtractError(f"malformed CSV: {exc}", url=url) from None
    return [listing_from_rows(rows, url=url, title="", rules=rules, event=event)]


def extract_json(text: str, *, url: str, rules: Rules, event: str | None = None) -> list[Document]:
    """A JSON list of sessions ({title, url} videos or a RainFocus-style catalogue)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ExtractError(f"not valid JSON: {exc}", url=url) from None
    title = ""
    items: Any = data
    if isinstance(data, Mapping):
        title = collapse(str(data.get("title") or data.get("name") or ""))
        items = next(
            (
                data[k]
                for k in ("sessions", "items", "videos", "data", "results", "sessionList")
                if isinstance(data.get(k), list)
            ),
            None,
        )
        if items is None:
            lists = [v for v in data.values() if isinstance(v, list)]
            items = max(lists, key=len) if lists else [data]
    if not isinstance(items, list):
        raise ExtractError("JSON holds no list of sessions", url=url)
    return [listing_from_rows(items, url=url, title=title, rules=rules, event=event)]
