"""Sessions across documents: a recap and the playlist listings of its event, on both databases.

After importing the re:Invent 2023 recap and the 2023 YouTube playlist listings, the launches
that a breakout session covers are linked to that session by its code, each keynote keeps its
video, and the CLI answers `announcements --session CODE`, `sessions --event` and `show`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker import pipeline
from tracker.cli import main
from tracker.config import Settings, load_settings
from tracker.store.db import open_store, unit_of_work
from tracker.store.queries import list_sessions, query_announcements

REPO = Path(__file__).resolve().parent.parent
EVENT = "AWS re:Invent 2023"


def _settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(REPO / "config", environ={}).with_overrides(
        database_url=database_url, output_dir=tmp_path / "feeds", archive_dir=tmp_path / "archive"
    )


def _playlists_of(corpus: Path, event: str) -> list[Path]:
    """The playlist dumps whose heading names the event (the whole listing and its per-track lists)."""
    found = []
    for path in sorted((corpus / "sessions" / "gmarchand-playlists").glob("*.md")):
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        if f"[{event}" in first:
            found.append(path)
    return found


def _import(corpus: Path, database_url: str, tmp_path: Path) -> Settings:
    """A store holding the 2023 recap and every 2023 playlist listing."""
    settings = _settings(database_url, tmp_path)
    playlists = _playlists_of(corpus, EVENT)
    assert len(playlists) >= 3, "the corpus should hold the 2023 playlist listings"
    documents = [str(corpus / "recaps" / "2023-12-aws-reinvent-2023.md"), *map(str, playlists)]
    report = pipeline.import_documents(settings, documents)
    assert not report.failed
    return settings


def test_recap_and_playlists_across_documents(
    corpus: Path, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One import per database (it is the slow part); each check below is its own function.
    imported = _import(corpus, database_url, tmp_path)
    _check_breakout_launches_link_to_their_session_codes(imported)
    _check_keynotes_resolve_to_their_videos(imported)
    _check_no_cross_event_or_generic_links(imported)
    _check_cli_over_the_imported_store(imported, capsys)


def _check_breakout_launches_link_to_their_session_codes(imported: Settings) -> None:
    factory = open_store(imported.database_url)
    expected = {"ElastiCache Serverless": "DAT342", "Limitless": "DAT344", "Express One Zone": "STG230"}
    with unit_of_work(factory) as session:
        for words, code in expected.items():
            [record] = [r for r in query_announcements(session, search=words) if words in r.title]
            codes = {sl.session.code for sl in record.sessions}
            assert code in codes, (record.title, codes)
            link = next(sl.link for sl in record.sessions if sl.session.code == code)
            assert link.score >= imported.link_threshold and link.reason
            # announced in a keynote as well: the structural link to it stays
            assert any(sl.session.kind == "keynote" and sl.link.method == "structural" for sl in record.sessions)
            by_code = query_announcements(session, session_code=code)
            assert record.id in {r.id for r in by_code}


def _check_keynotes_resolve_to_their_videos(imported: Settings) -> None:
    factory = open_store(imported.database_url)
    with unit_of_work(factory) as session:
        keynotes = [s for s in list_sessions(session, event=EVENT) if s.kind == "keynote"]
        records = query_announcements(session, event=EVENT)
    videos = {s.url for s in keynotes}
    for speaker in ("DeSantis", "Selipsky", "Sivasubramanian", "Vogels"):
        mine = [s for s in keynotes if speaker in s.title or any(speaker in p for p in s.speakers)]
        # the recap's keynote and the playlist's video of the same keynote are one session
        assert len({s.url for s in mine}) == 1, (speaker, mine)
        assert mine[0].url and mine[0].url.startswith("https://www.youtube.com/watch?v=")
    linked = {sl.session.url for r in records for sl in r.sessions if sl.session.kind == "keynote"}
    assert linked and linked <= videos
    assert len(linked) >= 3  # DeSantis, Selipsky and Vogels announce launches in the recap


def _check_no_cross_event_or_generic_links(imported: Settings) -> None:
    factory = open_store(imported.database_url)
    with unit_of_work(factory) as session:
        records = query_announcements(session)
    for record in records:
        for sl in record.sessions:
            assert sl.link.score >= imported.link_threshold or sl.link.method == "structural"
            assert sl.session.event == record.event, (record.title, sl.session.title)
            assert sl.link.reason


def _check_cli_over_the_imported_store(imported: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database", imported.database_url]
    assert main([*db, "announcements", "--session", "dat342", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["title"] for r in rows] == ["Amazon ElastiCache Serverless"]
    session = next(s for s in rows[0]["sessions"] if s["code"] == "DAT342")
    assert session["url"] == "https://www.youtube.com/watch?v=YYStP97pbXo" and session["method"] == "title"

    assert main([*db, "sessions", "--event", "re:Invent 2023", "--format", "json"]) == 0
    sessions = json.loads(capsys.readouterr().out)
    assert len(sessions) > 800 and all(s["event"] == EVENT for s in sessions)
    assert main([*db, "sessions", "--event", "re:Invent 2023", "--format", "csv"]) == 0
    csv_out = capsys.readouterr().out.splitlines()
    assert csv_out[0].startswith("code,") and len(csv_out) == len(sessions) + 1

    assert main([*db, "show", str(rows[0]["id"])]) == 0
    shown = capsys.readouterr().out
    assert "Amazon ElastiCache" in shown and "DAT342" in shown and "youtube.com/watch?v=YYStP97pbXo" in shown
    assert "structural" in shown and "mentioned in:" in shown
