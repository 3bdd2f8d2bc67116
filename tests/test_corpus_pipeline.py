"""The whole pipeline on the real documents in ../shared/corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest

from tracker.config import load_settings
from tracker.pipeline import import_documents

REPO = Path(__file__).resolve().parent.parent
NOT_DOCUMENTS = {"SOURCES.md", "STRUCTURE.md"}
RECAP = Path("recaps") / "2023-12-aws-reinvent-2023.md"
SCORER = REPO.parent / "shared" / "tools" / "score_extraction.py"


def corpus_documents(corpus: Path) -> list[Path]:
    """Every document of the corpus: not its notes, licences or answer keys."""
    return sorted(
        p
        for p in corpus.rglob("*")
        # external/ holds the locally kept documents of tests/gold/ext (see test_loso.py)
        if p.is_file()
        and p.relative_to(corpus).parts[0] != "external"
        and p.name not in NOT_DOCUMENTS
        and not p.name.startswith("LICENSE")
        and "gold" not in p.relative_to(corpus).parts
    )


def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(
        TRACKER_DATABASE_URL=database_url,
        TRACKER_OUTPUT_DIR=str(tmp_path / "feeds"),
        TRACKER_ARCHIVE_DIR=str(tmp_path / "archive"),
    )
    return env


def tracker(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tracker", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"tracker {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.mark.corpus
def test_every_corpus_document_is_ingested(corpus: Path, database_url: str, tmp_path: Path) -> None:
    documents = corpus_documents(corpus)
    assert len(documents) > 100
    settings = load_settings(environ=cli_env(tmp_path, database_url))

    report = import_documents(settings, [str(p) for p in documents])

    failed = {o.name: f"{o.error_kind}: {o.error}" for o in report.failed}
    assert not failed
    assert report.counts["documents_failed"] == 0
    assert len(report.outcomes) == len(documents)
    assert report.counts["announcements_created"] > 300
    assert report.counts["sessions"] > 1000
    # What was published from all of it is read back by a feed parser without complaint.
    assert report.published is not None and report.published.written
    for name in ("all.atom", "all.rss"):
        parsed = feedparser.parse((tmp_path / "feeds" / name).read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.entries


@pytest.mark.corpus
def test_recap_extraction_meets_its_answer_key(corpus: Path, tmp_path: Path) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    predicted = tmp_path / "predicted.json"
    predicted.write_text(tracker(env, tmp_path, "extract", str(corpus / RECAP), "--format", "json"))
    gold = corpus / "gold" / "2023-12-aws-reinvent-2023.json"
    done = subprocess.run(
        [sys.executable, str(SCORER), str(gold), str(predicted)], capture_output=True, text=True, timeout=120
    )
    figures = dict(
        line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line and not line.startswith("ok")
    )
    assert float(figures["announcement_f1"]) == 1.0, done.stdout
    assert float(figures["service_accuracy"]) >= 0.9, done.stdout
    assert float(figures["link_f1"]) >= 0.9, done.stdout


@pytest.mark.corpus
def test_imported_recap_answers_a_service_query(corpus: Path, database_url: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path, database_url)
    tracker(env, tmp_path, "import", str(corpus / RECAP))

    rows = json.loads(tracker(env, tmp_path, "announcements", "--service", "Amazon S3", "--format", "json"))
    [express] = [r for r in rows if "Express One Zone" in r["title"]]
    assert "Amazon S3" in express["services"]
    keynotes = [s for s in express["sessions"] if s["kind"] == "keynote"]
    assert keynotes and all(s["url"] and "youtube.com" in s["url"] for s in keynotes)
    # The same query in a table, as a person reads it.
    table = tracker(env, tmp_path, "announcements", "--service", "S3")
    assert "Express One Zone" in table
