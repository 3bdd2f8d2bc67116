"""`tracker reextract`: every archived document re-extracted with the current rules, no network.

The documents are imported once, then deleted from disk, so anything found afterwards can
only come from the archive. A rule added to tracker/data/extract.toml must then show up in the
store, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tracker import pipeline
from tracker.cli import main
from tracker.config import Settings, load_settings, shipped_file
from tracker.store.db import close_stores, open_store, unit_of_work
from tracker.store.queries import query_announcements

REPO = Path(__file__).resolve().parent.parent

RECAP = """---
title: AWS re:Invent 2031
---

# Keynotes

## Pat Keynoter - CEO AWS

* Storage
    * Announcing **Amazon S3 Vault Locks** - objects nobody can delete
    * We are also Debuting **Amazon DynamoDB Time Capsules**, for long-lived snapshots, with a nod to the crowd
"""

WHATS_NEW = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Recent Announcements</title><link>https://aws.amazon.com/about-aws/whats-new/recent/</link>
<description>Launches</description>
<item>
<guid isPermaLink="false">a1b2c3</guid>
<title>AWS Lambda adds tiered warm pools</title>
<description>&lt;p&gt;AWS Lambda now keeps warm pools in tiers.&lt;/p&gt;</description>
<pubDate>Tue, 02 Dec 2031 18:00:00 GMT</pubDate>
<category>general:products/aws-lambda,marketing:marchitecture/compute</category>
<link>https://aws.amazon.com/about-aws/whats-new/2031/12/aws-lambda-tiered-warm-pools/</link>
</item>
</channel></rss>
"""

NEW_MARKER = """
[[announce.marker]]
name = "debuting"
pattern = '\\bDebuting'
position = "before"
"""


@pytest.fixture
def setup(tmp_path: Path, database_url: str) -> tuple[Settings, list[Path]]:
    config = tmp_path / "config"
    config.mkdir()
    for name in ("extract.toml", "services.toml"):
        shutil.copy(shipped_file(name), config / name)
    (config / "tracker.toml").write_text(
        f'database_url = "{database_url}"\noutput_dir = "{tmp_path / "feeds"}"\narchive_dir = "{tmp_path / "archive"}"\n'
    )
    (config / "sources.toml").write_text("")
    docs = tmp_path / "docs"
    docs.mkdir()
    recap = docs / "reinvent-2031.md"
    recap.write_text(RECAP)
    feed = docs / "whats-new.xml"
    feed.write_text(WHATS_NEW)
    yield load_settings(config), [recap, feed]
    close_stores()


def _titles(settings: Settings) -> dict[str, list[str]]:
    with unit_of_work(open_store(settings.database_url)) as session:
        return {r.title: [s.name for s in r.services] for r in query_announcements(session)}


def test_reextract_applies_a_new_rule_from_the_archive_alone(setup: tuple[Settings, list[Path]]) -> None:
    settings, files = setup
    report = pipeline.import_documents(settings, [str(f) for f in files])
    assert not report.failed
    before = _titles(settings)
    assert "Amazon S3 Vault Locks" in before and "AWS Lambda adds tiered warm pools" in before
    assert not any("Time Capsules" in t for t in before)

    for f in files:
        f.unlink()  # re-extraction must not read the sources again
    extract_toml = settings.config_dir / "extract.toml"
    text = extract_toml.read_text().replace('version = "1"', 'version = "2"', 1) + NEW_MARKER
    extract_toml.write_text(text)
    close_stores()
    settings = load_settings(settings.config_dir)

    code = main(["--config", str(settings.config_dir), "-q", "reextract"])
    assert code == 0
    after = _titles(settings)
    assert after.get("Amazon DynamoDB Time Capsules") == ["Amazon DynamoDB"]
    # Nothing was lost or duplicated: the earlier announcements are still there, once.
    assert set(before) <= set(after)
    assert len(after) == len(before) + 1
    assert (settings.output_dir / "all.atom").is_file()


def test_reextract_without_changes_changes_nothing(setup: tuple[Settings, list[Path]]) -> None:
    settings, files = setup
    pipeline.import_documents(settings, [str(f) for f in files])
    before = _titles(settings)

    report = pipeline.reextract(settings, do_publish=False)

    counts = report.counts
    assert counts["bodies"] == 2
    assert counts["documents_unchanged"] == counts["documents"] >= 2
    assert counts.get("announcements_created", 0) == 0 and counts.get("documents_failed", 0) == 0
    assert _titles(settings) == before


def test_reextract_counts_a_missing_archive_body(setup: tuple[Settings, list[Path]]) -> None:
    settings, files = setup
    pipeline.import_documents(settings, [str(files[0])])
    shutil.rmtree(settings.archive_dir)

    report = pipeline.reextract(settings, do_publish=False)

    assert report.counts["archive_missing"] == 1
    assert report.counts.get("documents", 0) == 0


def test_a_rules_change_rewrites_only_the_documents_it_changes(setup: tuple[Settings, list[Path]]) -> None:
    settings, files = setup
    pipeline.import_documents(settings, [str(f) for f in files])
    extract_toml = settings.config_dir / "extract.toml"
    extract_toml.write_text(extract_toml.read_text().replace('version = "1"', 'version = "2"', 1) + NEW_MARKER)
    close_stores()
    settings = load_settings(settings.config_dir)

    report = pipeline.reextract(settings, do_publish=False)

    counts = report.counts
    # The recap gains a launch and is stored again; the What's New item extracts as before.
    assert counts["documents_changed"] == 1
    assert counts["documents_unchanged"] == counts["documents"] - 1 >= 1
    assert counts["announcements_created"] == 1


def test_extraction_on_worker_processes_stores_the_same(
    setup: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracker.parallel

    settings, files = setup
    pipeline.import_documents(settings, [str(f) for f in files])
    extract_toml = settings.config_dir / "extract.toml"
    extract_toml.write_text(extract_toml.read_text() + NEW_MARKER)
    close_stores()
    settings = load_settings(settings.config_dir)
    monkeypatch.setattr(tracker.parallel, "MIN_PARALLEL", 1)
    monkeypatch.setattr(tracker.parallel, "AHEAD_PER_WORKER", 1)  # the refill path is taken too

    report = pipeline.reextract(settings, do_publish=False, workers=2)

    assert report.counts["bodies"] == 2 and report.counts["documents_changed"] == 1
    assert _titles(settings).get("Amazon DynamoDB Time Capsules") == ["Amazon DynamoDB"]


def test_workers_must_be_positive(setup: tuple[Settings, list[Path]], capsys: pytest.CaptureFixture[str]) -> None:
    settings, _files = setup
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(settings.config_dir), "reextract", "--workers", "0"])
    assert exc.value.code == 2
    assert "--workers: must be at least 1, not 0" in capsys.readouterr().err
