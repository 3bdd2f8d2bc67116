"""Session listings: playlist markdown, CSV, JSON catalogues; title parsing."""

from __future__ import annotations

from tracker.extract import extract
from tracker.extract.rules import load_rules
from tracker.extract.sessions import parse_title


def test_parse_title() -> None:
    rules = load_rules()
    assert parse_title("AWS re:Invent 2023 - [LAUNCH] Lower costs with X (STG228-R)", rules) == (
        "Lower costs with X",
        "AWS re:Invent 2023",
        "STG228",
        "R",
    )
    assert parse_title("AWS re:Invent 2023 - Innovation talk: Emerging tech | HYB207-INT", rules)[2:] == (
        "HYB207",
        "INT",
    )
    assert parse_title("Keynote with Someone | AWS Events", rules) == ("Keynote with Someone", None, None, None)


def test_playlist_markdown(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("playlist-reinvent-2031.md")
    assert doc.kind == "session-listing" and not doc.announcements
    assert doc.event == "AWS re:Invent 2031"
    by_key = {s.key: s for s in doc.sessions}
    assert by_key["DAT401"].title == "Deep dive on Amazon Aurora Quantum Tables"
    assert by_key["DAT401"].kind == "breakout"
    assert by_key["DAT401"].url == "https://www.youtube.com/watch?v=AuRoRa00003"
    assert by_key["DEV210"].title == "Introducing Amazon Widget Studio"  # [LAUNCH] and -R gone
    assert by_key["DEV210"].code == "DEV210"
    assert by_key["DAT220"].kind == "innovation"
    keynote = by_key["RiLeYcEo002"]
    assert keynote.kind == "keynote" and keynote.code is None and keynote.speakers == ("Riley Ceo",)


def test_catalogue_json(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("catalog-2031.json")
    by_key = {s.key: s for s in doc.sessions}
    assert set(by_key) == {"DAT401", "DEV210", "CMP310"}
    assert by_key["DAT401"].kind == "breakout"
    assert by_key["DAT401"].level == "400 – Expert"
    assert by_key["DAT401"].speakers == ("Jamie Blogger", "Sam Guest")
    assert by_key["DAT401"].event == "AWS re:Invent 2031"
    assert by_key["DEV210"].kind == "chalk-talk"
    assert by_key["CMP310"].kind == "workshop"


def test_csv(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("sessions.csv")
    assert len(doc.sessions) == 3  # the same code in two years is two sessions
    first = doc.sessions[0]
    assert (first.key, first.kind, first.event) == ("DAT401", "breakout", "AWS re:Invent 2031")
    assert doc.sessions[1].kind == "keynote"
    assert doc.sessions[2].event == "AWS re:Invent 2030" and doc.sessions[2].kind == "session"


def test_title_url_json_without_video_is_not_a_session() -> None:
    body = b'{"title": "Some blog post", "url": "https://example.org/post", "date": "2031-01-01"}'
    [doc] = extract(body, url="metadata.json")
    assert doc.sessions == ()


def test_large_csv_yields_every_row() -> None:
    header = "year,session_code,video_title,youtube_id,url,earliest_published_at,playlists\n"
    rows = [
        f"2031,ABC{i:03d},AWS re:Invent 2031 - Talk {i} (ABC{i:03d}),vid{i:08d},"
        f"https://www.youtube.com/watch?v=vid{i:08d},2031-12-0{i % 9 + 1},AWS re:Invent 2031\n"
        for i in range(4000)
    ]
    [doc] = extract(header + "".join(rows), url="big.csv")
    assert len(doc.sessions) == 4000
    assert {s.code for s in doc.sessions} == {f"ABC{i:03d}" for i in range(4000)}
