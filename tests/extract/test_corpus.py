"""The real corpus (../shared/corpus): everything extracts, launches are found, the seed scores 1.0."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tracker.extract import extract
from tracker.items import Document

SKIP_NAMES = {"SOURCES.md", "STRUCTURE.md"}


def _corpus_files(corpus: Path) -> list[Path]:
    return sorted(
        p
        for p in corpus.rglob("*")
        # external/ holds the locally kept documents of tests/gold/ext (see test_loso.py)
        if p.is_file()
        and p.relative_to(corpus).parts[0] != "external"
        and p.name not in SKIP_NAMES
        and not p.name.startswith("LICENSE")
        and "gold" not in p.parts
    )


def _extract(path: Path) -> list[Document]:
    return extract(path.read_bytes(), url=str(path))


@pytest.fixture(scope="module")
def extracted(corpus: Path) -> dict[str, list[Document]]:
    return {str(p.relative_to(corpus)): _extract(p) for p in _corpus_files(corpus)}


def _scorer(corpus: Path) -> ModuleType:
    path = corpus.parent / "tools" / "score_extraction.py"
    spec = importlib.util.spec_from_file_location("score_extraction", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prediction(doc: Document) -> dict:  # type: ignore[type-arg]
    url_of = {s.key: s.url or s.title for s in doc.sessions}
    return {
        "announcements": [
            {"title": a.title, "services": [], "sessions": [url_of[k] for k in a.sessions if k in url_of]}
            for a in doc.announcements
        ],
        "sessions": [{"title": s.title, "kind": s.kind, "url": s.url} for s in doc.sessions],
    }


def test_every_file_extracts(extracted: dict[str, list[Document]]) -> None:
    assert len(extracted) > 100
    for name, docs in extracted.items():
        assert isinstance(docs, list), name


def test_seed_recap_scores_perfectly(corpus: Path) -> None:
    import json

    [doc] = _extract(corpus / "recaps" / "2023-12-aws-reinvent-2023.md")
    gold = json.loads((corpus / "gold" / "2023-12-aws-reinvent-2023.json").read_text())
    result = _scorer(corpus).score(gold, _prediction(doc))
    assert result["announcement_f1"] == 1.0, result
    assert result["session_recall"] == 1.0, result
    assert doc.event == gold["event"]
    keynotes = {s.title: s for s in doc.sessions if s.kind == "keynote"}
    for g in gold["sessions"]:
        if g["kind"] == "keynote":
            assert keynotes[g["title"]].speakers == (g["speaker"],)


def test_published_recap_is_a_superset_of_the_seed(extracted: dict[str, list[Document]]) -> None:
    [seed] = extracted["recaps/2023-12-aws-reinvent-2023.md"]
    [full] = extracted["candid-startup-recaps/2023-12-11-aws-reinvent-2023.md"]
    assert {a.title for a in seed.announcements} <= {a.title for a in full.announcements}
    assert {s.key for s in seed.sessions} <= {s.key for s in full.sessions}


def _keynote_recaps(extracted: dict[str, list[Document]], corpus: Path) -> list[tuple[Path, Document]]:
    out = []
    for name, docs in extracted.items():
        if name.startswith("other-recaps/abhishek-pradhan-keynotes/"):
            out.append((corpus / name, docs[0]))
    assert len(out) >= 4
    return out


def test_keynote_recaps_new_bold_launches(extracted: dict[str, list[Document]], corpus: Path) -> None:
    markers = re.compile(r"(?i)\b(?:new|announc\w*|introduc\w*|launch\w*|preview|unveil\w*)\b")
    for path, doc in _keynote_recaps(extracted, corpus):
        titles = {a.title for a in doc.announcements}
        expected: set[str] = set()
        forbidden: set[str] = set()
        for line in path.read_text().splitlines():
            if line.lstrip().startswith(">"):
                continue  # the post's own legend ("preceded by New & **bold**")
            for m in re.finditer(r"\*\*(.+?)\*\*", line):
                name = m.group(1).strip().rstrip(":").strip()
                before = line[: m.start()]
                if re.search(r"(?:^|\s)New\s+(?:\S+\s+){0,1}$", before):
                    expected.add(name)
                elif not markers.search(before):
                    forbidden.add(name)
        assert expected, path.name
        assert expected <= titles, (path.name, expected - titles)
        assert not (forbidden & titles), (path.name, forbidden & titles)
        assert "bold" not in titles


def test_keynote_recaps_have_one_keynote_session(extracted: dict[str, list[Document]], corpus: Path) -> None:
    for path, doc in _keynote_recaps(extracted, corpus):
        [session] = doc.sessions
        assert session.kind == "keynote", path.name
        assert session.url and session.url.startswith("https://www.youtube.com/watch?v=")
        assert "&t=" not in session.url
        assert session.speakers, path.name
        assert all(a.sessions == (session.key,) for a in doc.announcements)
        assert doc.event and doc.event.startswith("AWS re:Invent 20")


def test_link_list_recap_one_announcement_per_emoji_bullet(extracted: dict[str, list[Document]], corpus: Path) -> None:
    name = "other-recaps/zoph-awscon-onepager/reinvent-2021.md"
    lines = (corpus / name).read_text().splitlines()
    launch_lines = [line for line in lines if re.match(r"^\s*[-*]\s*[🚀🍫🌊]\s*\[", line)]
    [doc] = extracted[name]
    assert len(doc.announcements) == len(launch_lines)
    previews = [line for line in launch_lines if "🌊" in line]
    assert sum(a.status == "preview" for a in doc.announcements) >= len(previews)
    assert all(a.url for a in doc.announcements)
    assert doc.event == "AWS re:Invent 2021"


def test_whats_new_feeds(extracted: dict[str, list[Document]]) -> None:
    for name in ("whats-new/whats-new-feed-2016-07-21.xml", "whats-new/whats-new-feed-2025-02-22.xml"):
        docs = extracted[name]
        assert len(docs) >= 25
        for doc in docs:
            [ann] = doc.announcements
            assert doc.kind == "whats-new"
            assert "\n" not in ann.title and ann.title == ann.title.strip()
            assert ann.url and ann.url.startswith("https://aws.amazon.com/") and " " not in ann.url
            assert ann.published_at is not None and ann.published_at.utcoffset() is not None
            assert all(t.startswith("general:products/") for t in ann.service_tags)
            assert "&nbsp;" not in ann.summary and "<p>" not in ann.summary
    assert any(len(d.announcements[0].service_tags) > 1 for d in extracted["whats-new/whats-new-feed-2025-02-22.xml"])


def test_whats_new_listing_page(extracted: dict[str, list[Document]]) -> None:
    docs = extracted["whats-new/whats-new-page-2019-12.html"]
    assert len(docs) == 100
    assert all(d.kind == "whats-new" and d.published_at and d.published_at.year == 2019 for d in docs)
    assert all(d.announcements[0].summary for d in docs)


def test_news_blog_posts(extracted: dict[str, list[Document]]) -> None:
    posts = {n: d[0] for n, d in extracted.items() if n.startswith("aws-news-blog/") and n.endswith(".md")}
    assert len(posts) >= 20
    for name, doc in posts.items():
        assert doc.kind == "post", name
        assert doc.title and doc.published_at, name
        if re.search(r"(?i)heroes|gartner", doc.title):
            assert doc.announcements == (), name
        elif "Launch" in doc.categories:
            assert doc.announcements, name
            if not re.search(r"(?i)roundup|top announcements", doc.title):
                assert doc.announcements[0].title == doc.title
                assert doc.announcements[0].url == doc.url
                assert not {"Launch", "News", "Announcements", "Featured"} & set(doc.announcements[0].service_tags)


def test_news_blog_roundups(extracted: dict[str, list[Document]]) -> None:
    roundups = [
        d[0]
        for n, d in extracted.items()
        if n.startswith("aws-news-blog/real/walkley") and re.search(r"roundup|top_announcements", n)
    ]
    assert len(roundups) == 3
    for doc in roundups:
        assert len(doc.announcements) >= 5
        assert all(a.rule.startswith("roundup") for a in doc.announcements)
        assert doc.title not in {a.title for a in doc.announcements}
        assert all(a.url and "aws.amazon.com" in a.url for a in doc.announcements if a.rule == "roundup:link")
    bundled = [a for doc in roundups for a in doc.announcements if a.service_tags]
    assert bundled and all(t.startswith(("Amazon", "AWS")) for a in bundled for t in a.service_tags)


def test_news_blog_2021_bodies(extracted: dict[str, list[Document]]) -> None:
    pages = {n: d[0] for n, d in extracted.items() if n.endswith("index.html")}
    assert len(pages) == 7
    launches = [d for d in pages.values() if d.announcements]
    assert len(launches) >= 4
    for doc in pages.values():
        assert doc.url.startswith("https://aws.amazon.com/blogs/aws/")
        if re.search(r"(?i)named as|leader", doc.title):
            assert doc.announcements == ()


def test_session_listings(extracted: dict[str, list[Document]]) -> None:
    [csv_doc] = extracted["sessions/reinvent-youtube-sessions.csv"]
    assert len(csv_doc.sessions) >= 3000
    assert all(re.fullmatch(r"[A-Z]{2,5}\d{2,4}", s.code) for s in csv_doc.sessions if s.code)
    assert all(s.url and s.url.startswith("https://www.youtube.com/watch?v=") for s in csv_doc.sessions)
    assert {"keynote", "breakout", "innovation"} <= {s.kind for s in csv_doc.sessions}
    [catalogue] = extracted["sessions/reinvent-2025-catalog-manu-mishra.json"]
    assert len(catalogue.sessions) >= 1800
    assert {"breakout", "chalk-talk", "workshop"} <= {s.kind for s in catalogue.sessions}
    assert any(s.level and "–" in s.level for s in catalogue.sessions)
    assert any(s.speakers for s in catalogue.sessions)
    assert {s.event for s in catalogue.sessions} == {"AWS re:Invent 2025"}
    [videos] = extracted["sessions/daschaa-reinvent-2023-videos.json"]
    assert len(videos.sessions) >= 850 and videos.event == "AWS re:Invent 2023"
    playlists = [d[0] for n, d in extracted.items() if n.startswith("sessions/gmarchand-playlists/")]
    assert all(d.kind == "session-listing" and d.sessions for d in playlists)
    breakouts = [d for d in playlists if "Breakout" in d.title]
    assert breakouts and all(s.kind == "breakout" for d in breakouts for s in d.sessions if s.kind != "keynote")
